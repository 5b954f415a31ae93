"""A scripted stand-in for the engine, for screenshots that must not change from run to run: fixed
events (with fixed times), a fixed stats snapshot and history. Behaviour is tested against the real
engine in test_dashboard.py; this only holds the screen still."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

from ota_provider.core.api.commands import QueryHistory
from ota_provider.core.api.events import (
    ApplyUpdateAnswered,
    ApplyUpdateReceived,
    DeviceState,
    EngineEvent,
    EngineSnapshot,
    FabricsChanged,
    FabricSummary,
    HistoryRows,
    ImageSummary,
    Listening,
    QueryImageAnswered,
    QueryImageReceived,
    RequestorSeen,
    SessionEstablished,
    TransferFinished,
    TransferSnapshot,
    TransferStarted,
    UpdateAppliedNotified,
)
from ota_provider.core.bdx.outcome import Outcome, TransferEnd
from ota_provider.core.config import ProviderConfig
from ota_provider.core.engine import onboarding_payload
from ota_provider.core.ota.catalog import ImageCatalog
from ota_provider.core.ota.history import HistoryRow
from ota_provider.core.ota.policy import ArmedKnob, Knob
from ota_provider.core.ota.types import ApplyUpdateAction, DownloadProtocol, QueryImageStatus, UpdateState
from ota_provider.tui.app import ProviderDashboard
from tests.helpers.engine_helpers import IMAGE_LIST

T0 = 1_795_000_000.0  # 2026-11-18 09:46:40 UTC
IMAGE_SIZE = 49_237
NODES = (0xD001, 0xD002, 0xD003, 0xD004)


def _transfer(
    transfer_id: int, node: int, sent: int, blocks: int, outcome: Outcome = Outcome.RUNNING
) -> SimpleNamespace:
    sender = SimpleNamespace(block_size=1024, bytes_sent=sent, total=IMAGE_SIZE, blocks_sent=blocks)
    return SimpleNamespace(
        id=transfer_id,
        peer=(1, node),
        designator=b"2",
        sender=sender,
        end=TransferEnd(outcome),
        seconds=5.0,
        paused=False,
        pacing=None,
    )


def _snapshot(t: SimpleNamespace, *, paused: bool = False, throttle: float | None = None) -> TransferSnapshot:
    s = t.sender
    return TransferSnapshot(
        t.id, t.peer, "2", s.block_size, s.bytes_sent, s.total, s.blocks_sent, t.seconds, t.end, paused, throttle
    )


def _query(node: int, version: int, at: float) -> list[EngineEvent]:
    peer = (1, node)
    asked = QueryImageReceived(
        peer, 0xFFF1, 0x8000, version, (DownloadProtocol.BDX_SYNCHRONOUS,), None, "XX", True, at=at
    )
    offered = QueryImageAnswered(
        peer,
        QueryImageStatus.UPDATE_AVAILABLE,
        delayed_action_time=0,
        image_uri="bdx://0000000000000001/2",
        software_version=3,
        software_version_string="3.0.0",
        update_token=b"\xa5" * 32,
        user_consent_needed=False,
        at=at,
    )
    return [
        SessionEstablished("CASE", node, 1, at=at),
        RequestorSeen(peer, 0xFFF1, 0x8000, version, at=at),
        asked,
        offered,
    ]


def _events() -> list[EngineEvent]:
    fabrics = (FabricSummary(1, 0x1, 0xDE70, 0xFFF1, "bench"), FabricSummary(2, 0x2A, 0x1, 0x130D, ""))
    events: list[EngineEvent] = [
        Listening(5540, "/var/lib/ota-provider", advertising=True, at=T0),
        FabricsChanged(fabrics, window_closes_at=T0 + 754.0, at=T0),
    ]
    done = _transfer(1, 0xD001, IMAGE_SIZE, 49, Outcome.COMPLETE)
    events += _query(0xD001, 1, T0 + 1)
    events += [TransferStarted(_snapshot(done), at=T0 + 1), TransferFinished(_snapshot(done), at=T0 + 6)]
    token = b"\xa5" * 32
    events += [
        ApplyUpdateReceived((1, 0xD001), token, 3, at=T0 + 6),
        ApplyUpdateAnswered((1, 0xD001), ApplyUpdateAction.PROCEED, 0, at=T0 + 6),
        UpdateAppliedNotified((1, 0xD001), token, 3, 3, at=T0 + 7),
    ]
    for index, node in enumerate(NODES[1:]):
        events += _query(node, 2 if index % 2 else 1, T0 + 8 + index)
        running = _transfer(index + 2, node, 0, 0)
        events.append(TransferStarted(_snapshot(running), at=T0 + 8 + index))
    # D002 is a device of the bench fabric: its own report, from our subscription.
    events.append(DeviceState(NODES[1], 1, UpdateState.DOWNLOADING, 75, 1, at=T0 + 12))
    return events


class FakeEngine:
    def __init__(self) -> None:
        self.config = ProviderConfig(image_list=IMAGE_LIST)
        self.catalog = ImageCatalog.from_list(IMAGE_LIST)
        self.sent: list[Any] = []
        self._pending = _events()
        running = [_transfer(2, 0xD002, 38_912, 38), _transfer(3, 0xD003, 21_504, 21), _transfer(4, 0xD004, 9_216, 9)]
        self.before = EngineSnapshot(tuple(_snapshot(t) for t in _transfer_minus(running, 9_216)), 0, 1, 0, 0)
        self.now = EngineSnapshot(
            (_snapshot(running[0]), _snapshot(running[1], paused=True), _snapshot(running[2], throttle=0.5)),
            IMAGE_SIZE + 69_632,
            1,
            0,
            0,
        )

    # The EngineLink a dashboard holds: values only.
    attached = False
    export_dir = Path("exports")

    def drain(self, limit: int = 1000) -> list[EngineEvent]:
        out, self._pending = self._pending[:limit], self._pending[limit:]
        return out

    def snapshot(self) -> EngineSnapshot:
        now = self.now
        armed = (
            ArmedKnob(1, Knob.QUERY_STATUS, QueryImageStatus.BUSY),
            ArmedKnob(2, Knob.APPLY_ACTION, ApplyUpdateAction.AWAIT_NEXT_ACTION, sticky=True, target=(1, 0xD003)),
        )
        images = tuple(
            ImageSummary(
                e.designator,
                str(e.path),
                e.vendor_id,
                e.product_id,
                e.software_version,
                e.software_version_string,
                e.size,
                e.min_applicable_version,
                e.max_applicable_version,
            )
            for e in self.catalog.entries
        )
        return EngineSnapshot(
            now.transfers,
            now.bytes_sent_total,
            now.transfers_finished,
            now.transfers_failed,
            now.events_dropped,
            armed,
            images,
            at=T0 + 20,
        )

    def history(self, limit: int = 500, node_id: int | None = None) -> list[HistoryRow]:
        rows = [
            HistoryRow(1, T0 + 1, "query", 1, 0xD001, "UpdateAvailable v3", {}),
            HistoryRow(2, T0 + 6, "transfer", 1, 0xD001, "transfer #1 complete, 49237 bytes in 5.0 s", {}),
            HistoryRow(3, T0 + 7, "notify", 1, 0xD001, "now running version 3", {}),
        ]
        return [row for row in rows if node_id is None or row.node_id == node_id][-limit:]

    def onboarding(self):
        return onboarding_payload(self.config)

    def describe(self) -> str:
        return "scripted"

    def send(self, command: Any) -> None:
        self.sent.append(command)
        if isinstance(command, QueryHistory):  # answered as the engine answers it
            self._pending.append(
                HistoryRows(command.id, tuple(self.history(command.limit, command.node_id)), at=T0 + 20)
            )


def _transfer_minus(transfers: list[SimpleNamespace], less: int) -> list[SimpleNamespace]:
    """The same transfers one second earlier, for the meter's rate and ETA."""
    return [_transfer(t.id, t.peer[1], max(0, t.sender.bytes_sent - less), t.sender.blocks_sent) for t in transfers]


def scripted_dashboard() -> ProviderDashboard:
    """The dashboard over a FakeEngine, frozen at T0 + 20 s, with a minute of throughput history."""
    engine = FakeEngine()
    app = ProviderDashboard(engine, clock=lambda: T0 + 20)
    # one second of history for the rates, ETAs and the sparkline
    app.meter.sample(engine.before, T0 + 19)
    app.meter.sample(engine.now, T0 + 20)
    app.meter.history.extend([0.0] * 40 + [10_000.0 * (i % 7) for i in range(20)])
    return app


async def settle(pilot) -> None:
    await pilot.pause(0.3)  # a few refresh ticks: every scripted event drained
    pilot.app.requestor_table.focus()
    await pilot.pause(0.1)
