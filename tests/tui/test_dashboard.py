"""Pilot tests: the dashboard over the real engine, with a real requestor client checking what
actually went over the wire."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import stat

import pytest

from ota_provider.core.api.events import DeviceMismatch, DeviceState, EngineError, Stopped
from ota_provider.core.api.link import LocalLink
from ota_provider.core.client.requestor import CommandFailed, DownloadError
from ota_provider.core.codec.status_report import BdxStatus
from ota_provider.core.commissioner.mismatch import MISMATCH_ADVICE
from ota_provider.core.config import ProviderConfig
from ota_provider.core.engine import ProviderEngine
from ota_provider.core.ota.catalog import ImageCatalog
from ota_provider.core.ota.types import ApplyUpdateAction, QueryImageStatus, UpdateState, UserConsentState
from ota_provider.tui.app import ProviderDashboard
from ota_provider.tui.screens import ArmScreen, ConfirmScreen, RequestorDetail
from tests.helpers.dashboard import arm, armed_text, cell, queried, until
from tests.helpers.engine_helpers import IMAGE_LIST, requestor, start_engine
from tests.helpers.samples import SAMPLES
from tests.tui.fake_engine import scripted_dashboard, settle

UA, BUSY = QueryImageStatus.UPDATE_AVAILABLE, QueryImageStatus.BUSY


@pytest.fixture
def engine(tmp_path):
    engine = start_engine(tmp_path)
    yield engine
    engine.stop()


def test_busy_one_shot_from_the_controls_answers_exactly_the_next_query(engine, tmp_path):
    async def scenario():
        app = ProviderDashboard(LocalLink(engine))
        async with app.run_test(size=(160, 48)) as pilot:
            await arm(pilot, app, "QueryImage status busy", query_status=BUSY)
            client, driver = await requestor(engine, tmp_path, 0x7001)
            try:
                statuses = [(await client.query_image(0xFFF1, 0x8000, 1)).status for _ in range(2)]
            finally:
                driver.close()
            await until(pilot, lambda: app.requestor_table.row_count == 1)
            await until(pilot, lambda: "nothing armed" in armed_text(app))
            await until(pilot, lambda: cell(app, "1:28673", "state") == "offered")
            used = str(app.query_one("#used").render())
            row = [cell(app, "1:28673", column) for column in ("node", "version", "state")]
            return statuses, row, used

    statuses, row, used = asyncio.run(scenario())
    assert statuses == [BUSY, UA]
    assert row == ["7001", "1 -> 3", "offered"]
    assert "7001 used QueryImage status busy (one-shot, all requestors)" in used


def test_sticky_apply_action_for_one_node(engine, tmp_path):
    async def scenario():
        app = ProviderDashboard(LocalLink(engine))
        async with app.run_test(size=(160, 48)) as pilot:
            client, driver = await requestor(engine, tmp_path, 0x7002)
            other, other_driver = await requestor(engine, tmp_path, 0x7003)
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
                await until(pilot, lambda: "sticky, node 7002" in str(app.query_one("#armed").render()))
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
        app = ProviderDashboard(LocalLink(engine))
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.press("a")
            await pilot.pause(0.2)
            return [n.message for n in app._notifications]

    assert any("nothing to arm" in message for message in asyncio.run(scenario()))


def test_commissioning_and_images_tabs(engine):
    async def scenario():
        app = ProviderDashboard(LocalLink(engine))
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
        app = ProviderDashboard(LocalLink(engine))
        async with app.run_test(size=(160, 48)) as pilot:
            client, driver = await requestor(engine, tmp_path, 0x7010)
            try:
                await client.query_image(0xFFF1, 0x8000, 1)
            finally:
                driver.close()
            await until(pilot, lambda: any("QueryImage" in line for line in app.log_view.lines))
            app.query_one("#filter").value = "updateavailable"

            def filtered_only():
                lines = list(app.log_view.lines)
                return bool(lines) and all("UpdateAvailable" in line for line in lines)

            await until(pilot, filtered_only)
            filtered = list(app.log_view.lines)
            return filtered, app.sub_title, str(app.query_one("#where").render())

    filtered, sub_title, where = asyncio.run(scenario())
    assert filtered and all("UpdateAvailable" in line for line in filtered)
    assert f"UDP {engine.port}" in where and "fabric 1: 0x1 (demo)" in where
    assert "1 requestor · 0 transfers" in sub_title  # a count and its noun as written


def test_enter_on_a_requestor_shows_its_exchanges(engine, tmp_path):
    async def scenario():
        app = ProviderDashboard(LocalLink(engine))
        async with app.run_test(size=(160, 48)) as pilot:
            for node_id in (0x7020, 0x7021):
                client, driver = await requestor(engine, tmp_path, node_id)
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
    text = "\n".join(lines)
    assert "QueryImageResponse" in text and "      status = NotAvailable" in text
    assert "      softwareVersion = 3" in text and "      vendorId = 0xFFF1" in text  # every decoded field
    assert " query: " in text.split("History")[-1]  # its history rows too
    assert screen_after == "Screen"


def test_history_tab_and_export(engine, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    async def scenario():
        app = ProviderDashboard(LocalLink(engine))
        async with app.run_test(size=(160, 48)) as pilot:
            client, driver = await requestor(engine, tmp_path, 0x7030)
            try:
                await client.query_image(0xFFF1, 0x8000, 3)
            finally:
                driver.close()
            await pilot.press("h")
            await pilot.pause(0.1)
            table = app.query_one("#history")
            rows = table.row_count
            # Columns as wide as their content, not cut to the width they had while the tab was hidden.
            summary = str(table.get_row_at(0)[-1])
            widths = {str(c.label): c.get_render_width(table) for c in table.columns.values()}
            assert widths["summary"] >= len(summary) > 4 and widths["time"] >= len("2026-01-01T00:00:00")
            await pilot.press("w")
            await pilot.pause(0.1)
            await pilot.press("e")
            await pilot.press("w")
            await pilot.pause(0.1)
            return rows

    assert asyncio.run(scenario()) >= 1
    exports = engine.storage / "exports"  # the default folder: the state directory's exports/
    (csv_file,) = exports.glob("ota-provider-history-*.csv")
    assert "NOT_AVAILABLE" in csv_file.read_text()
    (log_file,) = exports.glob("ota-provider-log-*.txt")
    # Owner-only, like the state: exports name the bench's requestors and fabrics.
    assert stat.S_IMODE(exports.stat().st_mode) == 0o700
    assert {stat.S_IMODE(f.stat().st_mode) for f in (csv_file, log_file)} == {0o600}
    lines = log_file.read_text().splitlines()
    assert any("QueryImage" in line for line in lines)
    # Every exported line carries its date (ISO 8601, UTC, milliseconds) and the full node id.
    assert all(re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ", line) for line in lines)
    assert any("node 0x0000000000007030" in line for line in lines)


def test_fault_and_forced_image_from_the_controls(engine, tmp_path):
    async def scenario():
        app = ProviderDashboard(LocalLink(engine))
        async with app.run_test(size=(160, 48)) as pilot:
            await arm(pilot, app, "corrupt block 3", fault="CORRUPT_BLOCK", fault_block="3", forced_image="1")
            client, driver = await requestor(engine, tmp_path, 0x7040)
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


def test_consent_one_shot_then_provider_consent_denied(engine, tmp_path):
    async def scenario():
        app = ProviderDashboard(LocalLink(engine))
        async with app.run_test(size=(160, 48)) as pilot:
            await arm(pilot, app, "user consent needed yes", consent=True)
            client, driver = await requestor(engine, tmp_path, 0x7050)
            try:
                asked = [(await client.query_image(0xFFF1, 0x8000, 1)).user_consent_needed for _ in range(2)]
                await arm(pilot, app, "provider consent denied", consent=False, consent_state=UserConsentState.DENIED)
                # provider-side consent is asked only when the requestor will not ask its user
                statuses = [
                    (await client.query_image(0xFFF1, 0x8000, 1, requestor_can_consent=False)).status for _ in range(2)
                ]
            finally:
                driver.close()
            return asked, statuses

    asked, statuses = asyncio.run(scenario())
    assert asked == [True, False]
    assert statuses == [QueryImageStatus.NOT_AVAILABLE, UA]


def test_ignore_n_queries_and_one_shot_apply_action(engine, tmp_path):
    async def scenario():
        app = ProviderDashboard(LocalLink(engine))
        async with app.run_test(size=(160, 48)) as pilot:
            await arm(
                pilot, app, "ignore QueryImage 2 more", ignore_query="2", apply_action=ApplyUpdateAction.DISCONTINUE
            )
            await until(pilot, lambda: "discontinue" in armed_text(app))
            client, driver = await requestor(engine, tmp_path, 0x7060)
            outcomes = []
            try:
                for _ in range(3):
                    try:
                        outcomes.append((await client.query_image(0xFFF1, 0x8000, 1, timeout=1.0)).status)
                    except (TimeoutError, CommandFailed):
                        outcomes.append("no answer")
                token = (await client.query_image(0xFFF1, 0x8000, 1)).update_token
                actions = [(await client.apply_update(token, 3)).action for _ in range(2)]
            finally:
                driver.close()
            await until(pilot, lambda: "nothing armed" in armed_text(app))
            await until(pilot, lambda: cell(app, f"1:{0x7060}", "state") == "applying")
            return outcomes, actions

    outcomes, actions = asyncio.run(scenario())
    assert outcomes == ["no answer", "no answer", UA]
    assert actions == [ApplyUpdateAction.DISCONTINUE, ApplyUpdateAction.PROCEED]


@pytest.fixture
def slow_engine(tmp_path):
    engine = start_engine(tmp_path, poll_interval_ms=20)  # 20 ms per block: a transfer lasts seconds
    yield engine
    engine.stop()


def test_pause_throttle_resume_and_abort_a_transfer(slow_engine, tmp_path):
    engine = slow_engine

    async def scenario():
        app = ProviderDashboard(LocalLink(engine))
        async with app.run_test(size=(160, 48)) as pilot:
            client, driver = await requestor(engine, tmp_path, 0x7070)
            received = []
            try:
                offer = await client.query_image(0xFFF1, 0x8000, 1)
                download = asyncio.ensure_future(
                    client.download(
                        offer.image_uri,
                        tmp_path / "a.ota",
                        max_block_size=64,
                        block_timeout=10,
                        on_block=lambda blocks, size: received.append(size),
                    )
                )
                await until(pilot, lambda: app.transfer_table.row_count == 1 and received)
                app.transfer_table.focus()
                await pilot.press("p")
                await until(pilot, lambda: app.transfer_table.get_row_at(0)[-1] == "paused")
                await pilot.pause(0.3)  # a Block already on its way may still land
                at_pause = len(received)
                await pilot.pause(1.0)
                still = len(received)
                await pilot.press("t")
                await until(pilot, lambda: app.transfer_table.get_row_at(0)[-1] == "paused")  # throttle keeps pause
                await pilot.press("u")
                await until(pilot, lambda: app.transfer_table.get_row_at(0)[-1] == "paced 0.1 s")
                await until(pilot, lambda: len(received) > still)
                await pilot.press("x")
                await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))  # abort asks first
                await pilot.press("y")
                with pytest.raises(DownloadError) as aborted:
                    await download
                # The ended transfer stays in the table a while, saying how it ended.
                await until(
                    pilot, lambda: app.transfer_table.get_row_at(0)[-1] not in ("running", "paced 0.1 s", "ending")
                )
                ended_state = app.transfer_table.get_row_at(0)[-1]
                await until(pilot, lambda: cell(app, f"1:{0x7070}", "state") == "failed")
            finally:
                driver.close()
            return at_pause, still, aborted.value.status_report, ended_state

    at_pause, still, report, ended_state = asyncio.run(scenario())
    assert ended_state == "aborted"
    assert at_pause == still  # nothing moved while paused
    # the requestor was told, in a BDX StatusReport (protocol 0x0002)
    assert (report.protocol_id, report.protocol_code) == (0x0002, BdxStatus.TRANSFER_FAILED_UNKNOWN_ERROR)


def test_commissioning_window_and_fabric_removal(engine):
    async def scenario():
        app = ProviderDashboard(LocalLink(engine))
        async with app.run_test(size=(160, 48)) as pilot:
            await pilot.press("c")
            fabrics = app.query_one("#fabrics")
            await until(pilot, lambda: fabrics.row_count == 1)
            listed = fabrics.get_row_at(0)
            await pilot.press("o")
            await until(
                pilot,
                lambda: (
                    "closes in 15:00" in str(app.query_one("#window").render())
                    or "closes in 14:5" in str(app.query_one("#window").render())
                ),
            )
            await pilot.press("delete")
            await until(pilot, lambda: type(app.screen).__name__ == "ConfirmScreen")
            await pilot.press("y")
            await until(pilot, lambda: fabrics.row_count == 0)
            return listed, str(app.query_one("#where").render())

    listed, where = asyncio.run(scenario())
    assert listed[1:4] == ["demo", "0xFFF1", "0x0000000000000001"]
    assert "window open" in where and "fabric 1" not in where


def test_log_kind_filter_help_and_command_palette(engine, tmp_path):
    async def scenario():
        app = ProviderDashboard(LocalLink(engine))
        async with app.run_test(size=(160, 48)) as pilot:
            client, driver = await requestor(engine, tmp_path, 0x7080)
            try:
                token = (await client.query_image(0xFFF1, 0x8000, 1)).update_token
                await client.apply_update(token, 3)
            finally:
                driver.close()
            await until(pilot, lambda: any("ApplyUpdate" in line for line in app.log_view.lines))
            app.query_one("#kind").value = "ApplyUpdate"
            await until(pilot, lambda: all("ApplyUpdate" in line or "->" in line for line in app.log_view.lines))
            shown = list(app.log_view.lines)
            await pilot.press("y")
            copied = app.clipboard
            await pilot.press("Y")
            copied = (copied, app.clipboard)
            await pilot.press("question_mark")
            await until(pilot, lambda: type(app.screen).__name__ == "HelpScreen")
            await pilot.press("escape")
            commands = [command.title for command in app.get_system_commands(app.screen)]
            return shown, commands, copied

    shown, commands, copied = asyncio.run(scenario())
    assert copied == ("MT:Y.K90AFN00KA0648G00", "34970112332")  # y: the QR payload; Y: the manual code
    assert len(shown) == 2 and "ApplyUpdateRequest for version 3" in shown[0] and "Proceed" in shown[1]
    for title in (
        "Pause transfer",
        "Abort transfer",
        "Open commissioning window",
        "Remove fabric",
        "Reload images",
        "Arm the next-response controls",
        "Throttle transfer",
        "SVG screenshot",
        "Copy setup code",
    ):
        assert title in commands


def test_a_stopped_engine_is_shown():
    """If the engine thread dies, the screen says so instead of showing stale figures as live."""

    async def scenario():
        app = scripted_dashboard()
        app.engine._pending += [EngineError("engine stopped: disk full"), Stopped()]
        async with app.run_test(size=(160, 48)) as pilot:
            await settle(pilot)
            return str(app.query_one("#where").render()), [n.message for n in app._notifications]

    where, messages = asyncio.run(scenario())
    assert where.startswith("PROVIDER STOPPED · ") and "UDP 5540" in where
    assert "engine stopped: disk full" in messages and any("the provider stopped" in m for m in messages)


def test_resizing_with_transfers_running_keeps_serving_and_fits_the_final_width(slow_engine, tmp_path):
    """160x48 -> 120x40 -> 100x30 -> 80x24 -> 160x48 with a transfer row present: the engine keeps
    serving (the client's download completes), the columns follow the real width, the log follows."""
    engine = slow_engine

    async def scenario():
        app = ProviderDashboard(LocalLink(engine))
        async with app.run_test(size=(160, 48)) as pilot:
            client, driver = await requestor(engine, tmp_path, 0x7090)
            try:
                offer = await client.query_image(0xFFF1, 0x8000, 1)
                download = asyncio.ensure_future(client.download(offer.image_uri, tmp_path / "r.ota"))
                await until(pilot, lambda: app.transfer_table.row_count == 1)
                columns = {}
                for width, height in ((120, 40), (100, 30), (80, 24), (160, 48)):
                    await pilot.resize_terminal(width, height)
                    await until(pilot, lambda w=width: app.size.width == w)
                    await pilot.pause(0.3)
                    columns[width] = [str(c.label) for c in app.transfer_table.columns.values()]
                await pilot.resize_terminal(100, 30)
                await until(pilot, lambda: app.size.width == 100)
                result = await asyncio.wait_for(download, 30)
                await pilot.pause(0.3)
                narrow_after = [str(c.label) for c in app.transfer_table.columns.values()]
                following = app.log_view.auto_scroll and app.log_view.is_vertical_scroll_end
            finally:
                driver.close()
            return columns, narrow_after, result, following, app.return_code

    columns, narrow_after, result, following, code = asyncio.run(scenario())
    assert result.size > 0 and code in (None, 0)
    assert columns[160] == ["#", "node", "progress", "bytes", "blocks", "block", "resent", "rate", "ETA", "state"]
    assert columns[120] == ["#", "node", "progress", "bytes", "resent", "rate", "ETA", "state"]
    assert columns[100] == narrow_after == ["#", "node", "progress", "rate", "ETA", "state"]
    assert columns[80] == ["#", "node", "progress", "state"]
    assert following


def test_a_display_fault_is_shown_and_the_provider_keeps_serving(engine, tmp_path, monkeypatch):
    async def scenario():
        app = ProviderDashboard(LocalLink(engine))
        async with app.run_test(size=(160, 48)) as pilot:
            faults = iter([RuntimeError("a drawing bug")])

            def broken_header(stats):
                fault = next(faults, None)
                if fault is not None:
                    raise fault

            monkeypatch.setattr(app, "_show_header", broken_header)
            await until(pilot, lambda: any("dashboard error" in line.text for line in app.exchange_log.lines))
            client, driver = await requestor(engine, tmp_path, 0x70A0)
            try:
                status = (await client.query_image(0xFFF1, 0x8000, 1)).status
            finally:
                driver.close()
            await pilot.pause(0.3)
            return (
                status,
                app.is_running,
                [line.text for line in app.exchange_log.lines if "dashboard error" in line.text],
            )

    status, running, faults = asyncio.run(scenario())
    assert status == UA and running
    assert len(faults) == 1 and "RuntimeError: a drawing bug" in faults[0]


def test_one_press_of_arm_shapes_one_response_or_nothing(engine, tmp_path):
    """Busy with a delay is one response; busy with a delay the engine refuses arms nothing."""

    async def scenario():
        app = ProviderDashboard(LocalLink(engine))
        async with app.run_test(size=(160, 48)) as pilot:
            await arm(pilot, app, "busy delay 30 s", query_status=BUSY, query_delay="30")
            client, driver = await requestor(engine, tmp_path, 0x70B0)
            try:
                first = await client.query_image(0xFFF1, 0x8000, 1)
                second = await client.query_image(0xFFF1, 0x8000, 1)
                app.query_one("#query-status").value = BUSY
                app.query_one("#query-delay").value = str(1 << 33)  # more than DelayedActionTime's 32 bits
                await pilot.press("a")
                await until(pilot, lambda: any("outside 0..4294967295" in n.message for n in app._notifications))
                await pilot.pause(0.3)
                third = await client.query_image(0xFFF1, 0x8000, 1)
                # The Armed box follows the engine's snapshots (sampled twice a second), not each query.
                await until(pilot, lambda: "nothing armed" in armed_text(app))
            finally:
                driver.close()
            return first, second, third, armed_text(app)

    first, second, third, armed = asyncio.run(scenario())
    assert (first.status, first.delayed_action_time) == (BUSY, 30)
    assert second.status == UA
    assert third.status == UA and "nothing armed" in armed  # the refused delay armed no busy either


def test_the_target_list_keeps_its_highlight_while_requestors_talk(engine, tmp_path):
    async def scenario():
        app = ProviderDashboard(LocalLink(engine))
        async with app.run_test(size=(160, 48)) as pilot:
            clients = await queried(engine, tmp_path, (0x70C1, 0x70C2), version=3)
            try:
                await until(pilot, lambda: len(app.query_one("#target")._options) == 3)
                target = app.query_one("#target")
                target.focus()
                await pilot.press("enter", "down", "down")
                await clients[0][0].query_image(0xFFF1, 0x8000, 3)  # a requestor event arrives meanwhile
                await pilot.pause(0.4)
                await pilot.press("enter")
                await pilot.pause(0.1)
            finally:
                for _, driver in clients:
                    driver.close()
            return app.controls.target

    assert asyncio.run(scenario()) == (1, 0x70C2)


def test_the_images_follow_an_automatic_reload_and_a_bad_list_is_reported_once(tmp_path):
    folder = tmp_path / "images"
    folder.mkdir()
    for name in ("sample-fff1-8000-v1.ota", "sample-fff1-8000-v3.ota"):
        shutil.copy(SAMPLES / name, folder / name)
    entry = {
        "vendorId": 65521,
        "productId": 32768,
        "softwareVersion": 3,
        "softwareVersionString": "3.0.0",
        "cDVersionNumber": 1,
        "softwareVersionValid": True,
        "minApplicableSoftwareVersion": 1,
        "maxApplicableSoftwareVersion": 2,
        "otaURL": "sample-fff1-8000-v3.ota",
    }
    image_list = folder / "list.json"
    image_list.write_text(json.dumps({"deviceSoftwareVersionModel": [entry]}))
    engine = start_engine(tmp_path / "state", image_list=image_list)
    try:

        async def scenario():
            app = ProviderDashboard(LocalLink(engine))
            async with app.run_test(size=(160, 48)) as pilot:
                images = app.query_one("#images")
                before = images.row_count
                older = {
                    **entry,
                    "softwareVersion": 1,
                    "softwareVersionString": "1.0.0",
                    "minApplicableSoftwareVersion": 0,
                    "maxApplicableSoftwareVersion": 0,
                    "otaURL": "sample-fff1-8000-v1.ota",
                }
                image_list.write_text(json.dumps({"deviceSoftwareVersionModel": [older, entry]}))
                client, driver = await requestor(engine, tmp_path / "state", 0x70D0)
                try:
                    await client.query_image(0xFFF1, 0x8000, 1)  # the provider notices the change here
                    await until(pilot, lambda: images.row_count == 2)
                    options = len(app.query_one("#forced-image")._options)
                    image_list.write_text("{ not json")
                    for _ in range(3):
                        await client.query_image(0xFFF1, 0x8000, 1)
                    await pilot.pause(0.5)
                finally:
                    driver.close()
                errors = [line.text for line in app.exchange_log.lines if "image catalog not reloaded" in line.text]
                return before, options, errors

        before, options, errors = asyncio.run(scenario())
    finally:
        engine.stop()
    assert before == 1 and options == 3  # "image: newest" plus the two images
    assert len(errors) == 1  # three queries, one report


def test_the_requestor_detail_follows_the_requestor_newest_first(engine, tmp_path):
    async def scenario():
        app = ProviderDashboard(LocalLink(engine))
        async with app.run_test(size=(160, 48)) as pilot:
            client, driver = await requestor(engine, tmp_path, 0x70E0)
            try:
                await client.query_image(0xFFF1, 0x8000, 3)
                await until(pilot, lambda: app.requestor_table.row_count == 1)
                app.requestor_table.focus()
                await pilot.press("enter")
                await pilot.pause(0.2)
                before = list(app.screen.query_one("#detail-log").lines)
                await client.query_image(0xFFF1, 0x8000, 1)  # while the detail is open
                await until(pilot, lambda: "UpdateAvailable" in "\n".join(app.screen.query_one("#detail-log").lines))
                after = list(app.screen.query_one("#detail-log").lines)
            finally:
                driver.close()
            return before, after

    before, after = asyncio.run(scenario())
    assert "UPDATE_AVAILABLE" not in "\n".join(before)
    exchanges = [line for line in after if line.startswith("  ") and not line.startswith("      ")]
    assert "QueryImageResponse" in exchanges[0]  # the newest exchange first
    assert "status = UpdateAvailable" in "\n".join(after[: after.index(exchanges[1])])


def test_busy_once_for_the_selected_requestor_is_two_keys(engine, tmp_path):
    async def scenario():
        app = ProviderDashboard(LocalLink(engine))
        async with app.run_test(size=(160, 48)) as pilot:
            clients = await queried(engine, tmp_path, (0x70F1, 0x70F2), version=1)
            try:
                await until(pilot, lambda: app.requestor_table.row_count == 2)
                app.requestor_table.focus()
                await pilot.press("down", "b")  # the second requestor, then Busy once: two keys
                await until(pilot, lambda: "QueryImage status busy" in armed_text(app))
                where = str(app.where_view.render())
                answers = [(await client.query_image(0xFFF1, 0x8000, 1)).status for client, _ in clients]
                again = (await clients[1][0].query_image(0xFFF1, 0x8000, 1)).status
            finally:
                for _, driver in clients:
                    driver.close()
            await until(pilot, lambda: "nothing armed" in armed_text(app))
            return answers, again, where

    answers, again, where = asyncio.run(scenario())
    assert answers == [UA, BUSY] and again == UA  # that node only, once
    assert "1 armed" in where  # the status line says something is armed


def test_a_one_shot_arm_returns_the_panel_to_unchanged(engine):
    async def scenario():
        app = ProviderDashboard(LocalLink(engine))
        async with app.run_test(size=(160, 48)) as pilot:
            await arm(pilot, app, "QueryImage status busy", query_status=BUSY, query_delay="30")
            await until(pilot, lambda: app.query_one("#query-status").is_blank())
            return app.query_one("#query-delay").value, app.controls.knobs()

    assert asyncio.run(scenario()) == ("", [])


def test_quitting_with_transfers_running_asks_first(slow_engine, tmp_path):
    async def scenario():
        app = ProviderDashboard(LocalLink(slow_engine))
        async with app.run_test(size=(160, 48)) as pilot:
            client, driver = await requestor(slow_engine, tmp_path, 0x7101)
            try:
                offer = await client.query_image(0xFFF1, 0x8000, 1)
                download = asyncio.ensure_future(client.download(offer.image_uri, tmp_path / "q.ota"))
                await until(pilot, lambda: app.transfer_table.row_count == 1 and app._stats and app._stats.transfers)
                await pilot.press("q")
                await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
                question = str(app.screen.question)
                await pilot.press("n")  # no: the provider keeps serving
                await pilot.pause(0.2)
                still_running = app.is_running and not isinstance(app.screen, ConfirmScreen)
                result = await asyncio.wait_for(download, 30)
            finally:
                driver.close()
            where = str(app.where_view.render())
            return question, still_running, result.size, where

    question, still_running, size, where = asyncio.run(scenario())
    assert "1 transfer running" in question and still_running and size > 0
    assert "window open " in where and ", code 3497-011-2332" in where


def test_the_arm_popup_reaches_every_knob_for_the_selected_requestor(engine, tmp_path):
    """n on a requestor row: a popup aimed at that node; a arms, and the popup closes once the engine
    has armed it (Enter only moves to the next field)."""

    async def scenario():
        app = ProviderDashboard(LocalLink(engine))
        async with app.run_test(size=(160, 48)) as pilot:
            clients = await queried(engine, tmp_path, (0x7111, 0x7112), version=1)
            try:
                await until(pilot, lambda: app.requestor_table.row_count == 2)
                app.requestor_table.focus()
                await pilot.press("down", "n")
                await until(pilot, lambda: isinstance(app.screen, ArmScreen))
                popup = app.screen
                knob_ids = {w.id for w in popup.query("Select, Input, Checkbox, RadioButton")}
                target = popup.query_one("#target").value
                popup.query_one("#query-status").value = BUSY
                popup.query_one("#query-delay").focus()
                await pilot.press("4", "5", "enter")
                await pilot.pause(0.3)
                moved_on = isinstance(app.screen, ArmScreen) and app.focused.id == "ignore-query"
                await pilot.press("a")
                await until(pilot, lambda: "busy delay 45 s (one-shot, node 7112)" in armed_text(app))
                await until(pilot, lambda: not isinstance(app.screen, ArmScreen))
                closed = moved_on
                answers = [await client.query_image(0xFFF1, 0x8000, 1) for client, _ in clients]
            finally:
                for _, driver in clients:
                    driver.close()
            return knob_ids, target, closed, answers

    knob_ids, target, closed, answers = asyncio.run(scenario())
    every_knob = {
        "query-status",
        "query-delay",
        "ignore-query",
        "consent",
        "consent-state",
        "apply-action",
        "apply-delay",
        "ignore-apply",
        "forced-image",
        "fault",
        "fault-block",
        "fault-delay",
        "fault-status",
        "one-shot",
        "sticky",
        "target",
    }
    assert every_knob <= knob_ids and target == f"1:{0x7112}" and closed
    assert [a.status for a in answers] == [UA, BUSY] and answers[1].delayed_action_time == 45


def test_the_form_at_rest_shows_no_errors_and_reads_without_colour(engine):
    async def scenario():
        app = ProviderDashboard(LocalLink(engine))
        async with app.run_test(size=(160, 48)) as pilot:
            delay = app.query_one("#query-delay")
            at_rest = [w.id for w in app.query("NextResponseForm Input") if w.has_class("-invalid")]
            delay.focus()
            await pilot.press("minus", "tab")  # a lone "-" is not a number: now it is drawn invalid
            await pilot.pause(0.1)
            typed_invalid = delay.has_class("-invalid")
            consent = app.query_one("#consent")
            off = str(consent.render())
            consent.value = True
            on = str(consent.render())
            scope = [str(app.query_one(f"#{i}").render()) for i in ("one-shot", "sticky")]
            delay.value = ""
            app.query_one("#query-status").value = BUSY
            await pilot.pause(0.1)
            hint = str(app.query_one("#hint").render())
            return at_rest, typed_invalid, off, on, scope, hint

    at_rest, typed_invalid, off, on, scope, hint = asyncio.run(scenario())
    assert at_rest == [] and typed_invalid
    assert "X" not in off and "X" in on  # the glyph, not only the colour, says on or off
    assert "●" in scope[0] and "●" not in scope[1]
    assert "120 s" in hint and "3 Busy" in hint  # the SDK requestor's own rule, next to the knob


def test_end_the_transfer_with_the_status_report_the_user_chose(engine, tmp_path):
    async def scenario():
        app = ProviderDashboard(LocalLink(engine))
        async with app.run_test(size=(160, 48)) as pilot:
            app.query_one("#fault").value = "END_TRANSFER"
            await pilot.pause(0.1)
            shown = app.query_one("#fault-status-row").display
            await arm(
                pilot,
                app,
                "end transfer at block 2 with StatusReport 0x0019 responder busy",
                fault_block="2",
                fault_status=int(BdxStatus.RESPONDER_BUSY),
            )
            client, driver = await requestor(engine, tmp_path, 0x7121)
            try:
                offer = await client.query_image(0xFFF1, 0x8000, 1)
                with pytest.raises(DownloadError) as failure:
                    await client.download(offer.image_uri, tmp_path / "e.ota")
            finally:
                driver.close()
            return shown, failure.value.status_report

    shown, report = asyncio.run(scenario())
    assert shown and report.protocol_code == BdxStatus.RESPONDER_BUSY


def test_q_in_a_confirmation_answers_no_and_never_asks_twice(slow_engine, tmp_path):
    async def scenario():
        app = ProviderDashboard(LocalLink(slow_engine))
        async with app.run_test(size=(160, 48)) as pilot:
            client, driver = await requestor(slow_engine, tmp_path, 0x7131)
            try:
                offer = await client.query_image(0xFFF1, 0x8000, 1)
                download = asyncio.ensure_future(client.download(offer.image_uri, tmp_path / "q.ota"))
                await until(pilot, lambda: bool(app._stats and app._stats.transfers))
                await pilot.press("q")
                await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
                await pilot.press("q")  # the habitual second q: "no", not a second question
                await pilot.pause(0.3)
                screens = len(app.screen_stack)
                running = app.is_running
                await asyncio.wait_for(download, 30)
            finally:
                driver.close()
            return screens, running

    assert asyncio.run(scenario()) == (1, True)


def test_slash_searches_the_log_and_escape_clears_then_leaves(engine, tmp_path):
    async def scenario():
        app = ProviderDashboard(LocalLink(engine))
        async with app.run_test(size=(160, 48)) as pilot:
            ((_, driver),) = await queried(engine, tmp_path, (0x7141,), version=1)
            driver.close()
            await until(pilot, lambda: any("UpdateAvailable" in line for line in app.log_view.lines))
            await pilot.press("c", "slash")  # from another tab: / comes back to the log
            focused = app.focused.id if app.focused else None
            tab = app.query_one("#tabs").active
            await pilot.press(*"updateavailable")
            await until(pilot, lambda: all("UpdateAvailable" in line for line in app.log_view.lines))
            await pilot.press("escape")
            cleared = app.query_one("#filter").value
            await until(pilot, lambda: any("QueryImage VID" in line for line in app.log_view.lines))
            await pilot.press("escape")
            return focused, tab, cleared, app.focused.id if app.focused else None

    assert asyncio.run(scenario()) == ("filter", "tab-exchanges", "", "log")


def test_an_uncommissioned_start_opens_where_the_code_is(tmp_path):
    config = ProviderConfig(image_list=IMAGE_LIST, port=0)
    engine = ProviderEngine(config, ImageCatalog.from_list(IMAGE_LIST), storage=tmp_path, dnssd=False, host="::1")
    engine.start()
    try:

        async def scenario():
            app = ProviderDashboard(LocalLink(engine))
            async with app.run_test(size=(160, 48)) as pilot:
                await until(pilot, lambda: app.query_one("#tabs").active == "tab-commissioning")
                await pilot.pause(0.2)
                return str(app.query_one("#codes").render()), app.query_one("#qr").region.height

        codes, qr_rows = asyncio.run(scenario())
    finally:
        engine.stop()
    assert "3497-011-2332" in codes and qr_rows >= 14


def test_at_80x24_the_header_keeps_its_counts_and_the_footer_help_and_quit(engine):
    async def scenario():
        app = ProviderDashboard(LocalLink(engine))
        async with app.run_test(size=(80, 24)) as pilot:
            # The footer is composed again when the keyboard's place changes its keys: read it laid out.
            await until(pilot, lambda: any(k.key == "question_mark" and k.region.width for k in app.query("FooterKey")))
            keys = {key.key: key.region for key in app.query("FooterKey")}
            header = app.query_one("HeaderTitle")
            title = f"{app.title} — {app.sub_title}"
            return keys, header.region.width, title

    keys, header_width, title = asyncio.run(scenario())
    for key in ("question_mark", "q"):
        assert keys[key].width > 0 and keys[key].right <= 80, key
    assert "requestors" in title and "failed" in title and len(title) <= header_width


def test_screenshots_and_exports_go_to_the_chosen_folder_and_say_where(tmp_path):
    engine = start_engine(tmp_path, export_dir=tmp_path / "bench-files")
    try:

        async def scenario():
            app = ProviderDashboard(LocalLink(engine))
            async with app.run_test(size=(160, 48)) as pilot:
                await pilot.press("s")
                await pilot.pause(0.3)
                await pilot.press("w")
                await pilot.pause(0.3)
                return [n.message for n in app._notifications]

        messages = asyncio.run(scenario())
    finally:
        engine.stop()
    (svg,) = (tmp_path / "bench-files").glob("ota-provider-screen-*.svg")
    (log,) = (tmp_path / "bench-files").glob("ota-provider-log-*.txt")
    assert any(str(svg) in m for m in messages) and any(str(log) in m for m in messages)
    assert svg.read_text().startswith("<svg")


def test_a_device_that_says_downloading_with_no_transfer_of_ours_is_flagged():
    """D001's transfer has ended, yet the device reports Downloading: once the engine says they
    disagree (DeviceMismatch) the row says so, and the detail says what the requestor will do (wait
    for its BDX timeout); the device's next state clears the flag."""

    async def scenario():
        app = scripted_dashboard()
        app.engine._pending.append(DeviceState(0xD001, 1, UpdateState.DOWNLOADING, 10, 1))
        async with app.run_test(size=(160, 48)) as pilot:
            await settle(pilot)
            early = cell(app, f"1:{0xD001}", "device says")
            app.engine._pending.append(DeviceMismatch(0xD001, 1, 10.0, MISMATCH_ADVICE))
            await until(pilot, lambda: "no BDX" in cell(app, f"1:{0xD001}", "device says"))
            late = cell(app, f"1:{0xD001}", "device says")
            running_one = cell(app, f"1:{0xD002}", "device says")  # its transfer runs: no flag
            await pilot.press("enter")  # D001's detail (the first row)
            await until(pilot, lambda: isinstance(app.screen, RequestorDetail))
            await pilot.pause(0.2)
            detail = "\n".join(app.screen.query_one("#detail-log").lines)
            await pilot.press("escape")
            app.engine._pending.append(DeviceState(0xD001, 1, UpdateState.IDLE, None, 1))
            await until(pilot, lambda: cell(app, f"1:{0xD001}", "device says") == "Idle")
            return early, late, running_one, detail

    early, late, running_one, detail = asyncio.run(scenario())
    assert early == "Downloading 10%" and late == "Downloading 10% · no BDX"
    assert running_one == "Downloading 75%"
    detail = " ".join(detail.split())
    assert "no BDX transfer of ours has run for it for 10 s" in detail and "BDX timeout" in detail, detail


def test_the_history_tab_refreshing_writes_nothing_into_the_log_or_toasts(engine, tmp_path):
    """Rows the screen asked for show in the History tab, not as "N history rows" lines in the
    exchange log (and its exports) and a toast on every refresh."""

    async def scenario():
        app = ProviderDashboard(LocalLink(engine))
        async with app.run_test(size=(160, 48)) as pilot:
            clients = await queried(engine, tmp_path, (0x7201,), version=1)
            try:
                await pilot.press("h")
                await until(pilot, lambda: app.query_one("#history").row_count >= 1)
                app.requestor_table.focus()
                await pilot.press("enter")  # a detail asks for the history too
                await pilot.pause(1.0)
            finally:
                for _, driver in clients:
                    driver.close()
            return [line.text for line in app.exchange_log.lines], [n.message for n in app._notifications]

    lines, toasts = asyncio.run(scenario())
    assert not [line for line in lines if "history row" in line]
    assert not [toast for toast in toasts if "history row" in toast]
