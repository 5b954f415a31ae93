"""Pilot tests: the dashboard over the real engine, with a real requestor client checking what
actually went over the wire."""

from __future__ import annotations

import asyncio

import pytest

from ota_provider.core.client.requestor import DownloadError
from ota_provider.core.ota.types import ApplyUpdateAction, QueryImageStatus
from ota_provider.tui.app import ProviderDashboard
from tests.engine_helpers import requestor, start_engine

UA, BUSY = QueryImageStatus.UPDATE_AVAILABLE, QueryImageStatus.BUSY


@pytest.fixture
def engine(tmp_path):
    engine = start_engine(tmp_path)
    yield engine
    engine.stop()


async def connect(engine, tmp_path, node_id):
    return await requestor(engine, tmp_path, node_id)


async def until(pilot, condition, timeout=5.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await pilot.pause(0.05)


def test_busy_one_shot_from_the_controls_answers_exactly_the_next_query(engine, tmp_path):
    async def scenario():
        app = ProviderDashboard(engine)
        async with app.run_test(size=(160, 48)) as pilot:
            app.query_one("#query-status").value = BUSY
            await pilot.press("a")
            await until(pilot, lambda: "BUSY" in str(app.query_one("#armed").render()))
            client, driver = await connect(engine, tmp_path, 0x7001)
            try:
                statuses = [(await client.query_image(0xFFF1, 0x8000, 1)).status for _ in range(2)]
            finally:
                driver.close()
            await until(pilot, lambda: app.requestor_table.row_count == 1)
            await until(pilot, lambda: "nothing armed" in str(app.query_one("#armed").render()))
            await until(pilot, lambda: app.requestor_table.get_row("1:28673")[4] == "offered")
            row = app.requestor_table.get_row("1:28673")
            return statuses, row

    statuses, row = asyncio.run(scenario())
    assert statuses == [BUSY, UA]
    assert row[0] == "0x0000000000007001" and row[3] == "1 -> 3" and row[4] == "offered"


def test_sticky_apply_action_for_one_node(engine, tmp_path):
    async def scenario():
        app = ProviderDashboard(engine)
        async with app.run_test(size=(160, 48)) as pilot:
            client, driver = await connect(engine, tmp_path, 0x7002)
            other, other_driver = await connect(engine, tmp_path, 0x7003)
            try:
                offer = await client.query_image(0xFFF1, 0x8000, 1)
                other_offer = await other.query_image(0xFFF1, 0x8000, 1)
                await until(pilot, lambda: app.requestor_table.row_count == 2)
                app.query_one("#apply-action").value = ApplyUpdateAction.AWAIT_NEXT_ACTION
                app.query_one("#sticky").value = True
                app.query_one("#target").value = f"1:{0x7002}"
                app.query_one("#arm").scroll_visible(animate=False)
                await pilot.pause(0.1)
                await pilot.click("#arm")
                await until(pilot, lambda: "sticky, node 0x0000000000007002" in str(app.query_one("#armed").render()))
                actions = [(await client.apply_update(offer.update_token, 3)).action for _ in range(2)]
                actions.append((await other.apply_update(other_offer.update_token, 3)).action)
            finally:
                driver.close()
                other_driver.close()
            return actions

    wait, go = ApplyUpdateAction.AWAIT_NEXT_ACTION, ApplyUpdateAction.PROCEED
    assert asyncio.run(scenario()) == [wait, wait, go]


def test_arming_with_nothing_set_says_so(engine):
    async def scenario():
        app = ProviderDashboard(engine)
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.press("a")
            await pilot.pause(0.2)
            return [n.message for n in app._notifications]

    assert any("nothing to arm" in message for message in asyncio.run(scenario()))


def test_commissioning_and_images_tabs(engine):
    async def scenario():
        app = ProviderDashboard(engine)
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.press("c")
            await pilot.pause(0.1)
            active = app.query_one("#tabs").active
            codes = str(app.query_one("#codes").render())
            await pilot.press("i")
            await pilot.pause(0.1)
            images = app.query_one("#images").row_count
            return active, codes, images

    active, codes, images = asyncio.run(scenario())
    assert active == "tab-commissioning"
    assert "MT:Y.K90AFN00KA0648G00" in codes and "3497-011-2332" in codes
    assert images == 3


def test_log_filter_and_status_line(engine, tmp_path):
    async def scenario():
        app = ProviderDashboard(engine)
        async with app.run_test(size=(160, 48)) as pilot:
            client, driver = await connect(engine, tmp_path, 0x7010)
            try:
                await client.query_image(0xFFF1, 0x8000, 1)
            finally:
                driver.close()
            await until(pilot, lambda: any("QueryImage" in line for line in app.log_view.lines))
            app.query_one("#filter").value = "update_available"

            def filtered_only():
                lines = list(app.log_view.lines)
                return bool(lines) and all("UPDATE_AVAILABLE" in line for line in lines)

            await until(pilot, filtered_only)
            filtered = list(app.log_view.lines)
            return filtered, app.sub_title

    filtered, sub_title = asyncio.run(scenario())
    assert filtered and all("UPDATE_AVAILABLE" in line for line in filtered)
    assert f"UDP port {engine.port}" in sub_title and "fabric 1: node 0x0000000000000001 (demo)" in sub_title


def test_enter_on_a_requestor_shows_its_exchanges(engine, tmp_path):
    async def scenario():
        app = ProviderDashboard(engine)
        async with app.run_test(size=(160, 48)) as pilot:
            for node_id in (0x7020, 0x7021):
                client, driver = await connect(engine, tmp_path, node_id)
                try:
                    await client.query_image(0xFFF1, 0x8000, 3)
                finally:
                    driver.close()
            await until(pilot, lambda: app.requestor_table.row_count == 2)
            app.requestor_table.focus()
            await pilot.press("enter")
            await pilot.pause(0.2)
            lines = list(app.screen.query_one("#detail-log").lines)
            await pilot.press("escape")
            await pilot.pause(0.1)
            return lines, type(app.screen).__name__

    lines, screen_after = asyncio.run(scenario())
    assert lines and all("0x0000000000007020" in line for line in lines)
    assert any("NOT_AVAILABLE" in line for line in lines)
    assert screen_after == "Screen"


def test_history_tab_and_export(engine, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    async def scenario():
        app = ProviderDashboard(engine)
        async with app.run_test(size=(160, 48)) as pilot:
            client, driver = await connect(engine, tmp_path, 0x7030)
            try:
                await client.query_image(0xFFF1, 0x8000, 3)
            finally:
                driver.close()
            await pilot.press("h")
            await pilot.pause(0.1)
            rows = app.query_one("#history").row_count
            await pilot.press("w")
            await pilot.pause(0.1)
            await pilot.press("e")
            await pilot.press("w")
            await pilot.pause(0.1)
            return rows

    assert asyncio.run(scenario()) >= 1
    (csv_file,) = tmp_path.glob("ota-provider-history-*.csv")
    assert "NOT_AVAILABLE" in csv_file.read_text()
    (log_file,) = tmp_path.glob("ota-provider-log-*.txt")
    assert "QueryImage" in log_file.read_text()


def test_fault_and_forced_image_from_the_controls(engine, tmp_path):
    async def scenario():
        app = ProviderDashboard(engine)
        async with app.run_test(size=(160, 48)) as pilot:
            app.query_one("#fault").value = "CORRUPT_BLOCK"
            app.query_one("#fault-block").value = "3"
            app.query_one("#forced-image").value = "1"
            await pilot.press("a")
            await until(pilot, lambda: "corrupt block = 3" in str(app.query_one("#armed").render()))
            client, driver = await connect(engine, tmp_path, 0x7040)
            try:
                offer = await client.query_image(0xFFF1, 0x8000, 3)  # up to date, but the image is forced
                try:
                    await client.download(offer.image_uri, tmp_path / "x.ota")
                    outcome = "verified"
                except DownloadError as exc:
                    outcome = str(exc)
            finally:
                driver.close()
            return offer.software_version, outcome

    version, outcome = asyncio.run(scenario())
    assert version == 2 and "does not verify" in outcome
