"""ProviderEngine: the node on its own thread, commands answered by events, a real requestor
client in this thread checking what actually went over the wire."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import time

import pytest

from ota_provider.core.api.commands import AbortTransfer, ArmKnob, PauseTransfer, RemoveFabric, ResumeTransfer
from ota_provider.core.api.events import (
    CommandDone,
    DemoFabricJoined,
    DeviceEvent,
    EngineSnapshot,
    Listening,
    QueryImageAnswered,
    QueryImageReceived,
    RequestorSeen,
    TransferFailed,
    TransferFinished,
    TransferStarted,
    UpdateAppliedNotified,
)
from ota_provider.core.bdx.outcome import Outcome
from ota_provider.core.cli import parse_config
from ota_provider.core.client.requestor import DownloadError
from ota_provider.core.codec.status_report import BdxStatus
from ota_provider.core.config import ProviderConfig
from ota_provider.core.engine import ProviderEngine, wait_for
from ota_provider.core.ota.catalog import ImageCatalog
from ota_provider.core.ota.policy import Knob
from ota_provider.core.ota.types import QueryImageStatus
from ota_provider.core.presentation.lines import event_text
from ota_provider.core.presentation.words import transfer_end_text
from tests.helpers.engine_helpers import IMAGE_LIST, requestor, start_engine
from tests.helpers.samples import SAMPLES

UA, BUSY = QueryImageStatus.UPDATE_AVAILABLE, QueryImageStatus.BUSY


@pytest.fixture
def engine(tmp_path):
    engine = start_engine(tmp_path)
    yield engine
    engine.stop()
    assert not engine.running


async def client_for(engine, node_id, tmp_path):
    return await requestor(engine, tmp_path, node_id)


def test_start_reports_the_demo_fabric_then_listening(engine):
    events = engine.drain()
    kinds = [type(e) for e in events]
    assert kinds.index(DemoFabricJoined) < kinds.index(Listening)
    assert next(e for e in events if isinstance(e, Listening)).port == engine.port


def test_a_one_shot_knob_changes_exactly_the_next_response_and_says_who_used_it(engine, tmp_path):
    engine.drain()
    engine.send(ArmKnob(Knob.QUERY_STATUS, BUSY))
    done = wait_for(engine, lambda e: isinstance(e, CommandDone))[-1]
    assert done.ok and "QueryImage status busy (one-shot, all requestors)" in done.message

    async def scenario():
        client, driver = await client_for(engine, 0x4001, tmp_path)
        try:
            return [(await client.query_image(0xFFF1, 0x8000, 1)).status for _ in range(2)]
        finally:
            driver.close()

    assert asyncio.run(scenario()) == [BUSY, UA]
    events = engine.drain()
    answers = [e for e in events if isinstance(e, QueryImageAnswered)]
    assert [a.status for a in answers] == [BUSY, UA]
    assert [(u.knob, u.value, u.sticky, u.target) for u in answers[0].used] == [(Knob.QUERY_STATUS, BUSY, False, None)]
    assert answers[0].peer == (1, 0x4001) and answers[1].used == ()
    assert any(isinstance(e, QueryImageReceived) and e.software_version == 1 for e in events)
    seen = [e for e in events if isinstance(e, RequestorSeen)]
    assert [(s.peer, s.software_version) for s in seen] == [((1, 0x4001), 1)]  # once, not per query


def test_a_knob_for_one_node_and_bad_values_are_refused(engine, tmp_path):
    engine.send(ArmKnob(Knob.QUERY_STATUS, BUSY, sticky=True, target=(1, 0x4002)))  # never seen: refused
    engine.send(ArmKnob(Knob.QUERY_STATUS, BUSY, sticky=True, target=(1, 0x4002), unseen=True))
    engine.send(ArmKnob(Knob.QUERY_DELAY, -5))
    engine.send(RemoveFabric(9))
    dones = [
        e
        for e in wait_for(engine, lambda e: isinstance(e, CommandDone) and isinstance(e.command, RemoveFabric))
        if isinstance(e, CommandDone)
    ]
    assert [d.ok for d in dones] == [False, True, False, False]
    assert "node 0x4002 has never queried this provider" in dones[0].message

    async def scenario():
        targeted, d1 = await client_for(engine, 0x4002, tmp_path)
        other, d2 = await client_for(engine, 0x4003, tmp_path)
        try:
            return [(await c.query_image(0xFFF1, 0x8000, 1)).status for c in (targeted, other, targeted)]
        finally:
            d1.close()
            d2.close()

    assert asyncio.run(scenario()) == [BUSY, UA, BUSY]


def test_pause_resume_and_abort_transfers_from_commands(engine, tmp_path):
    async def scenario():
        paused_client, d1 = await client_for(engine, 0x4010, tmp_path)
        doomed_client, d2 = await client_for(engine, 0x4011, tmp_path)
        try:
            offer = await paused_client.query_image(0xFFF1, 0x8000, 1)
            offer2 = await doomed_client.query_image(0xFFF1, 0x8000, 1)
            loop = asyncio.get_running_loop()

            def operate():
                started = [
                    e
                    for e in wait_for(engine, lambda e: isinstance(e, TransferStarted))
                    if isinstance(e, TransferStarted)
                ]
                engine.send(PauseTransfer(started[0].snapshot.id))
                wait_for(engine, lambda e: isinstance(e, CommandDone))
                paused = [t for t in engine.take_snapshot().transfers if t.paused]
                engine.send(ResumeTransfer(started[0].snapshot.id))
                wait_for(engine, lambda e: isinstance(e, CommandDone) and e.ok)
                return paused

            engine.drain()
            download = asyncio.ensure_future(
                paused_client.download(offer.image_uri, tmp_path / "a.ota", max_block_size=64)
            )
            paused = await loop.run_in_executor(None, operate)
            result = await download
            assert len(paused) == 1 and result.size == (SAMPLES / "sample-fff1-8000-v3.ota").stat().st_size

            def abort_first():
                started = [
                    e
                    for e in wait_for(engine, lambda e: isinstance(e, TransferStarted))
                    if isinstance(e, TransferStarted)
                ]
                engine.send(AbortTransfer(started[0].snapshot.id))
                return wait_for(engine, lambda e: isinstance(e, TransferFailed))

            doomed = asyncio.ensure_future(
                doomed_client.download(offer2.image_uri, tmp_path / "b.ota", max_block_size=32)
            )
            events = await loop.run_in_executor(None, abort_first)
            with pytest.raises(DownloadError) as aborted:
                await doomed
            return events, aborted.value
        finally:
            d1.close()
            d2.close()

    events, error = asyncio.run(scenario())
    assert error.status_report is not None and "TRANSFER_FAILED" in str(error).upper().replace(" ", "_")
    aborted = next(e for e in events if isinstance(e, TransferFailed)).snapshot
    assert aborted.end.outcome is Outcome.ABORTED and "aborted by the operator" in transfer_end_text(
        aborted.end
    )  # value, and words
    stats = engine.take_snapshot()
    assert stats.transfers_finished == 1 and stats.transfers_failed == 1 and stats.events_dropped == 0


def update_once(engine, node_id: int, destination):
    """One requestor queries (as version 2) and downloads what it is offered."""

    async def scenario():
        client, driver = await client_for(engine, node_id, destination.parent)
        try:
            offer = await client.query_image(0xFFF1, 0x8000, 2)
            return await client.download(offer.image_uri, destination)
        finally:
            driver.close()

    return asyncio.run(scenario())


def test_finished_transfers_count_in_the_stats(engine, tmp_path):
    result = update_once(engine, 0x4020, tmp_path / "c.ota")
    wait_for(engine, lambda e: isinstance(e, TransferFinished))
    assert engine.take_snapshot().bytes_sent_total == result.size


def test_demo_requestors_update_themselves(tmp_path):
    engine = start_engine(tmp_path, demo=True)
    try:
        applied = set()

        def all_applied(event):
            if isinstance(event, UpdateAppliedNotified):
                applied.add(event.peer[1])
            return len(applied) == 3

        wait_for(engine, all_applied, timeout=30)
        assert engine.take_snapshot().transfers_finished == 3
    finally:
        engine.stop()


def test_stopping_ends_a_running_transfer_with_a_status_report(tmp_path):
    engine = start_engine(tmp_path)

    async def scenario():
        client, driver = await client_for(engine, 0x4030, tmp_path)
        try:
            offer = await client.query_image(0xFFF1, 0x8000, 1)
            loop = asyncio.get_running_loop()

            def pause_then_stop():
                started = wait_for(engine, lambda e: isinstance(e, TransferStarted))[-1]
                engine.send(PauseTransfer(started.snapshot.id))
                wait_for(engine, lambda e: isinstance(e, CommandDone))
                engine.stop()

            download = asyncio.ensure_future(client.download(offer.image_uri, tmp_path / "cut.ota", max_block_size=64))
            await loop.run_in_executor(None, pause_then_stop)
            with pytest.raises(DownloadError) as ended:
                await download
            return ended.value
        finally:
            driver.close()

    error = asyncio.run(scenario())
    assert error.status_report is not None
    assert error.status_report.protocol_code == BdxStatus.TRANSFER_FAILED_UNKNOWN_ERROR
    assert not engine.running


def test_mrp_parameters_from_the_command_line_reach_the_peer(tmp_path):
    """--mrp-idle-interval / --mrp-active-interval / --mrp-active-threshold are what a requestor
    learns in the CASE handshake (Sigma2's responder session parameters)."""
    config = parse_config(
        [
            "-f",
            str(SAMPLES / "sample-fff1-8000-v3.ota"),
            "--mrp-idle-interval",
            "800",
            "--mrp-active-interval",
            "2000",
            "--mrp-active-threshold",
            "5000",
        ]
    )
    engine = start_engine(
        tmp_path,
        mrp_idle_interval_ms=config.mrp_idle_interval_ms,
        mrp_active_interval_ms=config.mrp_active_interval_ms,
        mrp_active_threshold_ms=config.mrp_active_threshold_ms,
    )
    try:

        async def scenario():
            client, driver = await requestor(engine, tmp_path, 0x7001)
            driver.close()
            return client.session.peer_parameters

        parameters = asyncio.run(scenario())
    finally:
        engine.stop()
    assert (parameters.idle_interval_ms, parameters.active_interval_ms, parameters.active_threshold_ms) == (
        800,
        2000,
        5000,
    )


def test_the_history_keeps_injected_faults_and_the_transfer_number(engine, tmp_path):
    engine.drain()
    engine.send(ArmKnob(Knob.CORRUPT_BLOCK, 2))
    assert wait_for(engine, lambda e: isinstance(e, CommandDone))[-1].ok

    async def scenario():
        client, driver = await client_for(engine, 0x4011, tmp_path)
        try:
            offer = await client.query_image(0xFFF1, 0x8000, 1)
            with pytest.raises(DownloadError):  # the digest check catches the flipped byte
                await client.download(offer.image_uri, tmp_path / "corrupt.ota")
        finally:
            driver.close()

    asyncio.run(scenario())
    wait_for(engine, lambda e: e.name in ("TransferFinished", "TransferFailed"))
    (row,) = [r for r in engine.history(node_id=0x4011) if r.kind == "transfer"]
    assert row.details["faults"] == ["corrupt block 2"] and row.details["transfer"] >= 1
    assert row.summary.startswith(f"#{row.details['transfer']} ") and "injected faults: corrupt block 2" in row.summary


def test_a_device_download_error_is_told_with_how_our_side_of_it_ended(engine, tmp_path):
    """The device's DownloadError (as the bench reads it from the device's OTA Requestor cluster)
    and our transfer's end are one account: in the event, the headless line and the history."""

    update_once(engine, 0x4030, tmp_path / "d.ota")
    finished = wait_for(engine, lambda e: isinstance(e, TransferFinished))[-1]
    fabric_index = finished.snapshot.peer[0]
    error = DeviceEvent(
        0x4030,
        fabric_index,
        "DownloadError",
        "while downloading version 3: 49237 bytes received (100%), platform code -5",
        7,
    )
    engine._loop.call_soon_threadsafe(engine.bench.emit, error)
    told = wait_for(engine, lambda e: isinstance(e, DeviceEvent))[-1]
    assert told.ours == (
        f"our side: transfer #{finished.snapshot.id} complete (every byte sent and acknowledged: "
        "the device failed after, in its storage or its check)"
    )
    assert event_text(told).endswith(told.ours) and "platform code -5" in event_text(told)
    row = [r for r in engine.history(node_id=0x4030) if r.kind == "device"][-1]
    assert row.summary.startswith("DownloadError: while downloading version 3") and told.ours in row.summary


def test_a_changed_image_list_is_read_again_without_waiting_for_a_query(tmp_path):
    """The Images tab and ctl images follow the files: a list edited on disk is loaded within
    seconds, with no requestor asking."""
    images = tmp_path / "images"
    images.mkdir()
    for ota in SAMPLES.glob("*.ota"):
        shutil.copy(ota, images)
    text = re.sub(r"(?m)^\s*//.*$|/\*.*?\*/", "", IMAGE_LIST.read_text())  # JSON with comments -> JSON
    listing = json.loads(text)
    (images / "list.json").write_text(json.dumps(listing))
    engine = start_engine(tmp_path / "state", image_list=images / "list.json")
    try:
        wait_for(engine, lambda e: isinstance(e, Listening))
        assert len(engine.snapshot().images) == 3
        listing["deviceSoftwareVersionModel"].pop()
        (images / "list.json").write_text(json.dumps(listing))
        changed = wait_for(engine, lambda e: e.name == "ImagesChanged", timeout=10)[-1]
        assert changed.count == 2 and "2 images" in event_text(changed)
        for _ in range(20):
            if len(engine.snapshot().images) == 2:
                break
            asyncio.run(asyncio.sleep(0.1))
        assert [i.software_version for i in engine.snapshot().images] == [1, 2]
    finally:
        engine.stop()


def test_transfer_numbers_go_on_across_restarts_of_one_state_directory(tmp_path):
    """'#2' names one transfer in a state directory: a restarted provider does not begin at #1 again
    (the history had two different '#1's)."""
    numbers = []
    for run in range(2):
        engine = start_engine(tmp_path)
        try:
            update_once(engine, 0x4030 + run, tmp_path / f"{run}.ota")
            numbers.append(wait_for(engine, lambda e: isinstance(e, TransferFinished))[-1].snapshot.id)
        finally:
            engine.stop()
    assert numbers == [1, 2]


def test_a_headless_engine_takes_no_snapshots_until_a_subscriber_asks(tmp_path, monkeypatch):
    """Lines are made from events: with no dashboard or client reading snapshots, none is taken
    (ten a second while a transfer runs would be CPU spent on nothing)."""
    taken = []
    real = ProviderEngine.take_snapshot
    monkeypatch.setattr(ProviderEngine, "take_snapshot", lambda self: taken.append(1) or real(self))
    config = ProviderConfig(image_list=IMAGE_LIST, port=0, demo_fabric=True)
    engine = ProviderEngine(config, ImageCatalog.from_list(IMAGE_LIST), storage=tmp_path, dnssd=False, host="::1")
    engine.events_only()
    engine.start()
    try:
        wait_for(engine, lambda e: isinstance(e, Listening))
        at_start = len(taken)  # the one a front end has from the start
        time.sleep(0.6)
        idle = len(taken) - at_start
        client, _ = engine.subscribe(snapshots=True)
        time.sleep(0.6)
        asked = len(taken) - at_start - idle
        received = client.take(1000)
    finally:
        engine.stop()
    assert idle == 0
    assert asked >= 1 and any(isinstance(e, EngineSnapshot) for e in received)
