"""SVG snapshots of the dashboard at 160x48 and 100x30 (the main screen also at 120x40 and 80x24):
the main screen, a requestor's detail, the Commissioning tab, the help screen and the arm popup,
over a scripted engine with frozen times and stats.

After a deliberate change to the layout: ``pytest tests/tui/test_snapshots.py --snapshot-update``,
then look at the new SVGs before committing them."""

from __future__ import annotations

import time

import pytest

from tests.tui.fake_engine import scripted_dashboard, settle

SIZES = [(160, 48), (100, 30)]
# The main screen also at the other sizes a bench laptop or an SSH window has.
EXTRA = [("main_screen", (120, 40)), ("main_screen", (80, 24))]


@pytest.fixture(autouse=True)
def utc(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


SCENES = {"main_screen": (), "requestor_detail": ("enter",), "commissioning_tab": ("c",),
          "help_screen": ("question_mark",), "arm_popup": ("n",)}  # fmt: skip
CASES = [(scene, size) for scene in SCENES for size in SIZES] + EXTRA


@pytest.mark.parametrize(("scene", "size"), CASES, ids=[f"{scene}-{w}x{h}" for scene, (w, h) in CASES])
def test_screen(snap_compare, scene, size):
    async def show(pilot):
        await settle(pilot)
        for key in SCENES[scene]:
            await pilot.press(key)
            await pilot.pause(0.2)

    assert snap_compare(scripted_dashboard(), terminal_size=size, run_before=show)
