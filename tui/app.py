"""The dashboard: requestors, next-response controls, transfers and the exchange log, over a
running :class:`~ota_provider.core.engine.ProviderEngine`.

Events are drained from the engine ten times a second in one batch, and transfer progress is
sampled from its stats snapshot, so a burst of traffic never queues up behind key presses.
"""

from __future__ import annotations

import time
from collections import deque
from pathlib import Path
from typing import Any, ClassVar

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.css.query import NoMatches
from textual.screen import ModalScreen
from textual.widgets import (
    Button,
    Checkbox,
    DataTable,
    Footer,
    Header,
    Input,
    Label,
    Log,
    RadioButton,
    RadioSet,
    Select,
    Static,
    TabbedContent,
    TabPane,
)

from ota_provider.core.codec.status_report import BdxStatus
from ota_provider.core.engine import (
    AbortTransfer,
    ArmKnob,
    ClearKnobs,
    EngineStats,
    PauseTransfer,
    ProviderEngine,
    ResumeTransfer,
)
from ota_provider.core.events import CommandDone, EngineError, EngineEvent, FabricsChanged, Listening
from ota_provider.core.ota.history import rows_as_csv
from ota_provider.core.ota.policy import Knob
from ota_provider.core.ota.types import ApplyUpdateAction, QueryImageStatus
from ota_provider.core.setup_payload import SetupPayload

from .qr import qr_text
from .requestors import RequestorRow, RequestorTable

__all__ = ["ProviderDashboard"]

REFRESH_SECONDS = 0.1
LOG_LINES = 5000

REQUESTOR_COLUMNS = ("node", "fabric", "VID:PID", "version", "state", "last exchange", "progress", "seen")
TRANSFER_COLUMNS = ("#", "node", "progress", "bytes", "blocks", "block", "rate", "state")

QUERY_STATUS_CHOICES = [("updateAvailable", QueryImageStatus.UPDATE_AVAILABLE), ("busy", QueryImageStatus.BUSY),
                        ("updateNotAvailable", QueryImageStatus.NOT_AVAILABLE)]  # fmt: skip
APPLY_ACTION_CHOICES = [("proceed", ApplyUpdateAction.PROCEED),
                        ("awaitNextAction", ApplyUpdateAction.AWAIT_NEXT_ACTION),
                        ("discontinue", ApplyUpdateAction.DISCONTINUE)]  # fmt: skip
FAULT_CHOICES = [("drop block N", Knob.DROP_BLOCK.name), ("delay block N", Knob.DELAY_BLOCK.name),
                 ("corrupt block N", Knob.CORRUPT_BLOCK.name),
                 ("end transfer at block N", Knob.END_TRANSFER.name)]  # fmt: skip
ALL_REQUESTORS = "all"


def _progress_bar(fraction: float | None, width: int = 10) -> str:
    if fraction is None:
        return ""
    filled = round(fraction * width)
    return "█" * filled + "░" * (width - filled) + f" {fraction * 100:3.0f}%"


def _rate(bytes_sent: int, seconds: float) -> str:
    return f"{bytes_sent / seconds / 1000:.0f} kB/s" if seconds > 0 else ""


class RequestorDetail(ModalScreen[None]):
    """Every exchange line of one requestor; Escape closes."""

    BINDINGS: ClassVar = [Binding("escape", "dismiss", "Close")]
    DEFAULT_CSS = """
    RequestorDetail { align: center middle; }
    RequestorDetail > Vertical { width: 90%; height: 80%; border: round $accent; background: $surface; }
    RequestorDetail Log { height: 1fr; }
    """

    def __init__(self, title: str, lines: list[str]) -> None:
        super().__init__()
        self.title_text = title
        self.lines = lines

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = self.title_text
            yield Log(id="detail-log")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#detail-log", Log).write_lines(self.lines or ["no exchange yet"])


class ProviderDashboard(App):
    TITLE = "Matter OTA Provider"
    CSS_PATH = "app.tcss"
    BINDINGS: ClassVar = [
        Binding("a", "arm", "Arm"),
        Binding("r", "clear_knobs", "Clear knobs"),
        Binding("p", "pause", "Pause"),
        Binding("u", "resume", "Resume"),
        Binding("x", "abort", "Abort"),
        Binding("e", "show_tab('tab-exchanges')", "Exchanges"),
        Binding("c", "show_tab('tab-commissioning')", "Commissioning"),
        Binding("i", "show_tab('tab-images')", "Images"),
        Binding("h", "show_tab('tab-history')", "History"),
        Binding("w", "export", "Write log/history"),
        Binding("question_mark", "show_help_panel", "Help"),
        Binding("s", "screenshot_svg", "Screenshot"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(self, engine: ProviderEngine, *, clock=time.time) -> None:
        super().__init__()
        self.engine = engine
        self.clock = clock
        self.requestors = RequestorTable()
        self._transfer_rows: tuple = ()
        self._lines: deque[str] = deque(maxlen=LOG_LINES)
        self._filter = ""
        self._port: int | None = None
        self._fabrics: FabricsChanged | None = None

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="top"):
            yield DataTable(id="requestors", cursor_type="row")
            with Vertical(id="controls"):
                yield Label("Next response", classes="title")
                yield Label("QueryImage status")
                yield Select(QUERY_STATUS_CHOICES, id="query-status", prompt="unchanged", compact=True)
                yield Input(placeholder="Busy delay, seconds", id="query-delay", type="integer", compact=True)
                yield Checkbox("user consent needed", id="consent", compact=True)
                yield Label("ApplyUpdate action")
                yield Select(APPLY_ACTION_CHOICES, id="apply-action", prompt="unchanged", compact=True)
                yield Input(placeholder="apply delay, seconds", id="apply-delay", type="integer", compact=True)
                yield Input(placeholder="ignore next N QueryImage", id="ignore-query", type="integer", compact=True)
                yield Input(placeholder="ignore next N ApplyUpdate", id="ignore-apply", type="integer", compact=True)
                yield Label("Image and faults")
                yield Select([], id="forced-image", prompt="image: by version", compact=True)
                yield Select(FAULT_CHOICES, id="fault", prompt="no fault", compact=True)
                yield Input(placeholder="fault at block N", id="fault-block", type="integer", compact=True)
                yield Input(placeholder="fault delay, seconds", id="fault-delay", type="number", compact=True)
                with RadioSet(id="scope", compact=True):
                    yield RadioButton("one-shot", value=True, id="one-shot")
                    yield RadioButton("sticky", id="sticky")
                yield Select([("all requestors", ALL_REQUESTORS)], id="target", value=ALL_REQUESTORS,
                             allow_blank=False, compact=True)  # fmt: skip
                with Horizontal(id="buttons"):
                    yield Button("Arm", id="arm", variant="primary", compact=True)
                    yield Button("Clear", id="clear", compact=True)
                yield Static("nothing armed", id="armed")
        yield DataTable(id="transfers", cursor_type="row")
        with TabbedContent(id="tabs"):
            with TabPane("Exchanges", id="tab-exchanges"):
                yield Input(placeholder="filter the log (text)", id="filter", compact=True)
                yield Log(id="log", max_lines=LOG_LINES)
            with TabPane("Commissioning", id="tab-commissioning"), VerticalScroll(), Horizontal(id="onboarding"):
                yield Static(id="qr")
                yield Static(id="codes")
            with TabPane("Images", id="tab-images"):
                yield DataTable(id="images", cursor_type="row")
            with TabPane("History", id="tab-history"):
                yield DataTable(id="history", cursor_type="row")
        yield Footer()

    def on_mount(self) -> None:
        # References cached once: timers may fire while the app tears down.
        self.requestor_table = self.query_one("#requestors", DataTable)
        self.transfer_table = self.query_one("#transfers", DataTable)
        self.log_view = self.query_one("#log", Log)
        self.armed_view = self.query_one("#armed", Static)
        self.target_select = self.query_one("#target", Select)
        for column in REQUESTOR_COLUMNS:
            self.requestor_table.add_column(column, key=column)
        for column in TRANSFER_COLUMNS:
            self.transfer_table.add_column(column, key=column)
        self.requestor_table.border_title = "Requestors"
        self.transfer_table.border_title = "Transfers"
        self.log_view.border_title = "Exchanges"
        self._show_commissioning()
        self._show_images()
        self._refresh_timer = self.set_interval(REFRESH_SECONDS, self.refresh_from_engine)

    def on_unmount(self) -> None:
        self._refresh_timer.stop()

    # ------------------------------------------------------------------ engine -> screen

    def refresh_from_engine(self) -> None:
        events = self.engine.drain(limit=2000)
        stats = self.engine.stats()
        with self.batch_update():
            if events:
                self._show_events(events)
            for peer in self.requestors.sample(stats):
                self._show_requestor(self.requestors.rows[peer])
            self._show_transfers(stats)
            self._show_header(stats)

    def _show_events(self, events: list[EngineEvent]) -> None:
        lines = [f"{time.strftime('%H:%M:%S', time.localtime(e.at))} {e.text()}" for e in events]
        self._lines.extend(lines)
        self.log_view.write_lines([line for line in lines if self._filter in line.lower()])
        # dict, not set: new rows appear in the order the requestors showed up
        changed = dict.fromkeys(peer for event in events if (peer := self.requestors.apply(event)) is not None)
        for peer in changed:
            self._show_requestor(self.requestors.rows[peer])
        if changed:
            self._refresh_targets()
        for event in events:
            if isinstance(event, CommandDone):
                self.notify(event.message, severity="information" if event.ok else "error", timeout=4)
                self._show_armed()
            elif isinstance(event, EngineError):
                self.notify(event.message, severity="error", timeout=8)
            elif isinstance(event, Listening):
                self._port = event.port
                self._show_where()
            elif isinstance(event, FabricsChanged):
                self._fabrics = event
                self._show_where()
        if any(type(e).__name__.startswith(("QueryImage", "ApplyUpdate")) for e in events):
            self._show_armed()  # one-shot knobs get used up

    def _show_requestor(self, row: RequestorRow) -> None:
        key = f"{row.peer[0]}:{row.peer[1]}"
        cells = {
            "node": f"0x{row.peer[1]:016X}",
            "fabric": str(row.peer[0]),
            "VID:PID": f"{row.vendor_id:04X}:{row.product_id:04X}",
            "version": row.versions,
            "state": row.state,
            "last exchange": row.last_exchange,
            "progress": _progress_bar(row.progress),
            "seen": time.strftime("%H:%M:%S", time.localtime(row.last_seen)),
        }
        if key not in self.requestor_table.rows:
            self.requestor_table.add_row(*cells.values(), key=key)
            return
        for column, value in cells.items():
            self.requestor_table.update_cell(key, column, value, update_width=True)

    def _show_transfers(self, stats: EngineStats) -> None:
        rows = tuple(
            (
                str(t.id),
                f"0x{t.peer[1]:016X}",
                _progress_bar(t.bytes_sent / t.total if t.total else None),
                f"{t.bytes_sent}/{t.total}",
                str(t.blocks),
                str(t.block_size),
                _rate(t.bytes_sent, t.seconds),
                "paused" if t.paused else "running",
            )
            for t in stats.transfers
        )
        if rows == self._transfer_rows:
            return
        self._transfer_rows = rows
        self.transfer_table.clear()
        for row in rows:
            self.transfer_table.add_row(*row, key=row[0])

    def _show_where(self) -> None:
        parts = [f"UDP port {self._port}"] if self._port else []
        fabrics = self._fabrics
        if fabrics is not None:
            parts += [f"fabric {index}: node 0x{node:016X}" + (f" ({label})" if label else "")
                      for index, node, _fabric_id, label in fabrics.fabrics]  # fmt: skip
            parts.append("commissioning window open" if fabrics.window_open else "window closed")
        self.sub_title = " · ".join(parts)

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id != "filter":
            return
        self._filter = event.value.strip().lower()
        self.log_view.clear()
        self.log_view.write_lines([line for line in self._lines if self._filter in line.lower()])

    def action_screenshot_svg(self) -> None:
        path = self.save_screenshot()
        self.notify(f"screenshot saved to {path}", timeout=6)

    def _show_header(self, stats: EngineStats) -> None:
        running = len(stats.transfers)
        self.title = (f"Matter OTA Provider · {len(self.requestors.rows)} requestors · {running} transfers · "
                      f"{stats.transfers_finished} done")  # fmt: skip

    def _show_commissioning(self) -> None:
        onboarding = self.engine.onboarding()
        config = self.engine.config
        self.query_one("#qr", Static).update(qr_text(onboarding.qr_code()))
        self.query_one("#codes", Static).update(
            f"QR payload   {onboarding.qr_code()}\n"
            f"Manual code  {SetupPayload.format_manual_code(onboarding.manual_code())}\n\n"
            f"Discriminator {config.discriminator}, passcode {config.passcode:08d}\n"
            f"VID 0x{config.vendor_id:04X}  PID 0x{config.product_id:04X}"
        )

    def _show_images(self) -> None:
        self.query_one("#forced-image", Select).set_options(
            [(f"offer {e.path.name} (v{e.software_version})", e.designator) for e in self.engine.images()]
        )
        table = self.query_one("#images", DataTable)
        table.add_columns("#", "file", "VID:PID", "version", "applies to", "bytes")
        for entry in self.engine.images():
            low = "" if entry.min_applicable_version is None else entry.min_applicable_version
            high = "" if entry.max_applicable_version is None else entry.max_applicable_version
            table.add_row(entry.designator, entry.path.name, f"{entry.vendor_id:04X}:{entry.product_id:04X}",
                          f"{entry.software_version} ({entry.software_version_string})", f"{low}..{high}",
                          str(entry.size))  # fmt: skip

    def _show_armed(self) -> None:
        armed = self.engine.armed()
        self.armed_view.update("\n".join(armed) if armed else "nothing armed")

    def _refresh_targets(self) -> None:
        current = self.target_select.value
        options = [("all requestors", ALL_REQUESTORS)] + [
            (f"0x{peer[1]:016X} (fabric {peer[0]})", f"{peer[0]}:{peer[1]}") for peer in self.requestors.rows
        ]
        try:
            self.target_select.set_options(options)
        except NoMatches:  # the app is closing and the Select's overlay is gone
            return
        self.target_select.value = current if current in {value for _, value in options} else ALL_REQUESTORS

    # ------------------------------------------------------------------ screen -> engine

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table is not self.requestor_table or event.row_key.value is None:
            return
        fabric, node = (int(part) for part in event.row_key.value.split(":"))
        needle = f"node 0x{node:016X} (fabric {fabric})"
        lines = [line for line in self._lines if needle in line]
        self.push_screen(RequestorDetail(f"0x{node:016X} on fabric {fabric}", lines))

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "arm":
            self.action_arm()
        elif event.button.id == "clear":
            self.action_clear_knobs()

    def _target(self) -> tuple[int, int] | None:
        value = self.target_select.value
        if value == ALL_REQUESTORS or not isinstance(value, str):
            return None
        fabric, node = value.split(":")
        return int(fabric), int(node)

    def _number(self, widget_id: str) -> int | None:
        text = self.query_one(f"#{widget_id}", Input).value.strip()
        return int(text) if text else None

    def knobs_from_controls(self) -> list[tuple[Knob, Any]]:
        """The knobs the controls ask for (unset controls leave their knob alone)."""
        knobs: list[tuple[Knob, Any]] = []
        status = self.query_one("#query-status", Select)
        if not status.is_blank():
            knobs.append((Knob.QUERY_STATUS, QueryImageStatus(status.value)))
        for widget_id, knob in (("query-delay", Knob.QUERY_DELAY), ("apply-delay", Knob.APPLY_DELAY),
                                ("ignore-query", Knob.IGNORE_QUERY), ("ignore-apply", Knob.IGNORE_APPLY)):  # fmt: skip
            value = self._number(widget_id)
            if value is not None:
                knobs.append((knob, value))
        if self.query_one("#consent", Checkbox).value:
            knobs.append((Knob.CONSENT_NEEDED, True))
        action = self.query_one("#apply-action", Select)
        if not action.is_blank():
            knobs.append((Knob.APPLY_ACTION, ApplyUpdateAction(action.value)))
        image = self.query_one("#forced-image", Select)
        if not image.is_blank():
            knobs.append((Knob.FORCED_DESIGNATOR, str(image.value)))
        fault = self.query_one("#fault", Select)
        if not fault.is_blank():
            block = self._number("fault-block")
            if block is None:
                raise ValueError("give the block number for the fault")
            knob = Knob[str(fault.value)]
            if knob == Knob.DELAY_BLOCK:
                delay = self.query_one("#fault-delay", Input).value.strip()
                knobs.append((knob, (block, float(delay) if delay else 5.0)))
            elif knob == Knob.END_TRANSFER:
                knobs.append((knob, (block, BdxStatus.TRANSFER_FAILED_UNKNOWN_ERROR)))
            else:
                knobs.append((knob, block))
        return knobs

    def action_arm(self) -> None:
        try:
            knobs = self.knobs_from_controls()
        except ValueError as exc:
            self.notify(str(exc), severity="error")
            return
        if not knobs:
            self.notify("set a control first: nothing to arm", severity="warning")
            return
        sticky = self.query_one("#sticky", RadioButton).value
        target = self._target()
        for knob, value in knobs:
            self.engine.send(ArmKnob(knob, value, sticky=sticky, target=target))

    def action_show_tab(self, tab: str) -> None:
        self.query_one("#tabs", TabbedContent).active = tab
        if tab == "tab-history":
            self._show_history()

    def _show_history(self) -> None:
        table = self.query_one("#history", DataTable)
        table.clear(columns=True)
        table.add_columns("time", "kind", "node", "summary")
        for row in reversed(self.engine.history()):
            node = "" if row.node_id is None else f"0x{row.node_id:016X}/{row.fabric_index}"
            table.add_row(row.as_json()["time"], row.kind, node, row.summary)

    def action_export(self) -> None:
        """Write the visible log (or, on the History tab, the history as CSV) to the current directory."""
        stamp = time.strftime("%Y%m%d-%H%M%S")
        if self.query_one("#tabs", TabbedContent).active == "tab-history":
            path = Path(f"ota-provider-history-{stamp}.csv")
            path.write_text(rows_as_csv(self.engine.history(limit=1_000_000)))
        else:
            path = Path(f"ota-provider-log-{stamp}.txt")
            path.write_text("".join(line + "\n" for line in self._lines if self._filter in line.lower()))
        self.notify(f"written to {path.resolve()}", timeout=6)

    def action_clear_knobs(self) -> None:
        self.engine.send(ClearKnobs())

    def _selected_transfer(self) -> int | None:
        table = self.transfer_table
        if table.row_count == 0:
            self.notify("no transfer running", severity="warning")
            return None
        row = table.get_row_at(table.cursor_row)
        return int(row[0])

    def action_pause(self) -> None:
        if (transfer := self._selected_transfer()) is not None:
            self.engine.send(PauseTransfer(transfer))

    def action_resume(self) -> None:
        if (transfer := self._selected_transfer()) is not None:
            self.engine.send(ResumeTransfer(transfer))

    def action_abort(self) -> None:
        if (transfer := self._selected_transfer()) is not None:
            self.engine.send(AbortTransfer(transfer))
