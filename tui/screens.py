"""Modal screens: a requestor's detail, the help screen and a yes/no confirmation."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Label, Log, Markdown, Static

from ota_provider.core.api.commands import ArmKnobs, ClearKnobs, Command
from ota_provider.core.api.events import CommandDone, ImageSummary, TransferSnapshot
from ota_provider.core.api.values import HistoryRow, Peer
from ota_provider.core.presentation.transfer_lines import block_size_text
from ota_provider.core.presentation.words import spec_name, transfer_end_text, yes_no

from .controls import FOCUS_MARK, NextResponseForm, NumberInput
from .format import clock, size
from .log_view import MeasuredLog
from .requestors import RequestorRow

__all__ = ["ArmScreen", "BlockPrompt", "ConfirmScreen", "HelpScreen", "RequestorDetail", "detail_lines"]


HEX_FIELDS = {"vendorId": 4, "productId": 4}  # shown as Matter documents them: 0xFFF1
ENUM_FIELDS = {"status", "action", "protocolsSupported"}  # carried by member name (BUSY), shown as the spec's


def _value(key: str, value: Any) -> str:
    """A decoded field in words: spec names for enums, yes/no, hex where Matter documents it so."""
    if key in HEX_FIELDS and isinstance(value, int):
        return f"0x{value:0{HEX_FIELDS[key]}X}"
    if isinstance(value, bool):
        return yes_no(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, str):
        return spec_name(value) if key in ENUM_FIELDS else value
    if isinstance(value, list):
        return "; ".join(spec_name(item) if key in ENUM_FIELDS else str(item) for item in value)
    if isinstance(value, dict):
        return json.dumps(value, default=str)
    return str(value)


def _transfer_line(t: TransferSnapshot) -> str:
    ended = transfer_end_text(t.end)
    return (
        f"#{t.id} image {t.designator}: {ended}, {size(t.bytes_sent)} of {size(t.total)}, {t.blocks} blocks of "
        f"{block_size_text(t, ' B')} in {t.seconds:.1f} s"
    )


def detail_lines(row: RequestorRow, running: list[TransferSnapshot], history: list[HistoryRow]) -> list[str]:
    """The detail of one requestor as text: every exchange with its decoded fields, its transfers and
    its history rows, each newest first (``history`` comes newest first)."""
    vendor = f" ({row.vendor_name})" if row.vendor_name else ""
    lines = [f"VID:PID {row.vendor_id:04X}:{row.product_id:04X}{vendor}, version {row.versions}, state {row.state}"]
    if row.device_says:  # a bench device: what it reports itself, beside what we saw
        lines.append(f"the device reports UpdateState {row.device_says}")
        if row.mismatch:
            lines.append(f"  but {row.mismatch}")
    if row.device_events:  # newest first, as everything here
        lines += ["", "Device events"] + [f"  {text}" for text in reversed(row.device_events)]
    lines += ["", "Exchanges"]
    for event in reversed(row.exchanges):
        lines.append(f"  {clock(event.at)} {event.name}")
        # Absent and empty fields say nothing: no "None" or "[]" on screen.
        lines += [
            f"      {key} = {_value(key, value)}"
            for key, value in event.details().items()
            if value is not None and value not in ([], "")
        ]
    if not row.exchanges:
        lines.append("  none yet")
    lines += ["", "Transfers"]
    lines += [f"  {_transfer_line(t)}" for t in [*running, *reversed(row.transfers)]] or ["  none yet"]
    lines += ["", "History"]
    lines += [f"  {clock(h.time)} {h.kind}: {h.summary}" for h in history] or ["  none yet"]
    return lines


class RequestorDetail(ModalScreen[None]):
    """One requestor: every exchange with its decoded fields, its transfers, its history rows."""

    BINDINGS: ClassVar = [Binding("escape,q", "dismiss", "Close")]

    REFRESH_SECONDS = 1.0

    def __init__(self, title: str, lines: Callable[[], list[str]]) -> None:
        super().__init__()
        self.title_text = title
        self.source = lines  # called again every second: the detail follows the requestor live
        self.lines: list[str] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="detail") as box:
            box.border_title = self.title_text
            box.border_subtitle = "Esc closes"
            yield MeasuredLog(id="detail-log")
        yield Footer()

    def on_mount(self) -> None:
        log = self.query_one("#detail-log", Log)
        log.auto_scroll = False  # open at the top: the summary line and the newest exchange first
        self.refresh_lines()
        self.set_interval(self.REFRESH_SECONDS, self.refresh_lines)

    def refresh_lines(self) -> None:
        if not self.query("#detail-log"):  # the app's history answer came before the screen was composed
            return  # (on_mount shows the lines)
        lines = self.source()
        if lines == self.lines:
            return
        self.lines = lines
        log = self.query_one("#detail-log", Log)
        where = log.scroll_y  # a reader who scrolled down stays where they were
        log.clear()
        log.write_lines(lines)
        if where:
            log.scroll_to(y=where, animate=False)
        else:  # at the top: stay there once the new lines are laid out (they may come in mid-frame)
            log.call_after_refresh(log.scroll_home, animate=False)


HELP = """\
# Matter OTA Provider

The **Requestors** table has one row per node that asked us for an update, by short node id
(D002); its progress moves in 5% steps (the Transfers table has the exact figures). **Enter** on a
row opens its detail: every exchange with its decoded fields, its transfers and its history.

The **Next response** form changes what the *next* answers say. Set one or more controls,
choose *one-shot* (used once, then disarmed) or *sticky* (until cleared), and a target (all
requestors or one node), then press **Arm** (a; Enter moves to the next field). Under the form:
what an SDK requestor will do about what you set. The **Armed** box lists what is armed, and
what was used last and by which node; **r** disarms everything. **n** opens the same form in a
popup, aimed at the selected requestor.

The **Transfers** table has one row per BDX download. Select a row, then:
**p** pause, **u** resume, **t** throttle (0.1 s, 0.5 s, 2 s per block, then off), **x** abort.

| Key | Action |
|---|---|
| ? / q | this help / quit (running transfers end with a BDX StatusReport; asks first) |
| a / r | arm the form / clear every knob |
| n | every knob for the selected requestor, in a popup |
| d | add a device: commission it by its setup code onto our bench fabric, point it at us, announce |
| b | Busy once for the selected requestor (its next QueryImage; it asks again after 120 s or more) |
| v / g | the selected requestor's next QueryImage: NotAvailable / left unanswered |
| z | Discontinue the selected requestor's next ApplyUpdateRequest |
| k / j | drop block N / end the transfer at block N, in the selected requestor's next transfer (asks N) |
| p u t x | pause, resume, throttle, abort the selected transfer |
| e c i h | Exchanges, Commissioning, Images, History tab |
| / | search the exchange log (Esc clears, then leaves) |
| f | follow the exchange log again |
| o | open a commissioning window (15 minutes) |
| y / Y | copy the MT: setup code / the manual pairing code to the clipboard |
| Delete | remove the selected fabric (Commissioning tab) |
| Enter | requestor detail; on the Images tab, offer that image next |
| l | reload the images |
| w | write the visible log (dated lines), or the history as CSV, to the export folder |
| s | save an SVG screenshot to the export folder |
| ctrl+p | every action, by name |

In a question, **y** answers yes; **n**, **q** and **Esc** answer no.
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar = [Binding("escape,q,question_mark", "dismiss", "Close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help") as box:
            box.border_title = "Help"
            box.border_subtitle = "Esc closes"
            yield Markdown(HELP)
        yield Footer()


class ConfirmScreen(ModalScreen[bool]):
    # q answers No: a second q after "quit?" must not quit, and must not ask again.
    BINDINGS: ClassVar = [Binding("escape,n,q", "answer(False)", "No"), Binding("y", "answer(True)", "Yes")]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm"):
            yield Label(self.question)
            with Horizontal():
                yield Button("Yes", id="yes", variant="error", compact=True)
                yield Button("No", id="no", compact=True)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


class BlockPrompt(ModalScreen[int | None]):
    """One line: which block a fault hits. Enter answers, Esc cancels."""

    BINDINGS: ClassVar = [Binding("escape", "dismiss(None)", "Cancel")]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Horizontal(id="block-prompt") as box:
            box.border_subtitle = "Enter arms · Esc cancels"
            yield Label(self.question)
            yield NumberInput(id="block-number", type="integer", compact=True, valid_empty=True, classes="number")

    def on_mount(self) -> None:
        self.query_one("#block-number").focus()

    def on_input_submitted(self, event) -> None:
        event.stop()
        text = event.value.strip()
        if not text.isdigit():
            self.notify("give the block number: 0 is the first block", severity="warning")
            return
        self.dismiss(int(text))


class ArmScreen(ModalScreen[ArmKnobs | None]):
    """Every knob for one requestor, over the main screen: the selected row's node is the target.
    a (or the Arm button) sends the knobs and the popup stays open until the engine answers: armed,
    it closes; refused, it says why and keeps every value for a fix. Enter moves to the next field.
    Esc or q closes with nothing armed."""

    BINDINGS: ClassVar = [Binding("escape,q", "dismiss(None)", "Close"), Binding("a", "arm", "Arm")]
    SUBTITLE = "a arms · Enter: next field · Esc closes"

    def __init__(
        self, title: str, peer: Peer, images: tuple[ImageSummary, ...], send: Callable[[Command], object]
    ) -> None:
        super().__init__()
        self.title_text = title
        self.peer = peer
        self.images = images
        self.send = send
        self.waiting_for: ArmKnobs | None = None  # sent, not answered yet

    def compose(self) -> ComposeResult:
        with Vertical(id="arm-popup") as box:
            box.border_title = self.title_text
            box.border_subtitle = self.SUBTITLE
            yield NextResponseForm(id="popup-form")
            yield Static("", id="arm-error")
        yield Footer()

    def on_mount(self) -> None:
        form = self.query_one(NextResponseForm)
        form.show_images(self.images)
        form.aim_at(self.peer)
        form.query_one("#query-status").focus()

    def on_descendant_focus(self, _) -> None:
        field = self.query_one(NextResponseForm).focused_field()
        self.query_one("#arm-popup").border_subtitle = (
            f"{FOCUS_MARK}{field} · {self.SUBTITLE}" if field else (self.SUBTITLE)
        )

    def action_arm(self) -> None:
        if self.waiting_for is not None:
            return  # one at a time: the engine's answer decides whether the popup closes
        command = self.query_one(NextResponseForm).arm_command(self._say)
        if command is not None:
            self.waiting_for = command
            self._say("arming…", severity="information")
            self.send(command)

    def answered(self, done: CommandDone) -> None:
        """The engine's answer to a command; this popup's arm closes it only when accepted."""
        if self.waiting_for is None or done.command_id != self.waiting_for.id:
            return
        command, self.waiting_for = self.waiting_for, None
        if done.ok:
            self.dismiss(command)
        else:
            self._say(f"refused: {done.message}", severity="error")

    def _say(self, message: str, severity: str = "information", **_: Any) -> None:
        """In the popup, not in a toast behind it: what was refused stays beside the values."""
        error = self.query_one("#arm-error", Static)
        error.set_class(severity == "error", "-error")
        error.update(message)

    def on_input_submitted(self, event) -> None:
        event.stop()
        self.focus_next()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "arm":
            self.action_arm()
        else:  # "Clear (r)": every knob, as on the main screen
            self.dismiss(None)
            self.send(ClearKnobs())
