"""What a front end asks of the engine: immutable values, each with an id; the engine answers every
command with exactly one :class:`~ota_provider.core.api.events.CommandDone` carrying that id (done, or
refused with the reason). The same classes go over the control socket as JSON."""

from __future__ import annotations

import enum
import itertools
import secrets
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..codec.status_report import BdxStatus
from ..node_ids import Peer, hold_peers
from ..ota.policy import Knob

__all__ = [
    "APP_PIPE_QUERIES",
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
    "QueryAppPipe",
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


# Ranges a command's values must lie in, checked when the command is made (on the wire, or by a
# front end), so the engine never meets a value it cannot act on.
WINDOW_SECONDS = (180, 900)  # a commissioning window (Core spec 11.19.8.1: 3 to 15 minutes)
NODE_ID = (1, 0xFFFF_FFEF_FFFF_FFFF)  # an operational node id (Core spec 2.5.5.1)
FABRIC_INDEX = (1, 254)
TRANSFER_ID = (1, 2**63 - 1)
HISTORY_LIMIT = (1, 1_000_000)  # rows: an export asks for all the history keeps
SECONDS_PER_BLOCK = (0.0, 3600.0)


def _check_range(what: str, value: float, bounds: tuple[float, float]) -> None:
    low, high = bounds
    if not low <= value <= high:
        raise ValueError(
            f"{what} is {value!r}: it must be from {low:g} to {high:g}"
            if abs(value) < 1e15
            else f"{what} must be from {low:g} to {high:g}"
        )


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
    unseen: bool = False  # a target this provider has never heard from is armed anyway (else refused)

    def __post_init__(self) -> None:
        hold_peers(self, "target")


@dataclass(frozen=True)
class ArmKnobs(Command):
    """Several knobs for one response: armed together, or none if any value is refused."""

    knobs: tuple[tuple[Knob, Any], ...]
    sticky: bool = False
    target: Peer | None = None
    unseen: bool = False  # a target this provider has never heard from is armed anyway (else refused)

    def __post_init__(self) -> None:
        hold_peers(self, "target")


@dataclass(frozen=True)
class DisarmKnob(Command):
    knob: Knob
    target: Peer | None = None

    def __post_init__(self) -> None:
        hold_peers(self, "target")


@dataclass(frozen=True)
class ClearKnobs(Command):
    """Disarm every knob."""


@dataclass(frozen=True)
class PauseTransfer(Command):
    transfer_id: int

    def __post_init__(self) -> None:
        _check_range("transfer_id", self.transfer_id, TRANSFER_ID)


@dataclass(frozen=True)
class ResumeTransfer(Command):
    transfer_id: int

    def __post_init__(self) -> None:
        _check_range("transfer_id", self.transfer_id, TRANSFER_ID)


@dataclass(frozen=True)
class ThrottleTransfer(Command):
    transfer_id: int
    seconds_per_block: float | None  # None: back to the provider's pacing

    def __post_init__(self) -> None:
        _check_range("transfer_id", self.transfer_id, TRANSFER_ID)
        if self.seconds_per_block is not None:
            _check_range("seconds_per_block", self.seconds_per_block, SECONDS_PER_BLOCK)


@dataclass(frozen=True)
class AbortTransfer(Command):
    transfer_id: int
    status: BdxStatus = BdxStatus.TRANSFER_FAILED_UNKNOWN_ERROR

    def __post_init__(self) -> None:
        _check_range("transfer_id", self.transfer_id, TRANSFER_ID)


@dataclass(frozen=True)
class OpenCommissioningWindow(Command):
    seconds: int = 900

    def __post_init__(self) -> None:
        _check_range("seconds", self.seconds, WINDOW_SECONDS)


@dataclass(frozen=True)
class CommissionDevice(Command):
    """Commission a device onto the bench fabric: CODE[@HOST[:PORT]]. ``ask``: a failed attestation
    is put to the user (an AttestationQuestion event) instead of refused. ``ble``: the BLE address of
    the device picked from a BleCommissionableDevices list, given the kept ``network`` by name."""

    target: str
    ask: bool = False
    ble: str = ""
    network: str = ""


class DeviceActionKind(enum.Enum):
    READ = "read"  # the words of the engine's answer ("device ...: read started")
    ANNOUNCE = "announce"
    FORGET = "forget"


@dataclass(frozen=True)
class DeviceAction(Command):
    """On a device of the bench fabric: read it again, announce (update now), or forget it."""

    VERSION = 2  # 2: ``action`` by member name (READ, ANNOUNCE, FORGET)
    node_id: int
    action: DeviceActionKind

    def __post_init__(self) -> None:
        _check_range("node_id", self.node_id, NODE_ID)


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

    def __post_init__(self) -> None:
        _check_range("fabric_index", self.fabric_index, FABRIC_INDEX)


@dataclass(frozen=True)
class ReloadImages(Command):
    """Load the image files again (the next query uses the new catalog)."""


APP_PIPE_QUERIES = ("QueryImageSnapshot", "GetApplyUpdateRequestStatus", "GetBDXOffset")


@dataclass(frozen=True)
class QueryAppPipe(Command):
    """What the SDK app's out-of-band pipe would answer to ``name`` (one of APP_PIPE_QUERIES),
    answered with an AppPipeReport event: the same three queries for our own scripts."""

    name: str

    def __post_init__(self) -> None:
        if self.name not in APP_PIPE_QUERIES:
            raise ValueError(f"name is one of {', '.join(APP_PIPE_QUERIES)}, not {self.name!r}")


@dataclass(frozen=True)
class QueryHistory(Command):
    """The last rows of the update history (of one node, or all), read on the engine's side and
    answered with a HistoryRows event, so no front end reads the database on its own thread."""

    limit: int = 500
    node_id: int | None = None

    def __post_init__(self) -> None:
        _check_range("limit", self.limit, HISTORY_LIMIT)
        if self.node_id is not None:
            _check_range("node_id", self.node_id, NODE_ID)


@dataclass(frozen=True)
class StartTrace(Command):
    """Write every Matter message in and out to a new file ``path`` in the provider's trace folder
    (a file name; JSON lines, owner-only), until StopTrace."""

    path: str


@dataclass(frozen=True)
class StopTrace(Command):
    """Close the trace file."""


COMMANDS: dict[str, type[Command]] = {cls.__name__: cls for cls in Command.__subclasses__()}
