"""Tables and logs redo their scrollbars when their sizes change, not on every layout of the
screen, and still follow their content and their size; the dashboard's other choices for quick
keys (no animations, the start-up heap frozen by the program only)."""

from __future__ import annotations

import asyncio
import gc

from textual.app import App, ComposeResult
from textual.containers import Vertical
from textual.widgets import Static, TabbedContent, TabPane

from ota_provider.tui.app import ProviderDashboard
from ota_provider.tui.log_view import MeasuredLog
from ota_provider.tui.steady_scroll import Table
from tests.tui.fake_engine import FakeEngine


class CountingTable(Table):
    redone = 0  # times the scrollbars were worked out again (each one draws the table's scrollbars)

    def _scroll_update(self, virtual_size):
        CountingTable.redone += 1
        return super()._scroll_update(virtual_size)


class TablesAndTabs(App):
    CSS = "#table { height: 8; } #tabs { height: 1fr; }"
    rows = 0  # the table's rows at start

    def compose(self) -> ComposeResult:
        with Vertical():
            yield CountingTable(id="table")
            with TabbedContent(id="tabs"):
                with TabPane("One", id="one"):
                    yield MeasuredLog(id="log")
                with TabPane("Two", id="two"):
                    yield Static("two")

    def on_mount(self) -> None:
        table = self.query_one(Table)
        table.add_columns("a", "b")
        for row in range(self.rows):
            table.add_row(str(row), "x" * 10)


async def _switch_tabs(pilot, app, times: int) -> None:
    tabs = app.query_one(TabbedContent)
    for turn in range(times):
        tabs.active = "two" if turn % 2 == 0 else "one"
        await pilot.pause()


def test_a_tab_switch_leaves_a_table_with_a_scrollbar_alone():
    async def scenario():
        app = TablesAndTabs()
        app.rows = 20  # more than its eight lines: a scrollbar, where ScrollView's two sizes differ
        async with app.run_test(size=(80, 24)) as pilot:
            table = app.query_one(Table)
            await pilot.pause()
            assert table.show_vertical_scrollbar
            before = CountingTable.redone
            await _switch_tabs(pilot, app, 6)  # six layouts of the whole screen
            assert CountingTable.redone == before

            table.add_row("more", "rows")  # its own virtual size changes: worked out again
            await pilot.pause()
            assert CountingTable.redone > before
            assert table.vertical_scrollbar.window_virtual_size == table.virtual_size.height

    asyncio.run(scenario())


def test_the_scrollbar_follows_rows_added_and_removed_and_a_new_size():
    async def scenario():
        app = TablesAndTabs()
        app.rows = 3
        async with app.run_test(size=(80, 24)) as pilot:
            table = app.query_one(Table)
            await pilot.pause()
            assert not table.show_vertical_scrollbar  # three rows fit in eight lines
            keys = [table.add_row(str(row), "y") for row in range(20)]
            await pilot.pause()
            await _switch_tabs(pilot, app, 2)
            assert table.show_vertical_scrollbar
            assert table.vertical_scrollbar.window_virtual_size == table.virtual_size.height
            for key in keys:
                table.remove_row(key)
            await pilot.pause()
            assert not table.show_vertical_scrollbar

            log = app.query_one(MeasuredLog)
            log.write_lines(f"line {n}" for n in range(40))
            await pilot.pause()
            assert log.show_vertical_scrollbar
            await pilot.resize_terminal(80, 60)
            await pilot.pause()
            assert log.vertical_scrollbar.window_size == log.scrollable_content_region.height

    asyncio.run(scenario())


def test_the_dashboard_runs_without_animations_unless_textual_is_told(monkeypatch):
    monkeypatch.delenv("TEXTUAL_ANIMATIONS", raising=False)
    assert ProviderDashboard(FakeEngine()).animation_level == "none"
    monkeypatch.setenv("TEXTUAL_ANIMATIONS", "full")
    assert ProviderDashboard(FakeEngine()).animation_level == "full"


def test_the_program_freezes_its_start_up_heap_and_a_test_dashboard_does_not():
    async def scenario(freeze: bool) -> int:
        app = ProviderDashboard(FakeEngine(), freeze_heap=freeze)
        async with app.run_test(size=(160, 48)) as pilot:
            await pilot.pause()
            await pilot.pause()
            return gc.get_freeze_count()

    gc.unfreeze()
    try:
        assert asyncio.run(scenario(False)) == 0
        assert asyncio.run(scenario(True)) > 10_000  # the widgets, styles and caches built at start-up
    finally:
        gc.unfreeze()  # give them back to the collector: the test process goes on
