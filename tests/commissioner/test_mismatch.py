"""The device-says-Downloading-but-no-BDX watch, with the time passed in."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

from ota_provider.core.api.events import DeviceMismatch
from ota_provider.core.commissioner.attestation import TrustStore
from ota_provider.core.commissioner.bench import Bench
from ota_provider.core.commissioner.mismatch import DownloadWatch
from ota_provider.core.ota.types import UpdateState
from ota_provider.core.presentation.lines import event_text
from ota_provider.core.storage.database import Database


def test_flagged_once_after_the_quiet_time_and_cleared_by_a_transfer_or_another_state():
    watch = DownloadWatch(seconds=10)
    assert not watch.update(UpdateState.DOWNLOADING, False, 100.0) and watch.watching
    assert not watch.update(UpdateState.DOWNLOADING, False, 109.9)
    assert watch.update(UpdateState.DOWNLOADING, False, 110.0)  # 10 s without a transfer of ours: flag it, once
    assert not watch.update(UpdateState.DOWNLOADING, False, 200.0)
    assert not watch.update(UpdateState.DOWNLOADING, True, 201.0) and not watch.watching  # a transfer runs again
    assert not watch.update(UpdateState.DOWNLOADING, False, 202.0)
    assert watch.update(UpdateState.DOWNLOADING, False, 212.0)  # a second disagreement is flagged again
    assert not watch.update(UpdateState.IDLE, False, 213.0) and not watch.watching


def test_a_running_transfer_is_never_flagged():
    watch = DownloadWatch(seconds=1)
    assert not any(watch.update(UpdateState.DOWNLOADING, True, float(t)) for t in range(10))


def test_the_bench_flags_a_device_that_says_downloading_while_no_transfer_of_ours_runs(tmp_path):
    """The bench's own loop, over a node with no transfer running: one DeviceMismatch, with the advice;
    it ends by itself once the device says something else."""
    events = []
    node = SimpleNamespace(
        db=Database(tmp_path / "state.db"), driver=None, advertiser=None, bdx=SimpleNamespace(transfers={})
    )
    bench = Bench(node, TrustStore.with_test_roots(), emit=events.append, select=lambda *a: None)
    bench.disagree_seconds = 0.3

    async def scenario():
        bench._seen[0x10] = (UpdateState.DOWNLOADING, 40, 1)
        bench._watches[0x10] = DownloadWatch(bench.disagree_seconds)
        task = asyncio.get_running_loop().create_task(bench._check_downloading(0x10, 2))
        await asyncio.sleep(0.8)
        bench._seen[0x10] = (UpdateState.IDLE, None, 1)
        await asyncio.wait_for(task, 2)

    asyncio.run(scenario())
    (flag,) = [e for e in events if isinstance(e, DeviceMismatch)]
    assert (flag.node_id, flag.fabric_index, flag.seconds) == (0x10, 2, 0.3)
    assert "BDX timeout" in event_text(flag) and 0x10 not in bench._watches
