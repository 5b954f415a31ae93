"""The dashboard attached to a provider through its control socket (``ota-provider attach``): the
same screen over the real engine, in step with another client watching, and quitting detaches."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from ota_provider.core.api.client import ProviderClient
from ota_provider.core.api.link import SocketLink
from ota_provider.core.ota.types import QueryImageStatus
from ota_provider.tui.app import ProviderDashboard
from tests.helpers.dashboard import armed_text, cell, until
from tests.helpers.engine_helpers import requestor, start_engine


@pytest.fixture
def engine(tmp_path):
    engine = start_engine(tmp_path, control=str(tmp_path / "control.sock"))
    yield engine
    engine.stop()


def test_the_attached_dashboard_follows_and_drives_the_provider_with_another_client_watching(engine, tmp_path):
    link = SocketLink(str(tmp_path / "control.sock"), export_dir=tmp_path / "exports")
    shown: list[tuple[int, str]] = []
    drain = link.drain

    def recording_drain(limit=1000):
        events = drain(limit)
        shown.extend((e.seq, e.name) for e in events)
        return events

    link.drain = recording_drain
    watcher = ProviderClient.attach(tmp_path / "control.sock")
    watched: list[tuple[int, str]] = []
    stop = threading.Event()

    def watch():
        while not stop.is_set():
            event = watcher.next_event(timeout=0.2)
            if event is not None:
                watched.append((event.seq, event.name))

    def arm_and_disarm():  # a third client, changing knobs all along
        with ProviderClient.attach(tmp_path / "control.sock", subscribe=False) as armer:
            while not stop.is_set():
                armer.arm("delayedApplyActionTimeSec", 5, sticky=True)
                armer.disarm("delayedApplyActionTimeSec")

    thread = threading.Thread(target=watch)
    thread.start()
    third = threading.Thread(target=arm_and_disarm)
    third.start()

    async def scenario():
        app = ProviderDashboard(link)
        async with app.run_test(size=(160, 48)) as pilot:
            client, driver = await requestor(engine, tmp_path, 0xD001)
            try:
                await client.query_image(0xFFF1, 0x8000, 1)
                await until(pilot, lambda: app.requestor_table.row_count == 1)
                app.requestor_table.focus()
                await pilot.press("b")  # Busy once for the selected requestor, through the socket
                await until(pilot, lambda: "busy" in armed_text(app))
                answer = await client.query_image(0xFFF1, 0x8000, 1)
                await until(pilot, lambda: "Busy" in cell(app, f"1:{0xD001}", "last exchange"))
                await pilot.press("h")  # the History tab: its rows come from the engine, asked for
                await until(pilot, lambda: app.query_one("#history").row_count >= 2)
                where = str(app.where_view.render())
                await pilot.press("q")  # attached: it detaches at once, without asking
                await pilot.pause(0.2)
                return answer, where, app.return_code
            finally:
                driver.close()

    try:
        answer, where, _ = asyncio.run(scenario())
    finally:
        stop.set()
        thread.join()
        third.join()
        watcher.close()
        link.close()
    assert answer.status == QueryImageStatus.BUSY
    assert "attached, pid" in where and "UDP" in where and "fabric 1" in where, where
    assert engine.running  # quitting the attached dashboard left the provider running
    # From the later start to the earlier end, both front ends saw the same events in the same order.
    logged = [item for item in shown if item[1] != "EngineSnapshot"]
    start, end = max(logged[0][0], watched[0][0]), min(logged[-1][0], watched[-1][0])
    assert [i for i in logged if start <= i[0] <= end] == [i for i in watched if start <= i[0] <= end]
    assert sum(1 for _, name in logged if name == "QueryImageResponse") == 2
    assert sum(1 for _, name in logged if name == "CommandDone") > 10  # the third client's, among them


def test_attached_exports_go_to_the_state_directory_and_old_transfers_are_not_shown_as_just_ended(engine, tmp_path):
    """The attached dashboard writes where the provider's own does (its state directory's exports/,
    not the working directory), and a transfer that ended before it attached is not kept in the
    table as if it had just finished."""

    async def update_before_attaching():
        client, driver = await requestor(engine, tmp_path, 0xD011)
        try:
            offer = await client.query_image(0xFFF1, 0x8000, 1)
            await client.download(offer.image_uri, tmp_path / "before.ota")
        finally:
            driver.close()

    asyncio.run(update_before_attaching())
    time.sleep(0.5)
    link = SocketLink(str(tmp_path / "control.sock"))

    async def scenario():
        app = ProviderDashboard(link, clock=lambda: time.time() + 60)  # a minute after it ended
        async with app.run_test(size=(160, 48)) as pilot:
            await until(pilot, lambda: app.requestor_table.row_count == 1)
            await pilot.pause(0.5)
            return app.transfer_table.row_count, app.export_dir

    try:
        rows, export_dir = asyncio.run(scenario())
    finally:
        link.close()
    assert export_dir == tmp_path / "exports"
    assert rows == 0
