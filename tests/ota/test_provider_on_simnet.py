"""The whole provider node on the simulated network with a fake clock (``tests/helpers/sim_bench.py``):
200 requestors at once, datagram loss, a kill -9 mid-download and the idle release, each run to
the end without sleeping and the same way every time."""

from __future__ import annotations

import statistics
import time

import pytest

from ota_provider.core.bdx.outcome import Outcome, TransferEnd
from ota_provider.core.ota.types import ApplyUpdateAction
from tests.helpers.sim_bench import IMAGE, SimBench
from tests.helpers.transfers import COMPLETE, RESUMED, STARTED
from tests.helpers.transfers import failed as ended_badly


def query_all(bench: SimBench) -> None:
    for requestor in bench.requestors:
        requestor.query()


def test_200_requestors_query_download_apply_and_notify_at_once(tmp_path):
    bench = SimBench.open(tmp_path, loss=0.02, seed=5)
    for n in range(200):
        bench.requestor(0x10_0000 + n)
    started = time.perf_counter()
    query_all(bench)
    bench.run(until=600)
    wall = time.perf_counter() - started
    failed = [(r.node_id, r.error or r.step) for r in bench.requestors if r.step != "notified"]
    assert failed == []
    image = IMAGE.read_bytes()
    assert all(r.image == image for r in bench.requestors)  # every download verified, byte for byte
    assert all(r.apply is not None and r.apply.action == ApplyUpdateAction.PROCEED for r in bench.requestors)
    finished = [t for t in bench.transfers if t[0] is COMPLETE]
    assert len(finished) == 200 and len({t[1] for t in finished}) == 200
    assert bench.node.bdx is not None and bench.node.bdx.transfers == {}
    latencies = sorted(r.query_latency for r in bench.requestors if r.query_latency is not None)
    p50, p99 = statistics.median(latencies), latencies[int(0.99 * len(latencies)) - 1]
    print(
        f"200 requestors on the fake clock: {bench.net.now:.1f} s simulated in {wall:.1f} s; "
        f"QueryImage p50 {p50 * 1000:.0f} ms p99 {p99 * 1000:.0f} ms; {bench.net.lost} of {bench.net.sent} lost"
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_provider_killed_mid_download_resumes_every_transfer(tmp_path, seed):
    bench = SimBench.open(tmp_path, loss=0.05, seed=seed)
    for n in range(20):
        bench.requestor(0x20_0000 + n)
    query_all(bench)
    bench.run(until=bench.net.now + 1.3)  # checkpointed once, well into the downloads
    downloading = [r for r in bench.requestors if r.step == "downloading"]
    assert len(downloading) >= 15 and all(0 < len(r.image) < IMAGE.stat().st_size for r in downloading)
    bench.restart(downtime=0.5)  # no goodbye: the requestors see their BlockQueries unanswered for a while
    bench.run(until=bench.net.now + 600)
    assert [(r.node_id, r.error) for r in bench.requestors if r.step != "notified"] == []
    assert all(r.image == IMAGE.read_bytes() for r in bench.requestors)
    kinds = [kind for kind, _id, _result in bench.transfers]
    assert kinds.count(STARTED) == 20 and kinds.count(COMPLETE) == 20
    assert kinds.count(RESUMED) == len(downloading)  # the same transfers, taken up: no second row
    assert not any(map(ended_badly, kinds))


def start_and_interrupt(bench: SimBench):
    quitter, other = bench.requestor(0x30_0001), bench.requestor(0x30_0002)
    quitter.query()
    bench.net.run(until=bench.net.now + 5, done=lambda: len(quitter.image) > 4096)
    bench.requestors.remove(quitter)
    return quitter, other


def test_a_requestor_that_stops_asking_is_released_after_the_idle_timeout(tmp_path):
    bench = SimBench.open(tmp_path, idle_timeout=300.0)
    quitter, other = start_and_interrupt(bench)
    quitter.receiver._query = lambda exchange, counter: None  # acks our Block, never asks for the next
    other.query()
    bench.run(until=bench.net.now + 60)
    assert other.step == "notified"
    assert bench.node.bdx is not None and len(bench.node.bdx.transfers) == 1
    before = bench.net.now
    bench.net.run(until=before + 400, done=lambda: not bench.node.bdx.transfers)
    assert bench.node.bdx.transfers == {}
    # five minutes after its last BlockQuery (and at most 1% more), on the fake clock
    assert 290 < bench.net.now - before <= 303
    failed = [t for t in bench.transfers if ended_badly(t[0])]
    assert len(failed) == 1 and failed[0][2] == TransferEnd(Outcome.IDLE, block=failed[0][2].block, seconds=300.0)


def test_a_requestor_that_vanishes_fails_once_our_block_goes_unacknowledged(tmp_path):
    bench = SimBench.open(tmp_path, idle_timeout=300.0)
    quitter, other = start_and_interrupt(bench)
    bench.net.remove(quitter.address)  # it loses power mid-download
    other.query()
    bench.run(until=bench.net.now + 60)
    assert other.step == "notified"
    bench.net.run(until=bench.net.now + 60, done=lambda: not bench.node.bdx.transfers)
    # MRP's budget and the 30 s we then wait for a requestor that retransmits slowly, not the idle timeout
    assert bench.node.bdx.transfers == {} and bench.net.now < 40
    failed = [t for t in bench.transfers if ended_badly(t[0])]
    assert len(failed) == 1 and failed[0][2].outcome is Outcome.UNACKNOWLEDGED and failed[0][2].sends > 1
