"""What the engine tells its front ends: typed, immutable events, each with a one-line text and
the fields for a JSON line. The headless output and the dashboard show the same events."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from ..bdx.outcome import TransferEnd
from ..dcl.events import (
    LedgerDownload,
    LedgerImageDownloading,
    LedgerImageReady,
    LedgerImageRefused,
    LedgerLookedUp,
    LedgerReachable,
    LedgerRootsLoaded,
    LedgerUnreachable,
)
from ..dnssd.devices import CommissionableDevice
from ..event_base import EngineError, EngineEvent
from ..node_ids import Peer, hold_peers
from ..ota.events import (
    ApplyUpdateAnswered,
    ApplyUpdateIgnored,
    ApplyUpdateReceived,
    ApplyUpdateRefused,
    FaultInjected,
    ImagesChanged,
    NotifyUpdateRefused,
    OtaEvent,
    QueryImageAnswered,
    QueryImageIgnored,
    QueryImageReceived,
    UpdateAppliedNotified,
)
from ..ota.history import HistoryRow
from ..ota.policy import ArmedKnob
from ..ota.types import UpdateState
from .values import BleCommissionable, NetworkChoice

__all__ = [
    "AppPipeAnswered",
    "AppPipeReport",
    "ApplyUpdateAnswered",
    "ApplyUpdateIgnored",
    "ApplyUpdateReceived",
    "ApplyUpdateRefused",
    "AttestationQuestion",
    "BleCommissionableDevices",
    "CommandDone",
    "CommissionableDevices",
    "CommissioningFailed",
    "CommissioningRolledBack",
    "CommissioningStage",
    "DemoFabricJoined",
    "DeviceCommissioned",
    "DeviceEvent",
    "DeviceMismatch",
    "DeviceState",
    "DeviceStep",
    "DeviceStepKind",
    "EngineError",
    "EngineEvent",
    "EngineSnapshot",
    "FabricSummary",
    "FabricsChanged",
    "FaultInjected",
    "HistoryRows",
    "ImageSummary",
    "ImagesChanged",
    "LedgerDownload",
    "LedgerImageDownloading",
    "LedgerImageReady",
    "LedgerImageRefused",
    "LedgerLookedUp",
    "LedgerReachable",
    "LedgerRootsLoaded",
    "LedgerUnreachable",
    "Listening",
    "NotifyUpdateRefused",
    "OtaEvent",
    "QueryImageAnswered",
    "QueryImageIgnored",
    "QueryImageReceived",
    "RequestorSeen",
    "SessionEstablished",
    "StepState",
    "Stopped",
    "TransferEvent",
    "TransferFailed",
    "TransferFinished",
    "TransferResumed",
    "TransferSnapshot",
    "TransferStarted",
    "UpdateAppliedNotified",
]


@dataclass(frozen=True)
class RequestorSeen(EngineEvent):
    """The first QueryImage from a requestor since the engine started."""

    name = "RequestorSeen"
    peer: Peer
    vendor_id: int
    product_id: int
    software_version: int

    def __post_init__(self) -> None:
        hold_peers(self, "peer")

    def fields(self) -> dict[str, Any]:
        return {
            "fabricIndex": self.peer.fabric_index,
            "nodeId": self.peer.node_id,
            "vendorId": self.vendor_id,
            "productId": self.product_id,
            "softwareVersion": self.software_version,
        }


# ---------------------------------------------------------------------- transfers


@dataclass(frozen=True)
class TransferSnapshot:
    id: int
    peer: Peer
    designator: str
    block_size: int
    bytes_sent: int
    total: int
    blocks: int
    seconds: float
    end: TransferEnd  # how it ended (Outcome.RUNNING while it runs)
    paused: bool
    throttle: float | None = None  # seconds per block set by the operator
    retransmissions: int = 0  # our Blocks (or ReceiveAccept, BlockEOF) sent again: lost, or their ack was
    duplicates: int = 0  # the requestor's messages received again: our answer, or our ack, was lost
    resumed: int = 0  # provider restarts it survived
    suspended: bool = False  # restored after a restart, waiting for its requestor to ask again
    proposed_block_size: int = 0  # the requestor's ReceiveInit MaxBlockSize (0: not known)
    start_offset: int = 0  # where the requestor asked to start (its ReceiveInit's StartOffset)
    start_offset_given: bool = False  # the ReceiveInit carried a StartOffset at all

    def __post_init__(self) -> None:
        hold_peers(self, "peer")

    @property
    def loss_estimate(self) -> float | None:
        """The share of our messages that had to be sent again: about the loss on the path (each
        way), as a lost Block and a lost ack of it both cost one retransmission."""
        return self.retransmissions / (self.blocks + self.retransmissions) if self.blocks else None


@dataclass(frozen=True)
class ImageSummary:
    """One catalog entry as a value: what the front ends show and offer."""

    designator: str
    path: str
    vendor_id: int
    product_id: int
    software_version: int
    software_version_string: str
    size: int
    min_applicable_version: int | None = None
    max_applicable_version: int | None = None
    origin: str = "file"  # file, list, or the ledger it came from (MainNet, TestNet, a host)

    @property
    def file_name(self) -> str:
        return self.path.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class EngineSnapshot(EngineEvent):
    """What the engine publishes a few times a second while something changes (and once a second
    otherwise), so no front end reads engine memory from its own thread: the running transfers
    with their counters, the totals, the armed knobs in words, the images."""

    name = "EngineSnapshot"
    logged = False
    transfers: tuple[TransferSnapshot, ...] = ()
    bytes_sent_total: int = 0
    transfers_finished: int = 0
    transfers_failed: int = 0
    events_dropped: int = 0
    armed: tuple[ArmedKnob, ...] = ()
    images: tuple[ImageSummary, ...] = ()
    subscribers: int = 0
    listening: Listening | None = None  # the last of these, for a front end that attaches later
    fabrics: FabricsChanged | None = None
    ledger_downloads: tuple[LedgerDownload, ...] = ()  # images from the ledger, downloading or done
    vendor_names: tuple[tuple[int, str], ...] = ()  # the ledger's names of the requestors' vendors

    def fields(self) -> dict[str, Any]:
        return {
            "transfers": len(self.transfers),
            "bytesSentTotal": self.bytes_sent_total,
            "transfersFinished": self.transfers_finished,
            "transfersFailed": self.transfers_failed,
            "armed": list(self.armed),
        }


@dataclass(frozen=True)
class HistoryRows(EngineEvent):
    """The answer to a QueryHistory command (``command_id``), newest first."""

    name = "HistoryRows"
    logged = False
    command_id: str
    rows: tuple[HistoryRow, ...]


@dataclass(frozen=True)
class AppPipeReport(EngineEvent):
    """The answer to a QueryAppPipe command (``command_id``): the pipe's payload for that name."""

    name = "AppPipeReport"
    logged = False
    command_id: str
    query: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class AppPipeAnswered(EngineEvent):
    """A request on the SDK app's out-of-band pipe (``--app-pipe``), and what it was answered:
    the reply's name (SnapshotResponse, Error) and its error, if any."""

    name = "AppPipe"
    request: str
    reply: str
    error: str | None = None


@dataclass(frozen=True)
class TransferEvent(EngineEvent):
    snapshot: TransferSnapshot


@dataclass(frozen=True)
class TransferStarted(TransferEvent):
    name = "TransferStarted"


@dataclass(frozen=True)
class TransferResumed(TransferEvent):
    """A transfer of the previous run goes on: its requestor asked again after the provider restarted."""

    name = "TransferResumed"


@dataclass(frozen=True)
class TransferFinished(TransferEvent):
    name = "TransferFinished"


@dataclass(frozen=True)
class TransferFailed(TransferEvent):
    name = "TransferFailed"


# ---------------------------------------------------------------------- the node


@dataclass(frozen=True)
class Listening(EngineEvent):
    name = "Listening"
    port: int
    storage: str
    advertising: bool = False  # DNS-SD on
    control: str | None = None  # the control socket, if one is open

    def fields(self) -> dict[str, Any]:
        return {"port": self.port, "storage": self.storage, "advertising": self.advertising, "control": self.control}


@dataclass(frozen=True)
class SessionEstablished(EngineEvent):
    name = "SessionEstablished"
    auth: str
    peer_node_id: int
    fabric_index: int

    def fields(self) -> dict[str, Any]:
        return {"auth": self.auth, "peerNodeId": self.peer_node_id, "fabricIndex": self.fabric_index}


@dataclass(frozen=True)
class FabricSummary:
    index: int
    node_id: int  # ours, on that fabric
    fabric_id: int
    vendor_id: int
    label: str

    def as_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "nodeId": self.node_id,
            "fabricId": self.fabric_id,
            "vendorId": self.vendor_id,
            "label": self.label,
        }


@dataclass(frozen=True)
class FabricsChanged(EngineEvent):
    """The fabric list or the commissioning window changed."""

    name = "Fabrics"
    fabrics: tuple[FabricSummary, ...]
    window_closes_at: float | None = None  # wall-clock time; None: no window open

    @property
    def window_open(self) -> bool:
        return self.window_closes_at is not None

    def fields(self) -> dict[str, Any]:
        return {
            "fabrics": [f.as_json() for f in self.fabrics],
            "windowOpen": self.window_open,
            "windowClosesAt": self.window_closes_at,
        }


@dataclass(frozen=True)
class CommissioningRolledBack(EngineEvent):
    """At start: a commissioning that the last run did not complete (it was killed after AddNOC or
    UpdateNOC) is undone, as the fail-safe would have done."""

    name = "CommissioningRolledBack"
    fabric_index: int
    change: str  # "added": the fabric was removed; "updated": its previous credentials are back

    def fields(self) -> dict[str, Any]:
        return {"fabricIndex": self.fabric_index, "change": self.change}


@dataclass(frozen=True)
class DemoFabricJoined(EngineEvent):
    name = "DemoFabric"
    fabric_index: int
    node_id: int
    file: str

    def fields(self) -> dict[str, Any]:
        return {"fabricIndex": self.fabric_index, "nodeId": self.node_id, "file": self.file}


@dataclass(frozen=True)
class CommandDone(EngineEvent):
    """The engine's answer to a command: what it really did, or why not."""

    name = "CommandDone"
    command: Any
    ok: bool
    message: str

    @property
    def command_id(self) -> str:
        return getattr(self.command, "id", "")

    def fields(self) -> dict[str, Any]:
        return {"command": type(self.command).__name__, "id": self.command_id, "ok": self.ok, "message": self.message}


@dataclass(frozen=True)
class Stopped(EngineEvent):
    name = "Stopped"


# ---------------------------------------------------------------------- commissioning devices


class StepState(enum.StrEnum):
    """How a commissioning stage or a step with a device went (the words are the JSON lines' own)."""

    STARTED = "started"
    DONE = "done"
    SKIPPED = "skipped"
    FAILED = "failed"
    ACCEPTED = "accepted"  # an attestation the user or a flag accepted


class DeviceStepKind(enum.StrEnum):
    """What the provider did with a bench device."""

    READ = "read the device"
    POINT = "point it at us"
    ANNOUNCE = "announce"
    FOLLOW = "follow the device"
    VERIFIED = "verified on the device"
    FORGET = "forget"


@dataclass(frozen=True)
class CommissioningStage(EngineEvent):
    """One stage of commissioning a device onto the bench fabric: started, done or failed."""

    name = "CommissioningStage"
    target: str
    stage: str
    state: StepState
    seconds: float = 0.0
    detail: str = ""

    def fields(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "stage": self.stage,
            "state": self.state,
            "seconds": round(self.seconds, 3),
            "detail": self.detail,
        }


@dataclass(frozen=True)
class DeviceCommissioned(EngineEvent):
    name = "DeviceCommissioned"
    target: str
    node_id: int
    fabric_index: int  # ours: the bench fabric's index on this node
    vendor_id: int
    product_id: int
    attestation: str

    def fields(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "nodeId": self.node_id,
            "fabricIndex": self.fabric_index,
            "vendorId": self.vendor_id,
            "productId": self.product_id,
            "attestation": self.attestation,
        }


@dataclass(frozen=True)
class CommissioningFailed(EngineEvent):
    name = "CommissioningFailed"
    target: str
    stage: str
    reason: str

    def fields(self) -> dict[str, Any]:
        return {"target": self.target, "stage": self.stage, "reason": self.reason}


@dataclass(frozen=True)
class DeviceStep(EngineEvent):
    """What the provider did with a device it commissioned, or learnt of it: read it, pointed it at
    us, announced, or why not."""

    name = "DeviceStep"
    node_id: int
    step: DeviceStepKind
    state: StepState
    detail: str = ""
    no_image: bool = False  # an announcement skipped because no image applies to the device

    def fields(self) -> dict[str, Any]:
        return {"nodeId": self.node_id, "step": self.step, "state": self.state, "detail": self.detail}


@dataclass(frozen=True)
class AttestationQuestion(EngineEvent):
    """A device's attestation failed: commission it anyway? (AnswerAttestation answers.)"""

    name = "AttestationQuestion"
    target: str
    verdict: str

    def fields(self) -> dict[str, Any]:
        return {"target": self.target, "verdict": self.verdict}


@dataclass(frozen=True)
class CommissionableDevices(EngineEvent):
    """The devices with an open commissioning window that DNS-SD shows now (BrowseCommissionable on),
    the whole list each time it changes."""

    name = "CommissionableDevices"
    devices: tuple[CommissionableDevice, ...]

    def fields(self) -> dict[str, Any]:
        return {
            "devices": [
                {
                    "instance": d.instance,
                    "name": d.name,
                    "discriminator": d.discriminator,
                    "commissioningMode": d.commissioning_mode,
                    "vendorId": d.vendor_id,
                    "productId": d.product_id,
                    "addresses": [a[0] for a in d.addresses],
                    "port": d.port,
                }
                for d in self.devices
            ]
        }


@dataclass(frozen=True)
class BleCommissionableDevices(EngineEvent):
    """The devices heard over BLE now (BrowseCommissionable on), the whole list each time it changes,
    with the kept networks one of them may be given; ``problem``: why there is no BLE list (no
    adapter, no BlueZ), in one line."""

    name = "BleCommissionableDevices"
    devices: tuple[BleCommissionable, ...]
    networks: tuple[NetworkChoice, ...] = ()
    problem: str = ""

    def fields(self) -> dict[str, Any]:
        return {
            "devices": [
                {
                    "address": d.address,
                    "name": d.name,
                    "rssi": d.rssi,
                    "discriminator": d.discriminator,
                    "vendorId": d.vendor_id,
                    "productId": d.product_id,
                }
                for d in self.devices
            ],
            "networks": [{"name": n.name, "description": n.description} for n in self.networks],
            "problem": self.problem,
        }


@dataclass(frozen=True)
class DeviceState(EngineEvent):
    """What a bench device itself reports (a subscription): its UpdateState, progress and version."""

    name = "DeviceState"
    node_id: int
    fabric_index: int  # the bench fabric's index on our node: (fabric_index, node_id) is the requestor
    update_state: UpdateState | int  # a number the spec does not name stays a number
    progress: int | None = None
    software_version: int | None = None

    def fields(self) -> dict[str, Any]:
        return {
            "nodeId": self.node_id,
            "fabricIndex": self.fabric_index,
            "updateState": self.update_state,
            "progress": self.progress,
            "softwareVersion": self.software_version,
        }


@dataclass(frozen=True)
class DeviceMismatch(EngineEvent):
    """A bench device says Downloading, yet no BDX transfer of ours has run for it for ``seconds``."""

    name = "DeviceMismatch"
    node_id: int
    fabric_index: int
    seconds: float
    advice: str

    def fields(self) -> dict[str, Any]:
        return {
            "nodeId": self.node_id,
            "fabricIndex": self.fabric_index,
            "seconds": self.seconds,
            "advice": self.advice,
        }


@dataclass(frozen=True)
class DeviceEvent(EngineEvent):
    """An event a bench device emitted (its OTA Requestor cluster): StateTransition, VersionApplied,
    DownloadError, with its fields in words."""

    name = "DeviceEvent"
    node_id: int
    fabric_index: int
    event: str
    detail: str
    number: int | None = None  # the device's EventNumber
    ours: str | None = None  # for a DownloadError: how our side of that download ended, in words

    def fields(self) -> dict[str, Any]:
        return {
            "nodeId": self.node_id,
            "fabricIndex": self.fabric_index,
            "deviceEvent": self.event,
            "detail": self.detail,
            "eventNumber": self.number,
            "ours": self.ours,
        }
