"""The dashboard's Textual-free parts: text forms, the throughput meter, the requestor rows folded
from engine events, and the exchange-log kinds."""

from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import pytest

from ota_provider.core.api.events import (
    ApplyUpdateAnswered,
    CommandDone,
    DeviceEvent,
    DeviceState,
    EngineError,
    EngineSnapshot,
    FabricsChanged,
    FaultInjected,
    Listening,
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
from ota_provider.core.bdx.outcome import Outcome, TransferEnd
from ota_provider.core.ota.types import ApplyUpdateAction, DownloadProtocol, QueryImageStatus, UpdateState
from ota_provider.tui.exchange_log import log_kind
from ota_provider.tui.format import bar, duration, rate, resent, size
from ota_provider.tui.meter import SPARK_SAMPLES, ThroughputMeter
from ota_provider.tui.requestors import RequestorTable

PEER = (1, 0xD001)
COMPLETE = Outcome.COMPLETE


def snapshot(transfer_id=1, sent=0, total=10_000, peer=PEER, outcome=Outcome.RUNNING):
    return TransferSnapshot(transfer_id, peer, "2", 1024, sent, total, sent // 1024, 1.0, TransferEnd(outcome), False)


def stats(*transfers, total=0):
    return EngineSnapshot(tuple(transfers), total, 0, 0, 0)


def transfer_event(cls, snap):
    return cls(snap, at=100.0)


@pytest.mark.parametrize(
    ("fraction", "width", "text"),
    [(None, 4, ""), (0.0, 4, "░░░░   0%"), (0.5, 4, "██░░  50%"), (1.0, 4, "████ 100%"), (1.7, 4, "████ 100%")],
)
def test_bar(fraction, width, text):
    assert bar(fraction, width) == text


def test_sizes_rates_and_durations():
    assert [size(n) for n in (999, 1000, 49_237, 32 << 20, 5e12)] == [
        "999 B",
        "1.0 kB",
        "49.2 kB",
        "33.6 MB",
        "5000.0 GB",
    ]
    assert rate(None) == "" and rate(9_200) == "9.2 kB/s"
    assert [duration(s) for s in (None, 0, 59.6, 61, 3725)] == ["", "0:00", "1:00", "1:01", "1:02:05"]


def test_meter_rates_eta_and_sparkline():
    meter = ThroughputMeter()
    meter.sample(stats(snapshot(sent=0), total=0), now=10.0)
    meter.sample(stats(snapshot(sent=100), total=100), now=10.2)  # too short a window: no rate yet
    assert meter.rate_of(1).per_second is None
    meter.sample(stats(snapshot(sent=2_000), total=2_000), now=11.0)
    measured = meter.rate_of(1)
    assert measured.per_second == pytest.approx(2_000)
    assert measured.eta(8_000) == pytest.approx(4.0) and measured.eta(0) == 0.0
    assert meter.aggregate == pytest.approx(2_000) and meter.history[-1] == pytest.approx(2_000)
    assert len(meter.history) == SPARK_SAMPLES
    meter.sample(stats(snapshot(sent=6_000), total=6_000), now=12.0)
    assert meter.rate_of(1).per_second == pytest.approx(0.3 * 4_000 + 0.7 * 2_000)  # smoothed
    meter.sample(stats(total=6_000), now=13.0)  # the transfer ended
    assert meter.rate_of(1) is None and meter.aggregate == 0.0


def query(status=QueryImageStatus.UPDATE_AVAILABLE, version=3, at=1.0):
    return QueryImageAnswered(PEER, status, software_version=version, at=at)


def asked(version=1, at=1.0):
    return QueryImageReceived(PEER, 0xFFF1, 0x8000, version, (DownloadProtocol.BDX_SYNCHRONOUS,), at=at)


def test_requestor_rows_follow_the_update_flow():
    table = RequestorTable()
    steps = [
        (asked(), "querying", "QueryImage"),
        (query(), "offered", "QueryImage -> UpdateAvailable"),
        (transfer_event(TransferStarted, snapshot()), "downloading", "BDX ReceiveInit"),
        (transfer_event(TransferFinished, snapshot(sent=10_000, outcome=COMPLETE)), "downloaded", "BDX complete"),
        (ApplyUpdateAnswered(PEER, ApplyUpdateAction.PROCEED, 0, at=2.0), "applying", "ApplyUpdate -> Proceed"),
        (UpdateAppliedNotified(PEER, b"\xa5" * 32, 3, 3, at=3.0), "applied", "NotifyUpdateApplied"),
    ]
    for event, state, last in steps:
        assert table.apply(event) == PEER
        row = table.rows[PEER]
        assert (row.state, row.last_exchange) == (state, last)
    assert row.versions == "3" and row.last_seen == 3.0
    assert [e.name for e in row.exchanges] == [
        "QueryImage",
        "QueryImageResponse",
        "ApplyUpdateResponse",
        "NotifyUpdateApplied",
    ]
    assert [t.end.outcome for t in row.transfers] == [Outcome.COMPLETE]


def test_requestor_rows_for_busy_ignored_failed_and_faults():
    table = RequestorTable()
    table.apply(query(QueryImageStatus.BUSY, None))
    assert table.rows[PEER].state == "busy" and table.rows[PEER].versions == "?"
    table.apply(QueryImageIgnored(PEER, at=2.0))
    assert table.rows[PEER].last_exchange == "QueryImage ignored"
    table.apply(transfer_event(TransferFailed, snapshot(outcome=Outcome.ABORTED)))
    assert table.rows[PEER].state == "failed" and table.rows[PEER].last_exchange == "BDX aborted"
    table.apply(FaultInjected(PEER, 1, 3, at=4.0))
    assert table.rows[PEER].last_exchange == "BDX fault at block 3"  # words, not the event's class name
    assert table.apply(Listening(5540, "/tmp")) is None  # not about a requestor


def test_progress_is_sampled_in_steps():
    table = RequestorTable()
    table.apply(query())
    assert table.sample(stats(snapshot(sent=420, total=10_000))) == {PEER}
    assert table.rows[PEER].progress == 0.0
    assert table.sample(stats(snapshot(sent=480, total=10_000))) == set()  # still in the same 5% step
    assert table.sample(stats(snapshot(sent=5_120, total=10_000))) == {PEER}
    assert table.rows[PEER].progress == pytest.approx(0.5)
    assert table.sample(stats(snapshot(sent=10, total=10, peer=(1, 0xBEEF)))) == set()  # a node never seen


def test_a_late_snapshot_does_not_put_an_applied_node_back_at_95_percent():
    table = RequestorTable()
    table.apply(query())
    table.sample(stats(snapshot(sent=9_600, total=10_000)))
    table.apply(transfer_event(TransferFinished, snapshot(sent=10_000, outcome=Outcome.COMPLETE)))
    table.apply(UpdateAppliedNotified(PEER, b"\xa5" * 32, 3, 3, at=3.0))
    assert table.sample(stats(snapshot(sent=9_600, total=10_000))) == set()  # taken before the end
    assert (table.rows[PEER].state, table.rows[PEER].progress) == ("applied", None)


@pytest.mark.parametrize(
    ("event", "kind"),
    [
        (asked(), "QueryImage"),
        (query(), "QueryImage"),
        (ApplyUpdateAnswered(PEER, ApplyUpdateAction.PROCEED, 0), "ApplyUpdate"),
        (UpdateAppliedNotified(PEER, b"", 3, 3), "Notify"),
        (FaultInjected(PEER, 1, 3), "BDX"),
        (transfer_event(TransferStarted, snapshot()), "BDX"),
        (EngineError("boom"), "errors"),
        (CommandDone(None, False, "no"), "errors"),
        (CommandDone(None, True, "yes"), "provider"),
        (FabricsChanged(()), "commissioning"),
    ],
)
def test_log_kinds(event, kind):
    assert log_kind(event) == kind


def test_a_transfer_with_no_new_byte_counts_as_stalled_since_its_last_byte():
    meter = ThroughputMeter()

    def stats(sent):
        transfer = SimpleNamespace(id=1, bytes_sent=sent)
        return SimpleNamespace(transfers=(transfer,), bytes_sent_total=sent)

    meter.sample(stats(0), 10.0)
    meter.sample(stats(1024), 11.0)
    meter.sample(stats(1024), 14.5)  # nothing new for 3.5 s
    assert meter.rate_of(1).stalled_for(14.5) == 3.5


def test_a_bench_devices_own_report_shows_beside_ours():
    table = RequestorTable()
    assert table.apply(DeviceState(0x10, 2, UpdateState.DOWNLOADING, 42, 1, at=5.0)) == (2, 0x10)
    assert table.rows[(2, 0x10)].device_says == "Downloading 42%"
    table.apply(DeviceState(0x10, 2, UpdateState.IDLE, None, 2, at=6.0))
    assert table.rows[(2, 0x10)].device_says == "Idle"
    table.apply(DeviceEvent(0x10, 2, "VersionApplied", "now running version 2 (product 0x8000)", at=7.0))
    assert list(table.rows[(2, 0x10)].device_events) == ["VersionApplied: now running version 2 (product 0x8000)"]


def test_a_transfer_resumed_after_a_restart_is_the_same_row_downloading_again():
    table = RequestorTable()
    table.apply(transfer_event(TransferStarted, snapshot()))
    table.apply(transfer_event(TransferResumed, snapshot(sent=4096)))
    row = table.rows[PEER]
    assert (row.state, row.last_exchange) == ("downloading", "BDX resumed after restart")
    assert log_kind(transfer_event(TransferResumed, snapshot())) == "BDX"


@pytest.mark.parametrize(
    ("retransmissions", "blocks", "text"),
    [(0, 10, "0"), (3, 97, "3 3%"), (1, 500, "1 <1%")],
)
def test_the_resent_cell_says_how_much_was_sent_again(retransmissions, blocks, text):
    t = replace(snapshot(sent=blocks * 1024, total=blocks * 2048), blocks=blocks, retransmissions=retransmissions)
    assert resent(t) == text
