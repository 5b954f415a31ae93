"""What a front end asks of the engine: immutable values, each with an id; the engine answers every
command with exactly one :class:`~ota_provider.core.events.CommandDone` carrying that id (done, or
refused with the reason). The same classes go over the control socket as JSON."""

from __future__ import annotations

import itertools
import secrets
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..codec.status_report import BdxStatus
from ..ota.policy import Knob, Peer

__all__ = [
    "COMMANDS",
    "AbortTransfer",
    "AnswerAttestation",
    "ArmKnob",
    "ArmKnobs",
    "BrowseCommissionable",
    "ClearKnobs",
    "Command",
    "CommissionDevice",
    "DeviceAction",
    "DisarmKnob",
    "OpenCommissioningWindow",
    "PauseTransfer",
    "QueryHistory",
    "ReloadImages",
    "RemoveFabric",
    "ResumeTransfer",
    "StartTrace",
    "StopTrace",
    "ThrottleTransfer",
]

_ids = itertools.count(1)
_PREFIX = secrets.token_hex(4)  # per process: two clients' ids never meet on one provider


def _new_id() -> str:
    """Unique to this process; a client may choose its own ids."""
    return f"{_PREFIX}-{next(_ids)}"


@dataclass(frozen=True)
class Command:
    VERSION: ClassVar[int] = 1  # of this command's fields, checked on the wire
    id: str = field(default_factory=_new_id, kw_only=True)


@dataclass(frozen=True)
class ArmKnob(Command):
    knob: Knob
    value: Any
    sticky: bool = False
    target: Peer | None = None


@dataclass(frozen=True)
class ArmKnobs(Command):
    """Several knobs for one response: armed together, or none if any value is refused."""

    knobs: tuple[tuple[Knob, Any], ...]
    sticky: bool = False
    target: Peer | None = None


@dataclass(frozen=True)
class DisarmKnob(Command):
    knob: Knob
    target: Peer | None = None


@dataclass(frozen=True)
class ClearKnobs(Command):
    """Disarm every knob."""


@dataclass(frozen=True)
class PauseTransfer(Command):
    transfer_id: int


@dataclass(frozen=True)
class ResumeTransfer(Command):
    transfer_id: int


@dataclass(frozen=True)
class ThrottleTransfer(Command):
    transfer_id: int
    seconds_per_block: float | None  # None: back to the provider's pacing


@dataclass(frozen=True)
class AbortTransfer(Command):
    transfer_id: int
    status: BdxStatus = BdxStatus.TRANSFER_FAILED_UNKNOWN_ERROR


@dataclass(frozen=True)
class OpenCommissioningWindow(Command):
    seconds: int = 900


@dataclass(frozen=True)
class CommissionDevice(Command):
    """Commission a device onto the bench fabric: CODE[@HOST[:PORT]]. ``ask``: a failed attestation
    is put to the user (an AttestationQuestion event) instead of refused."""

    target: str
    ask: bool = False


@dataclass(frozen=True)
class DeviceAction(Command):
    """On a device of the bench fabric: "read" it again, "announce" (update now), or "forget" it."""

    node_id: int
    action: str


@dataclass(frozen=True)
class BrowseCommissionable(Command):
    """Keep a live list of commissionable devices (CommissionableDevices events) while ``active``."""

    active: bool


@dataclass(frozen=True)
class AnswerAttestation(Command):
    target: str
    accept: bool


@dataclass(frozen=True)
class RemoveFabric(Command):
    fabric_index: int


@dataclass(frozen=True)
class ReloadImages(Command):
    """Load the image files again (the next query uses the new catalog)."""


@dataclass(frozen=True)
class QueryHistory(Command):
    """The last rows of the update history (of one node, or all), read on the engine's side and
    answered with a HistoryRows event, so no front end reads the database on its own thread."""

    limit: int = 500
    node_id: int | None = None


@dataclass(frozen=True)
class StartTrace(Command):
    """Write every Matter message in and out to ``path`` (JSON lines, owner-only), until StopTrace."""

    path: str


@dataclass(frozen=True)
class StopTrace(Command):
    """Close the trace file."""


COMMANDS: dict[str, type[Command]] = {cls.__name__: cls for cls in Command.__subclasses__()}
