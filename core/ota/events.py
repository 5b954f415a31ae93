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
from ..node_ids import Peer, hold_peers
from .policy import ArmedKnob
from .types import ApplyUpdateAction, DownloadProtocol, QueryImageStatus

__all__ = [
    "ApplyUpdateAnswered",
    "ApplyUpdateIgnored",
    "ApplyUpdateReceived",
    "ApplyUpdateRefused",
    "FaultInjected",
    "ImagesChanged",
    "NotifyUpdateRefused",
    "OtaEvent",
    "QueryImageAnswered",
    "QueryImageIgnored",
    "QueryImageReceived",
    "UpdateAppliedNotified",
]


@dataclass(frozen=True)
class OtaEvent(EngineEvent):
    """One step with a requestor. ``history`` names the history category it is recorded under
    (None: not recorded, as the request itself is recorded with its answer)."""

    history: ClassVar[str | None] = None
    peer: Peer

    def __post_init__(self) -> None:
        hold_peers(self, "peer")

    def fields(self) -> dict[str, Any]:
        return {**peer_fields(self.peer), **self.details()}

    def details(self) -> dict[str, Any]:
        """The step's own fields, without the requestor's address (the history's details column)."""
        return dataclass_fields(self, skip=("peer",))


@dataclass(frozen=True)
class QueryImageReceived(OtaEvent):
    name = "QueryImage"
    vendor_id: int
    product_id: int
    software_version: int
    protocols_supported: tuple[DownloadProtocol | int, ...]
    hardware_version: int | None = None
    location: str | None = None
    requestor_can_consent: bool | None = None
    metadata_for_provider: bytes | None = None


@dataclass(frozen=True)
class QueryImageAnswered(OtaEvent):
    """The QueryImageResponse sent, with why (``reason``) and the armed knobs it used."""

    name = "QueryImageResponse"
    history = "query"
    status: QueryImageStatus
    reason: str = ""
    used: tuple[ArmedKnob, ...] = ()
    delayed_action_time: int | None = None
    image_uri: str | None = None
    software_version: int | None = None
    software_version_string: str | None = None
    update_token: bytes | None = None
    user_consent_needed: bool | None = None


@dataclass(frozen=True)
class QueryImageIgnored(OtaEvent):
    name = "QueryImageIgnored"
    history = "query"
    used: tuple[ArmedKnob, ...] = ()


@dataclass(frozen=True)
class ApplyUpdateReceived(OtaEvent):
    name = "ApplyUpdateRequest"
    update_token: bytes
    new_version: int


@dataclass(frozen=True)
class ApplyUpdateAnswered(OtaEvent):
    name = "ApplyUpdateResponse"
    history = "apply"
    action: ApplyUpdateAction
    delayed_action_time: int
    used: tuple[ArmedKnob, ...] = ()


@dataclass(frozen=True)
class ApplyUpdateIgnored(OtaEvent):
    name = "ApplyUpdateIgnored"
    history = "apply"
    used: tuple[ArmedKnob, ...] = ()


@dataclass(frozen=True)
class ApplyUpdateRefused(OtaEvent):
    """An ApplyUpdateRequest with an UpdateToken this provider never gave that requestor."""

    name = "ApplyUpdateRefused"
    history = "apply"
    update_token: bytes
    new_version: int
    reason: str


@dataclass(frozen=True)
class UpdateAppliedNotified(OtaEvent):
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


@dataclass(frozen=True)
class NotifyUpdateRefused(OtaEvent):
    name = "NotifyUpdateAppliedRefused"
    history = "notify"
    update_token: bytes
    software_version: int
    reason: str


@dataclass(frozen=True)
class FaultInjected(OtaEvent):
    """An armed fault knob acted on one Block of a transfer."""

    name = "FaultInjected"
    transfer: int
    block: int
    used: tuple[ArmedKnob, ...] = ()


@dataclass(frozen=True)
class ImagesChanged(EngineEvent):
    """The image files changed on disk and the catalog was loaded again (the next query uses it)."""

    name = "ImagesChanged"
    source: str
    count: int

    def fields(self) -> dict[str, Any]:
        return {"source": self.source, "count": self.count}
