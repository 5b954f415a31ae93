"""The keyboard path through the dashboard, judged by where the keyboard is and what was sent: Enter
moves through the form (never arms a half-set form), focus shows in plain text, the tab keys put
the keyboard in their tab, letters in a number field reach the dashboard's keys, an open list is
framed, the arm popup keeps its values when the engine refuses them, and an arm empties the form."""

from __future__ import annotations

import asyncio
import contextlib

from ota_provider.core.api.commands import ArmKnobs
from ota_provider.core.api.events import CommandDone
from ota_provider.core.codec.status_report import BdxStatus
from ota_provider.core.ota.policy import Knob
from ota_provider.core.ota.types import ApplyUpdateAction, QueryImageStatus
from ota_provider.tui.controls import FOCUS_MARK
from ota_provider.tui.screens import ArmScreen
from tests.helpers.dashboard import until
from tests.tui.fake_engine import scripted_dashboard, settle

DISCONTINUE = ApplyUpdateAction.DISCONTINUE


def arms(app) -> list[ArmKnobs]:
    return [c for c in app.engine.sent if isinstance(c, ArmKnobs)]


def run(scenario):
    async def main():
        app = scripted_dashboard()
        async with app.run_test(size=(160, 48)) as pilot:
            await settle(pilot)
            return await scenario(app, pilot)

    return asyncio.run(main())


def test_enter_in_an_empty_number_field_moves_on_and_arms_nothing():
    async def scenario(app, pilot):
        app.query_one("#apply-action").value = DISCONTINUE
        app.query_one("#apply-delay").focus()
        await pilot.press("enter")
        await pilot.pause(0.2)
        first = app.focused.id
        await pilot.press("enter")
        await pilot.pause(0.2)
        return first, app.focused.id, arms(app)

    first, second, sent = run(scenario)
    assert (first, second) == ("ignore-apply", "forced-image")
    assert sent == []


def test_focus_is_marked_in_plain_text_on_the_panel_and_the_field():
    async def scenario(app, pilot):
        table_title = app.requestor_table.border_title
        app.query_one("#query-delay").focus()
        # The marks follow the focus message: waited for, not a fixed pause (a loaded machine is slower).
        with contextlib.suppress(AssertionError):
            await until(pilot, lambda: app.controls.border_title.startswith(FOCUS_MARK), timeout=5)
        await pilot.pause(0.05)
        return table_title, app.requestor_table.border_title, app.controls.border_title, app.controls.border_subtitle

    table_focused, table_after, form_title, field = run(scenario)
    assert table_focused.startswith(FOCUS_MARK)  # settle() put the keyboard in the requestors table
    assert not table_after.startswith(FOCUS_MARK)
    assert form_title.startswith(FOCUS_MARK)
    assert field == f"{FOCUS_MARK}QueryImage delay, s"


def test_the_tab_keys_put_the_keyboard_in_their_tab():
    async def scenario(app, pilot):
        where = {}
        for key, tab in (("i", "tab-images"), ("c", "tab-commissioning"), ("h", "tab-history"), ("e", "tab-exchanges")):
            await pilot.press(key)
            await pilot.pause(0.2)
            label = str(app.query_one("#tabs").get_tab(tab).label)
            where[key] = (app.focused.id, label)
        return where

    where = run(scenario)
    assert where == {
        "i": ("images", f"{FOCUS_MARK}Images"),
        "c": ("fabrics", f"{FOCUS_MARK}Commissioning"),
        "h": ("history", f"{FOCUS_MARK}History"),
        "e": ("log", f"{FOCUS_MARK}Exchanges"),
    }


def test_letters_in_a_number_field_reach_the_dashboards_keys_and_the_footer_keeps_them():
    async def scenario(app, pilot):
        app.query_one("#query-delay").focus()
        await pilot.press("4", "2", "x")  # x is not a digit: not inserted, not swallowed
        await pilot.pause(0.2)
        aborting = type(app.screen).__name__
        await pilot.press("escape", "5")  # no abort; back in the field
        await pilot.pause(0.2)
        value = app.query_one("#query-delay").value
        shown = {binding.key for _, binding, enabled, _ in app.screen.active_bindings.values() if binding.show}
        await pilot.press("a")  # arms, from the number field
        await pilot.pause(0.2)
        return value, aborting, shown, arms(app)

    value, aborting, shown, sent = run(scenario)
    assert value == "425"
    assert aborting == "ConfirmScreen"  # x asked whether to abort the selected transfer
    assert {"a", "q", "question_mark", "n"} <= shown
    assert [c.knobs for c in sent] == [((Knob.QUERY_DELAY, 425),)]


def test_an_open_dropdown_is_framed():
    async def scenario(app, pilot):
        select = app.query_one("#apply-action")
        select.focus()
        await pilot.press("enter")
        await pilot.pause(0.2)
        overlay = select.query_one("SelectOverlay")
        return select.expanded, overlay.styles.border_top[0], overlay.region, select.region

    expanded, border, overlay, select = run(scenario)
    assert expanded and border == "round"
    assert overlay.width >= 24 and overlay.y >= select.y


def test_a_refused_arm_keeps_the_popup_and_its_values_then_an_accepted_one_closes_it():
    async def scenario(app, pilot):
        await pilot.press("n")
        await pilot.pause(0.2)
        popup = app.screen
        popup.query_one("#apply-delay").value = "5000000000"
        await pilot.press("a")
        await pilot.pause(0.1)
        refused = popup.waiting_for
        popup.answered(CommandDone(refused, False, "apply_delay: 5000000000 is outside 0..4294967295"))
        await pilot.pause(0.1)
        kept = (
            isinstance(app.screen, ArmScreen),
            popup.query_one("#apply-delay").value,
            str(popup.query_one("#arm-error").render()),
        )
        popup.query_one("#apply-delay").value = "5"
        await pilot.press("a")
        await pilot.pause(0.1)
        popup.answered(CommandDone(popup.waiting_for, True, "armed"))
        await pilot.pause(0.2)
        return kept, isinstance(app.screen, ArmScreen), arms(app)

    kept, still_open, sent = run(scenario)
    assert kept[:2] == (True, "5000000000") and "outside 0..4294967295" in kept[2]
    assert not still_open
    assert [c.knobs for c in sent] == [((Knob.APPLY_DELAY, 5_000_000_000),), ((Knob.APPLY_DELAY, 5),)]
    assert all(c.target == (1, 0xD001) for c in sent)


def test_a_sticky_arm_empties_the_form_but_another_front_ends_arm_does_not():
    async def scenario(app, pilot):
        app.query_one("#apply-action").value = DISCONTINUE
        app.query_one("#sticky").value = True
        await pilot.press("a")
        await pilot.pause(0.1)
        mine = arms(app)[-1]
        app.engine._pending.append(CommandDone(mine, True, "armed", at=0.0))
        await pilot.pause(0.3)
        after_mine = app.query_one("#apply-action").is_blank()
        app.query_one("#apply-action").value = DISCONTINUE  # half-set; then ctl arms something
        other = ArmKnobs(((Knob.QUERY_DELAY, 9),))
        app.engine._pending.append(CommandDone(other, True, "armed", at=0.0))
        await pilot.pause(0.3)
        await pilot.press("a")  # a habitual second a: only what the user set since
        await pilot.pause(0.1)
        return after_mine, app.query_one("#apply-action").value, arms(app)

    emptied, kept, sent = run(scenario)
    assert emptied
    assert kept == DISCONTINUE
    assert [c.sticky for c in sent] == [True, True]  # the scope stays as chosen


def test_one_key_per_common_fault_on_the_selected_row():
    """b v g z arm one response of the selected requestor; k and j ask for the block on one line."""

    async def scenario(app, pilot):
        app.requestor_table.focus()
        await pilot.press("down")  # the second row
        for key in ("b", "v", "g", "z"):
            await pilot.press(key)
        await pilot.press("k")
        await pilot.pause(0.2)
        prompt = type(app.screen).__name__
        await pilot.press("4", "0", "enter")
        await pilot.pause(0.2)
        await pilot.press("j")
        await pilot.pause(0.2)
        await pilot.press("escape")  # cancelled: nothing armed
        await pilot.pause(0.2)
        await pilot.press("j")
        await pilot.pause(0.2)
        await pilot.press("7", "enter")
        await pilot.pause(0.2)
        return prompt, arms(app)

    prompt, sent = run(scenario)
    assert prompt == "BlockPrompt"
    assert [c.knobs for c in sent] == [
        ((Knob.QUERY_STATUS, QueryImageStatus.BUSY),),
        ((Knob.QUERY_STATUS, QueryImageStatus.NOT_AVAILABLE),),
        ((Knob.IGNORE_QUERY, 1),),
        ((Knob.APPLY_ACTION, DISCONTINUE),),
        ((Knob.DROP_BLOCK, 40),),
        ((Knob.END_TRANSFER, (7, BdxStatus.TRANSFER_FAILED_UNKNOWN_ERROR)),),
    ]
    assert {c.target for c in sent} == {(1, 0xD002)} and not any(c.sticky for c in sent)
