"""The dashboard's layout, judged on screen: after any resize between the sizes a bench has, every
panel of the main screen is on the screen, inside it, and not drawn over another."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from ota_provider.tui.screens import RequestorDetail
from tests.tui.fake_engine import scripted_dashboard, settle

SIZES = ((80, 24), (100, 30), (120, 40), (160, 48))
# Every panel a technician reads on the main screen, with the least it must show (rows, columns).
PANELS = {
    "#requestors": (3, 30),
    "#transfer-box": (3, 30),
    "#controls": (3, 24),
    "#armed-box": (3, 24),
    "#tabs": (4, 40),
    "#log": (2, 40),
    "Footer": (1, 40),
}


A, B, C, D = (100, 30), (160, 48), (80, 24), (120, 40)
# One walk that makes every resize from one size to another exactly once: the state a resize leaves
# behind is what the next one starts from. It starts at 100x30, where the report started.
EVERY_TRANSITION = (A, B, A, C, A, D, B, C, B, D, C, D, A)
assert set(itertools.pairwise(EVERY_TRANSITION)) == set(itertools.permutations(SIZES, 2))
PATHS = [EVERY_TRANSITION, (B, D, A)]  # and the report's three-step path


def layout_faults(app) -> list[str]:
    """What is wrong with the main screen's layout as drawn, in words (nothing: it is right)."""
    faults = []
    width, height = app.size
    regions = {}
    for selector, (rows, columns) in PANELS.items():
        widget = app.query_one(selector)
        region = widget.region
        regions[selector] = region
        if not widget.display or region.height < rows or region.width < columns:
            faults.append(f"{selector} shown as {region} (needs {rows} rows x {columns} columns)")
        elif region.bottom > height or region.right > width:
            faults.append(f"{selector} at {region} runs off the {width}x{height} screen")
    if app.screen.max_scroll_y or app.screen.max_scroll_x:  # its scrollbar would sit beside the panels
        faults.append(f"the screen scrolls ({app.screen.virtual_size} on {width}x{height})")
    where = app.query_one("#where")
    if where.region.height != 1 or len(str(where.render())) > where.content_region.width:
        faults.append(f"the status line does not fit one row: {str(where.render())!r} in {where.region}")
    for (a, first), (b, second) in itertools.combinations(regions.items(), 2):
        if (a == "#tabs" and b == "#log") or first.area == 0 or second.area == 0:
            continue  # the log is inside the tabs
        if first.overlaps(second):
            faults.append(f"{a} {first} overlaps {b} {second}")
    return faults


async def resized(pilot, width, height):
    await pilot.resize_terminal(width, height)
    for _ in range(40):
        if pilot.app.size == (width, height):
            break
        await pilot.pause(0.05)
    await pilot.pause(0.3)


@pytest.mark.parametrize("path", PATHS, ids=["every-transition", "160x48-120x40-100x30"])
def test_every_panel_stays_on_screen_after_a_resize(path):
    async def scenario():
        app = scripted_dashboard()
        faults = {}
        async with app.run_test(size=path[0]) as pilot:
            await settle(pilot)
            faults[path[0]] = layout_faults(app)
            for step, size in enumerate(path[1:], 1):
                await resized(pilot, *size)
                faults[f"{step}: {size}"] = layout_faults(app)
        return faults

    faults = asyncio.run(scenario())
    assert not any(faults.values()), faults


def test_the_log_comes_back_with_e_after_the_commissioning_tab_on_a_short_screen():
    """On a short terminal the Commissioning tab takes the screen; e (the log) gives it back."""

    async def scenario():
        app = scripted_dashboard()
        async with app.run_test(size=(160, 48)) as pilot:
            await settle(pilot)
            await resized(pilot, 100, 30)
            await pilot.press("c")
            await pilot.pause(0.2)
            hidden = app.query_one("#top").display
            await pilot.press("e")
            await pilot.pause(0.2)
            return hidden, layout_faults(app)

    hidden, faults = asyncio.run(scenario())
    assert hidden is False
    assert faults == []


def test_the_abort_question_is_shown_whole():
    async def scenario():
        app = scripted_dashboard()
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot)
            app.transfer_table.focus()
            await pilot.press("x")
            await pilot.pause(0.3)
            label, box = app.screen.query_one("#confirm Label"), app.screen.query_one("#confirm")
            return str(label.render()), label.region, box.region

    question, label, box = asyncio.run(scenario())
    assert question.startswith("Abort transfer #2?") and question.endswith("StatusReport.")
    assert label.right <= box.right - 1 and label.x >= box.x
    assert label.height * label.width >= len(question) and label.height >= 2  # wrapped, not cut


def test_toasts_sit_top_right_clear_of_the_log_and_the_footer():
    async def scenario():
        app = scripted_dashboard()
        async with app.run_test(size=(160, 48), notifications=True) as pilot:
            await settle(pilot)
            app.notify("written to /tmp/x")
            await pilot.pause(0.3)
            toast = app.screen.query_one("Toast").region
            return toast, app.query_one("#log").region, app.query_one("Footer").region

    toast, log, footer = asyncio.run(scenario())
    assert toast.y <= 3 and toast.right >= 150  # under the header and the status line, at the right
    assert not toast.overlaps(log) and not toast.overlaps(footer)


def test_a_detail_answered_before_it_is_composed_shows_no_dashboard_error():
    """The history rows a detail asks for can arrive before its screen is composed: it showed
    "dashboard error ... No nodes match '#detail-log'" instead of the detail."""

    async def scenario():
        app = scripted_dashboard()
        async with app.run_test(size=(100, 30)) as pilot:
            await settle(pilot)
            detail = RequestorDetail("node D001", lambda: ["VID:PID FFF1:8000"])
            detail.refresh_lines()  # as the app does when rows arrive, before the screen is up
            await app.push_screen(detail)
            await pilot.pause(0.2)
            return detail.lines, [line.text for line in app.exchange_log.lines if "dashboard error" in line.text]

    lines, errors = asyncio.run(scenario())
    assert lines == ["VID:PID FFF1:8000"] and errors == []
