"""What the dashboard knows of each requestor, folded from the engine's events (no Textual here,
so it is tested on its own)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

from ota_provider.core.api.events import (
    ApplyUpdateAnswered,
    ApplyUpdateIgnored,
    DeviceEvent,
    DeviceMismatch,
    DeviceState,
    EngineEvent,
    EngineSnapshot,
    FaultInjected,
    OtaEvent,
    QueryImageAnswered,
    QueryImageIgnored,
    QueryImageReceived,
    TransferFailed,
    TransferFinished,
    TransferResumed,
    TransferSnapshot,
    TransferStarted,
    UpdateAppliedNotified,
)
from ota_provider.core.api.values import ApplyUpdateAction, Peer, QueryImageStatus, UpdateState
from ota_provider.core.presentation.words import spec_name, update_state_name

from .format import ending

__all__ = ["RequestorRow", "RequestorTable"]


EXCHANGES_KEPT = 500  # per requestor, for its detail screen
PROGRESS_STEP = 0.05

_APPLY_STATES = {
    ApplyUpdateAction.PROCEED: "applying",
    ApplyUpdateAction.AWAIT_NEXT_ACTION: "waiting",
    ApplyUpdateAction.DISCONTINUE: "discontinued",
}
_QUERY_STATES = {
    QueryImageStatus.UPDATE_AVAILABLE: "offered",
    QueryImageStatus.BUSY: "busy",
    QueryImageStatus.NOT_AVAILABLE: "up to date",
    QueryImageStatus.DOWNLOAD_PROTOCOL_NOT_SUPPORTED: "no protocol",
}

# States in which a row's progress bar is over: the transfer's end event has been folded in.
_DOWNLOAD_ENDED = frozenset(("downloaded", "failed", *_APPLY_STATES.values(), "applied"))


@dataclass
class RequestorRow:
    peer: Peer
    vendor_id: int = 0
    product_id: int = 0
    vendor_name: str = ""  # the ledger's (with --dcl)
    current_version: int | None = None
    offered_version: int | None = None
    state: str = "querying"
    last_exchange: str = ""
    progress: float | None = None  # 0..1 while a transfer runs
    device_state: UpdateState | int | None = None  # a bench device's own UpdateState, from our subscription
    device_progress: int | None = None  # and its UpdateStateProgress

    @property
    def device_says(self) -> str:
        """The device's own UpdateState (and progress), in the spec's words; empty for a device we do not follow."""
        if self.device_state is None:
            return ""
        progress = f" {self.device_progress}%" if self.device_progress is not None else ""
        return update_state_name(self.device_state) + progress

    mismatch: str = ""  # why the device's view and ours disagree (DeviceMismatch), until they agree again
    device_events: deque[str] = field(default_factory=lambda: deque(maxlen=EXCHANGES_KEPT))  # its events, in words
    last_seen: float = 0.0
    exchanges: deque[OtaEvent] = field(default_factory=lambda: deque(maxlen=EXCHANGES_KEPT))
    transfers: deque[TransferSnapshot] = field(default_factory=lambda: deque(maxlen=EXCHANGES_KEPT))

    @property
    def versions(self) -> str:
        current = "?" if self.current_version is None else str(self.current_version)
        return current if self.offered_version is None else f"{current} -> {self.offered_version}"


class RequestorTable:
    def __init__(self) -> None:
        self.rows: dict[Peer, RequestorRow] = {}

    def _row(self, peer: Peer, at: float) -> RequestorRow:
        row = self.rows.get(peer)
        if row is None:
            row = self.rows[peer] = RequestorRow(peer)
        row.last_seen = at
        return row

    def name_vendors(self, names: dict[int, str]) -> set[Peer]:
        """The ledger's vendor names on the rows; the rows whose name changed."""
        changed = set()
        for peer, row in self.rows.items():
            name = names.get(row.vendor_id, "")
            if name != row.vendor_name:
                row.vendor_name = name
                changed.add(peer)
        return changed

    def apply(self, event: EngineEvent) -> Peer | None:
        """Fold one event in; return the requestor it changed, if any."""
        peer = self._fold(event)
        if peer is not None:
            row = self.rows[peer]
            if isinstance(event, OtaEvent):
                row.exchanges.append(event)
            elif isinstance(event, TransferFinished | TransferFailed):
                row.transfers.append(event.snapshot)
        return peer

    def _fold(self, event: EngineEvent) -> Peer | None:
        if isinstance(event, DeviceEvent):
            peer = Peer(event.fabric_index, event.node_id)
            row = self.rows.get(peer) or self._row(peer, event.at)
            row.device_events.append(f"{event.event}: {event.detail}" + (f"; {event.ours}" if event.ours else ""))
            return peer
        if isinstance(event, DeviceState):  # not an exchange: it does not touch "last seen"
            peer = Peer(event.fabric_index, event.node_id)
            row = self.rows.get(peer) or self._row(peer, event.at)
            row.device_state, row.device_progress = event.update_state, event.progress
            if event.update_state is not UpdateState.DOWNLOADING:
                row.mismatch = ""
            return peer
        if isinstance(event, DeviceMismatch):
            peer = Peer(event.fabric_index, event.node_id)
            row = self.rows.get(peer) or self._row(peer, event.at)
            row.mismatch = f"no BDX transfer of ours has run for it for {event.seconds:g} s: {event.advice}"
            return peer
        if isinstance(event, QueryImageReceived):
            row = self._row(event.peer, event.at)
            row.vendor_id, row.product_id = event.vendor_id, event.product_id
            row.current_version = event.software_version
            row.state, row.last_exchange = "querying", "QueryImage"
            return row.peer
        if isinstance(event, QueryImageAnswered):
            row = self._row(event.peer, event.at)
            row.state = _QUERY_STATES[event.status]
            row.offered_version = event.software_version
            row.last_exchange = f"QueryImage -> {spec_name(event.status)}"
            return row.peer
        if isinstance(event, QueryImageIgnored | ApplyUpdateIgnored):
            row = self._row(event.peer, event.at)
            row.last_exchange = f"{'QueryImage' if isinstance(event, QueryImageIgnored) else 'ApplyUpdate'} ignored"
            return row.peer
        if isinstance(event, ApplyUpdateAnswered):
            row = self._row(event.peer, event.at)
            row.state = _APPLY_STATES[event.action]
            row.last_exchange = f"ApplyUpdate -> {spec_name(event.action)}"
            return row.peer
        if isinstance(event, UpdateAppliedNotified):
            row = self._row(event.peer, event.at)
            row.current_version, row.offered_version = event.software_version, None
            row.state, row.last_exchange, row.progress = "applied", "NotifyUpdateApplied", None
            return row.peer
        if isinstance(event, TransferStarted | TransferResumed | TransferFinished | TransferFailed):
            row = self._row(event.snapshot.peer, event.at)
            if isinstance(event, TransferStarted):
                row.state, row.progress, row.last_exchange = "downloading", 0.0, "BDX ReceiveInit"
                row.mismatch = ""
            elif isinstance(event, TransferResumed):
                row.state, row.last_exchange = "downloading", "BDX resumed after restart"
                row.mismatch = ""
            elif isinstance(event, TransferFinished):
                row.state, row.progress, row.last_exchange = "downloaded", 1.0, "BDX complete"
            else:
                row.state, row.progress, row.last_exchange = "failed", None, f"BDX {ending(event.snapshot.end)}"
            return row.peer
        if isinstance(event, FaultInjected):  # in words: the class name means nothing on a bench
            row = self._row(event.peer, event.at)
            row.last_exchange = f"BDX fault at block {event.block}"
            return row.peer
        if isinstance(event, OtaEvent):  # requests and refusals: the spec's command names
            row = self._row(event.peer, event.at)
            row.last_exchange = event.name
            return row.peer
        return None

    def sample(self, stats: EngineSnapshot) -> set[Peer]:
        """Progress of running transfers from the stats snapshot; return the rows that changed."""
        changed = set()
        for transfer in stats.transfers:
            row = self.rows.get(transfer.peer)
            # Not once its download ended: a snapshot taken before the transfer's end (or, attached,
            # one that arrives after NotifyUpdateApplied) must not put an applied node back at 95%.
            if row is not None and transfer.total and row.state not in _DOWNLOAD_ENDED:
                # In steps: the overview needs no finer grain, and each repaint of the table costs
                # the engine thread GIL time. The transfers table has the exact figures.
                progress = int(transfer.bytes_sent / transfer.total / PROGRESS_STEP) * PROGRESS_STEP
                if progress != row.progress:
                    row.progress = progress
                    changed.add(row.peer)
        return changed
