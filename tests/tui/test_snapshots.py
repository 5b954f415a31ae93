"""SVG snapshots of the dashboard at 160x48 and 100x30: the main screen, a requestor's detail, the
Commissioning tab and the help screen, over a scripted engine with frozen times and stats.

After a deliberate change to the layout: ``pytest tests/tui/test_snapshots.py --snapshot-update``,
then look at the new SVGs before committing them."""

from __future__ import annotations

import time

import pytest

from tests.tui.fake_engine import scripted_dashboard, settle

SIZES = [(160, 48), (100, 30)]
SIZE_IDS = [f"{w}x{h}" for w, h in SIZES]


@pytest.fixture(autouse=True)
def utc(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


SCENES = {"main_screen": (), "requestor_detail": ("enter",), "commissioning_tab": ("c",),
          "help_screen": ("question_mark",)}  # fmt: skip


@pytest.mark.parametrize("size", SIZES, ids=SIZE_IDS)
@pytest.mark.parametrize("scene", SCENES)
def test_screen(snap_compare, scene, size):
    async def show(pilot):
        await settle(pilot)
        for key in SCENES[scene]:
            await pilot.press(key)
            await pilot.pause(0.2)

    assert snap_compare(scripted_dashboard(), terminal_size=size, run_before=show)
