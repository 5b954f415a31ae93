"""SVG snapshots of the dashboard at 160x48 and 100x30 (the main screen also at 120x40 and 80x24):
the main screen, a requestor's detail, the Commissioning tab, the help screen and the arm popup,
over a scripted engine with frozen times and stats.

After a deliberate change to the layout: ``pytest tests/tui/test_snapshots.py --snapshot-update``,
then look at the new SVGs before committing them."""

from __future__ import annotations

import time

import pytest

from ota_provider.core.dnssd.devices import CommissionableDevice
from ota_provider.tui.screens import RequestorDetail
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


SCENES = {
    "main_screen": (),
    "requestor_detail": ("enter",),
    "commissioning_tab": ("c",),
    "help_screen": ("question_mark",),
    "arm_popup": ("n",),
}
CASES = [(scene, size) for scene in SCENES for size in SIZES] + EXTRA


@pytest.mark.parametrize(("scene", "size"), CASES, ids=[f"{scene}-{w}x{h}" for scene, (w, h) in CASES])
def test_screen(snap_compare, scene, size):
    async def show(pilot):
        await settle(pilot)
        for key in SCENES[scene]:
            await pilot.press(key)
            await pilot.pause(0.2)
        for _ in range(30):  # a detail shows its history rows once the engine's answer is in
            screen = pilot.app.screen
            if not isinstance(screen, RequestorDetail) or screen.lines[-1:] != ["  none yet"]:
                break
            await pilot.pause(0.1)
        await pilot.pause(0.1)

    assert snap_compare(scripted_dashboard(), terminal_size=size, run_before=show)


LISTED = (
    CommissionableDevice(
        "8A1B2C3D4E5F6071", 3101, 1, 0xFFF1, 0x8000, "bench requestor", (("fd42:cafe::1", 5551, 0, 0),), 5551
    ),
    CommissionableDevice(
        "0441DE87AD917AC4", 3840, 2, 0x130D, 0x0101, "", (("fe80::a8c1:4eff:fe0b:1", 5540, 0, 3),), 5540
    ),
)


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_add_device_dialog_with_the_live_list(snap_compare, size):
    async def show(pilot):
        await settle(pilot)
        await pilot.press("d")
        await pilot.pause(0.2)
        pilot.app.screen.query_one("#code").cursor_blink = False  # the focused field: one frame, not a blink
        pilot.app.screen.show_found(LISTED)
        await pilot.pause(0.2)

    assert snap_compare(scripted_dashboard(), terminal_size=size, run_before=show)
