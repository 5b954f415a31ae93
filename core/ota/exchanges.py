"""What the OTA provider tells the engine, one typed value per step of the OTA exchanges
(QueryImage, ApplyUpdateRequest, NotifyUpdateApplied, an injected BDX fault) and per reload of the
image files. Field names follow the cluster's (Core spec 11.20.6.5), so the JSON lines read
``vendorId``, ``softwareVersionString``; enums travel by member name and tokens in hex.

These are the engine's events themselves: the provider makes them, the engine numbers and
publishes them, and every front end (headless lines, the dashboard, the control socket) reads the
same fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from ..event_base import EngineEvent, dataclass_fields, peer_fields
from ..wording import plural, spec_name, who, yes_no
from .types import ApplyUpdateAction, DownloadProtocol, QueryImageStatus

__all__ = [
    "ApplyUpdateAnswered",
    "ApplyUpdateIgnored",
    "ApplyUpdateReceived",
    "ApplyUpdateRefused",
    "FaultInjected",
    "ImagesChanged",
    "NotifyUpdateApplied",
    "NotifyUpdateRefused",
    "OtaExchange",
    "QueryImageAnswered",
    "QueryImageIgnored",
    "QueryImageReceived",
]

Peer = tuple[int, int]


@dataclass(frozen=True)
class OtaExchange(EngineEvent):
    """One step with a requestor. ``history`` names the history category it is recorded under
    (None: not recorded, as the request itself is recorded with its answer)."""

    history: ClassVar[str | None] = None
    peer: Peer

    def fields(self) -> dict[str, Any]:
        return {**peer_fields(self.peer), **self.details()}

    def details(self) -> dict[str, Any]:
        """The step's own fields, without the requestor's address (the history's details column)."""
        return dataclass_fields(self, skip=("peer",))

    def _armed(self) -> str:
        used: tuple[str, ...] = getattr(self, "used", ())
        return f"  [armed: {'; '.join(used)}]" if used else ""


@dataclass(frozen=True)
class QueryImageReceived(OtaExchange):
    name = "QueryImage"
    vendor_id: int
    product_id: int
    software_version: int
    protocols_supported: tuple[DownloadProtocol | int, ...]
    hardware_version: int | None = None
    location: str | None = None
    requestor_can_consent: bool | None = None
    metadata_for_provider: bytes | None = None

    def text(self) -> str:
        hardware = f" hw {self.hardware_version}" if self.hardware_version is not None else ""
        return (f"{who(self.peer)}: QueryImage VID 0x{self.vendor_id:04X} PID 0x{self.product_id:04X} version "
                f"{self.software_version}{hardware}, protocols {', '.join(map(spec_name, self.protocols_supported))}, "
                f"can consent: {yes_no(bool(self.requestor_can_consent))}")  # fmt: skip


@dataclass(frozen=True)
class QueryImageAnswered(OtaExchange):
    """The QueryImageResponse sent, with why (``reason``) and the armed knobs it used."""

    name = "QueryImageResponse"
    history = "query"
    status: QueryImageStatus
    reason: str = ""
    used: tuple[str, ...] = ()
    delayed_action_time: int | None = None
    image_uri: str | None = None
    software_version: int | None = None
    software_version_string: str | None = None
    update_token: bytes | None = None
    user_consent_needed: bool | None = None

    def text(self) -> str:
        if self.status == QueryImageStatus.UPDATE_AVAILABLE:
            detail = f"version {self.software_version} ({self.software_version_string}) at {self.image_uri}"
        elif self.status == QueryImageStatus.BUSY:
            detail = f"retry in {self.delayed_action_time} s"
        else:
            detail = self.reason
        consent = ", user consent needed" if self.user_consent_needed else ""
        return f"{who(self.peer)}: -> {spec_name(self.status)}: {detail}{consent}{self._armed()}"

    def summary(self) -> str:
        version = f" v{self.software_version}" if self.software_version else ""
        return spec_name(self.status) + version


@dataclass(frozen=True)
class QueryImageIgnored(OtaExchange):
    name = "QueryImageIgnored"
    history = "query"
    used: tuple[str, ...] = ()

    def text(self) -> str:
        return f"{who(self.peer)}: QueryImage left unanswered{self._armed()}"


@dataclass(frozen=True)
class ApplyUpdateReceived(OtaExchange):
    name = "ApplyUpdateRequest"
    update_token: bytes
    new_version: int

    def text(self) -> str:
        return f"{who(self.peer)}: ApplyUpdateRequest for version {self.new_version}"


@dataclass(frozen=True)
class ApplyUpdateAnswered(OtaExchange):
    name = "ApplyUpdateResponse"
    history = "apply"
    action: ApplyUpdateAction
    delayed_action_time: int
    used: tuple[str, ...] = ()

    def text(self) -> str:
        return f"{who(self.peer)}: -> {spec_name(self.action)}, delay {self.delayed_action_time} s{self._armed()}"

    def summary(self) -> str:
        return f"{spec_name(self.action)} delay {self.delayed_action_time} s"


@dataclass(frozen=True)
class ApplyUpdateIgnored(OtaExchange):
    name = "ApplyUpdateIgnored"
    history = "apply"
    used: tuple[str, ...] = ()

    def text(self) -> str:
        return f"{who(self.peer)}: ApplyUpdateRequest left unanswered{self._armed()}"


@dataclass(frozen=True)
class ApplyUpdateRefused(OtaExchange):
    """An ApplyUpdateRequest with an UpdateToken this provider never gave that requestor."""

    name = "ApplyUpdateRefused"
    history = "apply"
    update_token: bytes
    new_version: int
    reason: str

    def text(self) -> str:
        return f"{who(self.peer)}: ApplyUpdateRequest refused: {self.reason}"


@dataclass(frozen=True)
class NotifyUpdateApplied(OtaExchange):
    name = "NotifyUpdateApplied"
    history = "notify"
    update_token: bytes
    software_version: int
    promised_version: int  # the version this token's offer named

    @property
    def as_promised(self) -> bool:
        return self.software_version == self.promised_version

    def details(self) -> dict[str, Any]:
        return {**super().details(), "asPromised": self.as_promised}

    def text(self) -> str:
        promise = "" if self.as_promised else f" (offered version {self.promised_version})"
        return f"{who(self.peer)}: NotifyUpdateApplied: now running version {self.software_version}{promise}"

    def summary(self) -> str:
        return f"now on version {self.software_version}"


@dataclass(frozen=True)
class NotifyUpdateRefused(OtaExchange):
    name = "NotifyUpdateAppliedRefused"
    history = "notify"
    update_token: bytes
    software_version: int
    reason: str

    def text(self) -> str:
        return f"{who(self.peer)}: NotifyUpdateApplied refused: {self.reason}"


@dataclass(frozen=True)
class FaultInjected(OtaExchange):
    """An armed fault knob acted on one Block of a transfer."""

    name = "FaultInjected"
    transfer: int
    block: int
    used: tuple[str, ...] = ()

    def text(self) -> str:
        return f"{who(self.peer)}: BDX transfer #{self.transfer} block {self.block}: fault injected{self._armed()}"


@dataclass(frozen=True)
class ImagesChanged(EngineEvent):
    """The image files changed on disk and the catalog was loaded again (the next query uses it)."""

    name = "ImagesChanged"
    source: str
    count: int

    def text(self) -> str:
        return f"images reloaded from {self.source}: {plural(self.count, 'image')}"

    def fields(self) -> dict[str, Any]:
        return {"source": self.source, "count": self.count}
