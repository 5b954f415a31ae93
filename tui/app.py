"""The dashboard: requestors, next-response controls, transfers and the exchange log, over a
running :class:`~ota_provider.core.engine.ProviderEngine`.

Events are drained from the engine ten times a second in one batch, and transfer progress is
sampled from its stats snapshot, so a burst of traffic never queues up behind key presses. The
app only talks to the engine through ``drain``, ``stats``, ``armed``, ``history``, ``images``,
``onboarding``, ``config`` and ``send``.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import time
from collections import deque
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, ClassVar

from textual import events
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import (
    Button,
    DataTable,
    Footer,
    Header,
    Input,
    Log,
    Sparkline,
    TabbedContent,
    TabPane,
)

from ota_provider.core.api.commands import (
    AbortTransfer,
    AnswerAttestation,
    ArmKnobs,
    BrowseCommissionable,
    ClearKnobs,
    DeviceAction,
    DeviceActionKind,
    OpenCommissioningWindow,
    PauseTransfer,
    QueryHistory,
    ReloadImages,
    RemoveFabric,
    ResumeTransfer,
    ThrottleTransfer,
)
from ota_provider.core.api.events import (
    AttestationQuestion,
    CommandDone,
    EngineError,
    EngineEvent,
    EngineSnapshot,
    FabricsChanged,
    HistoryRows,
    ImagesChanged,
    ImageSummary,
    Listening,
    OtaEvent,
    Stopped,
    TransferFailed,
    TransferFinished,
)
from ota_provider.core.api.link import EngineLink
from ota_provider.core.api.values import (
    ApplyUpdateAction,
    ArmedKnob,
    BdxStatus,
    HistoryRow,
    Knob,
    Peer,
    QueryImageStatus,
    SetupPayload,
    UpdateState,
    rows_as_csv,
)
from ota_provider.core.presentation.words import plural, short_node_id

from .add_device import AddDeviceScreen
from .commissioning import CommissioningPane
from .controls import FOCUS_MARK, ArmedView, NextResponseForm
from .exchange_log import ExchangeLog, LogLine
from .format import node_id, peer_from_key, rate, size
from .history_table import HistoryTable
from .images_table import ImagesTable
from .meter import ThroughputMeter
from .readout import Readout
from .requestors import RequestorTable
from .requestors_table import RequestorsTable
from .screens import ArmScreen, BlockPrompt, ConfirmScreen, HelpScreen, RequestorDetail, detail_lines
from .status_line import StatusFacts, StatusLine
from .transfers import TransfersTable

__all__ = ["ProviderDashboard"]

REFRESH_SECONDS = 0.1  # events are drained this often
STATS_EVERY = 5  # refreshes: progress, rates and the header are sampled twice a second,
STATS_EVERY_BUSY = 10  # and once a second while BUSY_TRANSFERS or more run: each repaint of the
BUSY_TRANSFERS = 5  # transfers table takes the engine thread's GIL time, more so with more rows
HISTORY_ROWS = 500  # the History tab and the details: the newest rows
USED_SHOWN = 4  # knob uses listed under the controls
THROTTLE_STEPS = (0.1, 0.5, 2.0, None)  # seconds per block, then back to the provider's pacing

TALL = 40  # rows: below this, the Commissioning tab takes the screen
log = logging.getLogger(__name__)

REWRAP_DELAY = 0.1  # seconds after the last resize before the log is wrapped at its new width
WIDE = 140  # columns: below this, the controls panel narrows
RATE_WIDTH = 24  # columns of the status line's aggregate rate (app.tcss: #rate)
MIN_STATUS_ROOM = 40  # columns the status line's words always get
TAB_NAMES = {
    "tab-exchanges": "Exchanges",
    "tab-commissioning": "Commissioning",
    "tab-images": "Images",
    "tab-history": "History",
}
# One key each on the selected requestor's row (b, v, g, z): the knob of its next response.
ROW_FAULTS = {
    "not-available": (Knob.QUERY_STATUS, QueryImageStatus.NOT_AVAILABLE),
    "ignore-query": (Knob.IGNORE_QUERY, 1),
    "discontinue": (Knob.APPLY_ACTION, ApplyUpdateAction.DISCONTINUE),
}
# The widget a tab key puts the keyboard in.
TAB_FOCUS = {
    "tab-exchanges": "#log",
    "tab-commissioning": "#fabrics",
    "tab-images": "#images",
    "tab-history": "#history",
}


def _screen_only(event: EngineEvent) -> bool:
    """An answer to what the screen asked for itself (history rows for a table, a browse for the
    Add-device dialog): it shows where it was asked for, not as a log line and a toast."""
    return (
        isinstance(event, CommandDone) and event.ok and isinstance(event.command, QueryHistory | BrowseCommissionable)
    )


def freeze_startup_heap() -> None:
    """Keep what the dashboard built at start-up out of the full garbage collections.

    A full collection walks every object that outlived the younger ones, and a dashboard's widgets,
    styles and caches are many: a key pressed during one waited for it (the worst key-to-screen
    times of an attached dashboard; the README gives the figures ``benchmarks/bench_dashboard.py``
    measured). What exists once the first screen is drawn lives as long as the dashboard: it is
    collected once and frozen (``gc.freeze``), and the full collections after it walk only what
    came later. The price, a start-up object caught in a reference
    cycle that becomes garbage later stays in memory, is bounded by the start-up heap. Only the
    program does this (``freeze_heap=True``), not a test that runs many dashboards in one process.
    """
    gc.collect()
    gc.freeze()


class ProviderDashboard(App):
    TITLE = "Matter OTA Provider"
    CSS_PATH = "app.tcss"
    # Textual annotates these two as instance attributes, so a ClassVar here is an override error.
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (WIDE, "-wide")]  # noqa: RUF012
    VERTICAL_BREAKPOINTS = [(0, "-short"), (TALL, "-tall")]  # noqa: RUF012
    # The footer shows these in order and cuts what does not fit: help and quit come first.
    BINDINGS: ClassVar = [
        Binding("question_mark", "help", "Help"),
        Binding("q", "quit", "Quit"),
        Binding("a", "arm", "Arm"),
        Binding("n", "arm_for_selected", "Arm for node"),
        Binding("b", "busy_once", "Busy once", show=False),
        Binding("v", "row_fault('not-available')", "NotAvailable once", show=False),
        Binding("g", "row_fault('ignore-query')", "Ignore next query", show=False),
        Binding("z", "row_fault('discontinue')", "Discontinue next apply", show=False),
        Binding("k", "block_fault('drop')", "Drop block N", show=False),
        Binding("j", "block_fault('end')", "End at block N", show=False),
        Binding("d", "add_device", "Add device"),
        Binding("r", "clear_knobs", "Clear"),
        Binding("p", "pause", "Pause"),
        Binding("u", "resume", "Resume"),
        Binding("t", "throttle", "Throttle"),
        Binding("x", "abort", "Abort"),
        Binding("e", "show_tab('tab-exchanges')", "Log", show=False),
        Binding("c", "show_tab('tab-commissioning')", "Commission", show=False),
        Binding("i", "show_tab('tab-images')", "Images", show=False),
        Binding("h", "show_tab('tab-history')", "History", show=False),
        Binding("f", "follow", "Follow log", show=False),
        Binding("o", "open_window", "Open window", show=False),
        Binding("delete", "remove_fabric", "Remove fabric", show=False),
        Binding("l", "reload_images", "Reload images", show=False),
        Binding("y", "copy_setup_code", "Copy setup code", show=False),
        Binding("Y", "copy_manual_code", "Copy manual code", show=False),
        Binding("w", "export", "Write"),
        Binding("s", "screenshot_svg", "Screenshot", show=False),
        Binding("slash", "search", "Search log", show=False),
    ]

    def __init__(self, link: EngineLink, *, clock: Callable[[], float] = time.time, freeze_heap: bool = False) -> None:
        super().__init__()
        # Textual's tab underline slides for 0.3 s, a frame at a time, each drawing the tab bar and
        # the footer again: under load, keys waited behind it (the README's key-to-screen figures).
        # The dashboard answers keys and stays still; TEXTUAL_ANIMATIONS, when given, still rules.
        if "TEXTUAL_ANIMATIONS" not in os.environ:
            self.animation_level = "none"
        self._freeze_heap = freeze_heap
        # One code path: the engine in this process (LocalLink) or one attached to (SocketLink).
        self.engine = link
        self.clock = clock
        self.requestors = RequestorTable()
        self.meter = ThroughputMeter()
        self._ticks = 0
        self._laid_out = False  # the tables have their columns (on_mount)
        self._spark_data: list[float] = []
        self._rewrap_timer: Timer | None = None
        self._last_fault = ""
        self._history_dirty = False  # new rows to show on the History tab, if it is open
        self._used: deque[tuple[float, Peer, ArmedKnob]] = deque(maxlen=USED_SHOWN)
        self._listening: Listening | None = None
        self._fabrics: FabricsChanged | None = None
        self._stats: EngineSnapshot | None = None
        self._stopped = False
        self._fabrics_seen = False
        self._snapshot: EngineSnapshot | None = None
        self._history: tuple[HistoryRow, ...] = ()  # the last rows the engine sent (History tab, details)
        self._history_asked: dict[str, Path | None] = {}  # QueryHistory id -> an export file, or None
        self._form_arms: dict[str, bool] = {}  # ids of the ArmKnobs the form sent, not answered yet
        self._panel_titles: dict[Any, str] = {}  # panel -> its title without the focus mark (on_mount)
        self.export_dir = self.engine.export_dir

    # ------------------------------------------------------------------ layout

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="status"):
            yield StatusLine(id="where")
            yield Readout(id="rate")
        with Horizontal(id="top"):
            with Vertical(id="left"):
                yield RequestorsTable(id="requestors", cursor_type="row")
                with Vertical(id="transfer-box"):
                    with Horizontal(id="throughput"):
                        yield Readout(id="aggregate")
                        yield Sparkline([0.0], id="spark")
                    yield TransfersTable(self.meter, self.clock, id="transfers", cursor_type="row")
            with Vertical(id="right"):
                yield NextResponseForm(id="controls")
                yield ArmedView(id="armed-box")
        with TabbedContent(id="tabs"):
            with TabPane(TAB_NAMES["tab-exchanges"], id="tab-exchanges"):
                yield ExchangeLog(id="exchange-log")
            with TabPane(TAB_NAMES["tab-commissioning"], id="tab-commissioning"):
                yield CommissioningPane(id="commissioning")
            with TabPane(TAB_NAMES["tab-images"], id="tab-images"):
                yield ImagesTable(id="images", cursor_type="row")
            with TabPane(TAB_NAMES["tab-history"], id="tab-history"):
                yield HistoryTable(id="history", cursor_type="row")
        yield Footer()

    def on_mount(self) -> None:
        # References cached once: timers may fire while the app tears down.
        self.requestor_table = self.query_one("#requestors", RequestorsTable)
        self.transfer_table = self.query_one("#transfers", TransfersTable)
        self.exchange_log = self.query_one("#exchange-log", ExchangeLog)
        self.log_view = self.query_one("#log", Log)
        self.controls = self.query_one("#controls", NextResponseForm)
        self.armed_box = self.query_one("#armed-box", ArmedView)
        self.commissioning = self.query_one("#commissioning", CommissioningPane)
        self.where_view = self.query_one("#where", StatusLine)
        self.spark = self.query_one("#spark", Sparkline)
        self.aggregate_view = self.query_one("#aggregate", Readout)
        self.rate_view = self.query_one("#rate", Readout)
        self._fit_columns()
        self._laid_out = True
        self._panel_titles = {
            self.requestor_table: "Requestors (Enter: detail)",
            self.query_one("#transfer-box"): "Transfers (p pause, u resume, t throttle, x abort)",
            self.controls: "Next response (n: one node)",
        }
        self._show_focus()
        self.armed_box.border_title = "Armed (r clears)"
        self.commissioning.show_codes(self.engine.onboarding())
        self._show_images()
        self._show_armed()
        self._show_where()
        self._make_room_for_qr()
        self._refresh_timer = self.set_interval(REFRESH_SECONDS, self.refresh_from_engine)
        if self._freeze_heap:
            self.call_after_refresh(freeze_startup_heap)

    def on_resize(self, event: events.Resize) -> None:
        if self._laid_out:  # after on_mount
            self._fit_columns(event.size.width)  # the new size: self.size may still be the old one
            self._make_room_for_qr(event.size.height)
            self._show_where(event.size.width)
            # The log's new width is known once the layout has run; a burst of resizes rewraps once.
            if self._rewrap_timer is not None:
                self._rewrap_timer.stop()
            self._rewrap_timer = self.set_timer(REWRAP_DELAY, self._rewrite_log)

    def _fit_columns(self, width: int | None = None) -> None:
        """Fewer columns on a narrow terminal, so no table needs scrolling sideways."""
        width = self.size.width if width is None else width
        self.requestor_table.fit(width, list(self.requestors.rows.values()))
        self.transfer_table.fit(width)

    def on_unmount(self) -> None:
        if hasattr(self, "_refresh_timer"):
            self._refresh_timer.stop()

    # ------------------------------------------------------------------ engine -> screen

    def refresh_from_engine(self) -> None:
        # Snapshots come ten times a second; the sampling below reads the latest when it is due.
        events = [e for e in self.engine.drain(limit=2000) if not isinstance(e, EngineSnapshot)]
        busy = self._stats is not None and len(self._stats.transfers) >= BUSY_TRANSFERS
        sample = self._ticks % (STATS_EVERY_BUSY if busy else STATS_EVERY) == 0 or self._stats is None
        self._ticks += 1
        if not events and not sample:
            return
        try:
            with self.batch_update():
                if events:
                    self._show_events(events)
                if sample:
                    self._sample()
                    if self._history_dirty and self.query_one("#tabs", TabbedContent).active == "tab-history":
                        self._show_history()  # the History tab follows new rows, at the sampling rate
        except Exception as exc:  # a display fault must never stop the provider: show it, keep serving
            self._display_fault(exc)

    def _display_fault(self, exc: Exception) -> None:
        log.exception("dashboard refresh failed")
        text = f"dashboard error (the provider keeps serving): {type(exc).__name__}: {exc}"
        if text != self._last_fault:  # once per distinct fault, not ten times a second
            self._last_fault = text
            self.exchange_log.add([LogLine.of("errors", time.time(), text)])
            self.notify(text, severity="error", timeout=10)

    def _sample(self) -> None:
        snapshot = self.engine.snapshot()
        if snapshot is None:  # the engine has published nothing yet
            return
        before, self._snapshot = self._snapshot, snapshot
        if before is None:  # attached late: where it listens and its fabrics, from the snapshot
            self._show_events(
                [
                    e
                    for e in (snapshot.listening, snapshot.fabrics)
                    if e is not None
                    and (self._listening is None if isinstance(e, Listening) else self._fabrics is None)
                ]
            )
        if before is None or (snapshot.images, snapshot.ledger_downloads) != (before.images, before.ledger_downloads):
            self._show_images()
        if before is None or snapshot.armed != before.armed:
            self._show_armed()
        stats = self._stats = snapshot
        now = self.clock()
        self.meter.sample(stats, now)
        changed = self.requestors.sample(stats)
        if snapshot.vendor_names:
            named = self.requestors.name_vendors(dict(snapshot.vendor_names))
            if named:
                changed |= named
                self._fit_columns()  # the vendor column appears with the first name
        changed |= {peer for peer, row in self.requestors.rows.items() if row.device_state is UpdateState.DOWNLOADING}
        for peer in changed:  # and the rows whose device-side flag depends on time
            self.requestor_table.show(self.requestors.rows[peer])
        self.transfer_table.show(stats)
        self._show_header(stats)
        if self._fabrics is not None and self._fabrics.window_open:
            self.commissioning.show_window(self._fabrics.window_closes_at, now)
            self._show_where()  # the countdown in the status line

    def _show_events(self, events: list[EngineEvent]) -> None:
        self.exchange_log.add([LogLine.of_event(e) for e in events if e.logged and not _screen_only(e)])
        # dict, not set: new rows appear in the order the requestors showed up
        changed = dict.fromkeys(peer for event in events if (peer := self.requestors.apply(event)) is not None)
        for peer in changed:
            self.requestor_table.show(self.requestors.rows[peer])
        if changed:
            self._refresh_targets()
            self._show_counts()
        armed_changed = False
        for event in events:
            if isinstance(event, OtaEvent) and (used := getattr(event, "used", ())):
                self._used.extend((event.at, event.peer, what) for what in used)
                armed_changed = True
            elif isinstance(event, CommandDone) and not _screen_only(event):
                # Short: the log and the Armed box keep what was done; errors stay longer. (The
                # Add-device dialog says itself whether it can browse.)
                self.notify(
                    event.message, severity="information" if event.ok else "error", timeout=3 if event.ok else 8
                )
                armed_changed = True
                if self._form_arms.pop(event.command_id, False) and event.ok:
                    # What the form armed, one-shot or sticky, is now in the Armed box: a habitual "a"
                    # must not arm it again. (Another front end's arm leaves a half-set form alone.)
                    self.controls.reset()
            elif isinstance(event, EngineError):
                self.notify(event.message, severity="error", timeout=8)
            elif isinstance(event, HistoryRows):
                self._history_arrived(event)
            elif isinstance(event, TransferFinished | TransferFailed):
                self.transfer_table.ended(event)
            if isinstance(event, OtaEvent | TransferFinished | TransferFailed):
                self._history_dirty = True
            elif isinstance(event, Listening):
                self._listening = event
                self._show_where()
            elif isinstance(event, FabricsChanged):
                self._fabrics = event
                self.commissioning.show_fabrics(event)
                self._show_where()
                if not self._fabrics_seen and not event.fabrics:  # nobody commissioned us: the code first
                    self.action_show_tab("tab-commissioning")
                self._fabrics_seen = True
            elif isinstance(event, Stopped):  # the engine's thread ended while the screen is still up
                self._stopped = True
                self._show_where()
                if self.engine.attached:
                    self.notify(
                        "the connection to the provider is gone (it may still run): quit (q) and attach again",
                        severity="error",
                        timeout=30,
                    )
                else:
                    self.notify(
                        "the provider stopped: requestors get no answers; see the log, then quit (q)",
                        severity="error",
                        timeout=30,
                    )
        if armed_changed:
            self._show_armed()
        self._follow_commissioning(events)
        if any(
            isinstance(e, ImagesChanged) or (isinstance(e, CommandDone) and isinstance(e.command, ReloadImages))
            for e in events
        ):
            self._show_images()  # the Images tab and the forced-image list follow the catalog

    def _follow_commissioning(self, events: list[EngineEvent]) -> None:
        """The Add-device dialog shows its device's stages, the arm popup the engine's answer; a
        failed attestation asks the user."""
        for screen in self.screen_stack:
            if isinstance(screen, AddDeviceScreen):
                screen.show_events(events)
            elif isinstance(screen, ArmScreen):
                for event in events:
                    if isinstance(event, CommandDone):
                        screen.answered(event)
        for event in events:
            if isinstance(event, AttestationQuestion):
                self._ask_attestation(event)

    def _ask_attestation(self, question: AttestationQuestion) -> None:
        def answered(yes: bool | None) -> None:
            self.engine.send(AnswerAttestation(question.target, bool(yes)))

        self.push_screen(
            ConfirmScreen(f"{question.target}: {question.verdict}. Commission it anyway (as chip-tool's bypass does)?"),
            answered,
        )

    def _device_action(self, action: DeviceActionKind) -> None:
        """Re-read, update now or forget the selected requestor, if it is a device of our bench fabric
        (the engine refuses any other, in words)."""
        if (peer := self._selected_requestor()) is None:
            return
        if action is not DeviceActionKind.FORGET:
            self.engine.send(DeviceAction(peer.node_id, action))
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.engine.send(DeviceAction(peer.node_id, DeviceActionKind.FORGET))

        self.push_screen(
            ConfirmScreen(
                f"Forget node {node_id(peer.node_id)}? RemoveFabric takes our bench fabric off "
                "the device; its other fabrics stay."
            ),
            answered,
        )

    def on_descendant_focus(self, _: events.DescendantFocus) -> None:
        self._show_focus()

    def _show_focus(self) -> None:
        """A mark on the panel, or the tab, that has the keyboard on the main screen."""
        if not self._panel_titles or not self.screen_stack:  # before on_mount, or while the app closes
            return
        main = self.screen_stack[0]
        focused = main.focused
        within = set() if focused is None else {focused, *focused.ancestors}
        for panel, title in self._panel_titles.items():
            panel.border_title = f"{FOCUS_MARK}{title}" if panel in within else title
        tabs = main.query_one("#tabs", TabbedContent)
        for pane in tabs.query(TabPane):
            name = TAB_NAMES[pane.id or ""]  # every pane is composed with an id (compose)
            label = f"{FOCUS_MARK}{name}" if pane in within else name
            tab = tabs.get_tab(pane)
            if str(tab.label) != label:
                tab.label = label

    def action_add_device(self) -> None:
        """d: commission a device onto the bench fabric, point it at us and announce."""
        self.push_screen(AddDeviceScreen(self.engine.send))

    def _show_counts(self) -> None:
        """The header's counters: they change on events only (the rates are repainted Readouts)."""
        stats = self._stats
        running = len(stats.transfers) if stats else 0
        done = f"{stats.transfers_finished} done, {stats.transfers_failed} failed" if stats else ""
        self.sub_title = f"{plural(len(self.requestors.rows), 'requestor')} · {plural(running, 'transfer')} · {done}"
        # The counts must fit the header at 80 columns: the title gives way.
        self.title = self.TITLE if self.size.width >= 100 else "OTA Provider"

    def _show_header(self, stats: EngineSnapshot) -> None:
        self._show_counts()
        aggregate = rate(self.meter.aggregate)
        self.rate_view.text = f"{aggregate} aggregate"
        self.aggregate_view.text = f"{aggregate}, total {size(stats.bytes_sent_total)}"
        history = list(self.meter.history)
        if history != self._spark_data:  # a new sample each second; repaint only then
            self._spark_data = self.spark.data = history

    def _show_where(self, width: int | None = None) -> None:
        """The status line; ``width``: the new width, while a resize is handled."""
        facts = StatusFacts(
            self._fabrics,
            SetupPayload.format_manual_code(self.engine.onboarding().manual_code()),
            len(self._armed()),
            self.engine.describe() if self.engine.attached else None,
            self._listening,
            self._stopped,
        )
        room = max(MIN_STATUS_ROOM, (self.size.width if width is None else width) - RATE_WIDTH - 2)
        self.where_view.show(facts, self.clock(), room)

    def _armed(self) -> tuple[ArmedKnob, ...]:
        return self._snapshot.armed if self._snapshot is not None else ()

    def _images(self) -> tuple[ImageSummary, ...]:
        return self._snapshot.images if self._snapshot is not None else ()

    def _show_images(self) -> None:
        entries = self._images()
        self.controls.show_images(entries)
        downloads = self._snapshot.ledger_downloads if self._snapshot is not None else ()
        self.query_one("#images", ImagesTable).show(entries, downloads)

    def _show_armed(self) -> None:
        self.armed_box.show(self._armed(), list(self._used))
        self._show_where()  # the status line says whether anything is armed

    def _refresh_targets(self) -> None:
        try:
            self.controls.show_targets(list(self.requestors.rows))
        except NoMatches:  # the app is closing and the Select's overlay is gone
            return

    def _ask_history(self, purpose: Path | None = None, limit: int = HISTORY_ROWS) -> None:
        """The engine reads the history on its side and answers with HistoryRows: the screen never
        waits for the database (nor, attached, for the network). ``purpose``: a file to export the
        rows to; None: the History tab and the detail screen."""
        command = QueryHistory(limit)
        self._history_asked[command.id] = purpose
        self.engine.send(command)

    def _show_history(self) -> None:
        self._history_dirty = False
        self._ask_history()

    def _history_arrived(self, answer: HistoryRows) -> None:
        if answer.command_id not in self._history_asked:
            return  # another front end asked
        purpose = self._history_asked.pop(answer.command_id)
        if isinstance(purpose, Path):  # an export of the history: written where it was asked for
            self._write_export(purpose, rows_as_csv(list(answer.rows)))
            return
        self._history = answer.rows
        self.query_one("#history", HistoryTable).show(self._history)
        if isinstance(self.screen, RequestorDetail):
            self.screen.refresh_lines()  # its history rows, as soon as they are here

    # ------------------------------------------------------------------ screen -> engine

    def _rewrite_log(self) -> None:
        self._rewrap_timer = None
        self.exchange_log.rewrite()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        key = event.row_key.value
        if key is None:
            return
        if event.data_table is self.requestor_table:
            self.show_requestor_detail(peer_from_key(key))
        elif event.data_table.id == "images":
            self.controls.offer_image(key)
            self.notify(f"image {key} selected in the controls: press a (Arm) to offer it next", timeout=5)

    def show_requestor_detail(self, peer: Peer) -> None:
        def lines() -> list[str]:
            row = self.requestors.rows[peer]
            running = [t for t in (self._stats.transfers if self._stats else ()) if t.peer == peer]
            history = [h for h in self._history if h.peer == peer]
            return detail_lines(row, running, list(reversed(history)))

        self._ask_history()  # the detail shows this node's rows once they are here (it refreshes itself)
        self.push_screen(RequestorDetail(f"{node_id(peer.node_id)} on fabric {peer.fabric_index}", lines))

    def on_button_pressed(self, event: Button.Pressed) -> None:
        actions = {
            "arm": self.action_arm,
            "clear": self.action_clear_knobs,
            "open-window": self.action_open_window,
            "remove-fabric": self.action_remove_fabric,
        }
        if event.button.id in actions:
            actions[event.button.id]()

    def action_arm(self) -> None:
        if (command := self.controls.arm_command(self.notify)) is not None:
            self._form_arms[command.id] = True
            self.engine.send(command)

    def action_clear_knobs(self) -> None:
        self.engine.send(ClearKnobs())

    def action_show_tab(self, tab: str) -> None:
        """Show a tab and put the keyboard in it (focus left in a hidden tab is lost to the user)."""
        self.query_one("#tabs", TabbedContent).active = tab
        if tab == "tab-history":
            self._show_history()
        self.query_one(TAB_FOCUS[tab]).focus()

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        if event.pane.id == "tab-history":
            self._show_history()
        self._make_room_for_qr()

    def _make_room_for_qr(self, height: int | None = None) -> None:
        """On a short terminal the Commissioning tab takes the screen (the QR code needs it); on a
        tall one the tab area is always tall enough for it (app.tcss, ``.-tall #tabs``), so that
        switching tabs changes only what is in it and the tables above keep their size (a relayout
        of the whole screen on every tab key was most of the key's time to the screen).

        ``height``: the new height, while a resize is handled (``self.size`` is still the old one:
        judged by it, a tall-to-short resize kept the tall layout and pushed half the panels off)."""
        short = (self.size.height if height is None else height) < TALL
        onboarding = self.query_one("#tabs", TabbedContent).active == "tab-commissioning"
        self.query_one("#top").display = not (short and onboarding)

    def action_follow(self) -> None:
        self.exchange_log.follow()

    def _export_path(self, name: str) -> Path | None:
        """A new file in the export folder (made on first use, owner-only like the state: logs name the
        requestors and fabrics of the bench), or None after saying why not."""
        try:
            self.export_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            self.notify(
                f"cannot write to {self.export_dir}: {exc.strerror or exc}; give --export-dir DIR",
                severity="error",
                timeout=8,
            )
            return None
        return self.export_dir / f"ota-provider-{name}-{time.strftime('%Y%m%d-%H%M%S')}"

    def action_export(self) -> None:
        """Write the visible log (or, on the History tab, the history as CSV) to the export folder:
        each log line with its date and time, ISO 8601 in UTC, and full node ids."""
        history = self.query_one("#tabs", TabbedContent).active == "tab-history"
        base = self._export_path("history" if history else "log")
        if base is None:
            return
        path = base.with_suffix(".csv" if history else ".txt")
        if history:  # written when the engine's rows arrive
            self._ask_history(path, limit=1_000_000)
            return
        self._write_export(path, self.exchange_log.export_text())

    def _write_export(self, path: Path, text: str) -> None:
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
            with os.fdopen(descriptor, "w") as out:
                out.write(text)
        except OSError as exc:
            self.notify(f"cannot write {path}: {exc.strerror or exc}", severity="error", timeout=8)
            return
        self.notify(f"written to {path.resolve()}", timeout=6)

    def action_screenshot_svg(self) -> None:
        base = self._export_path("screen")
        if base is not None:
            path = self.save_screenshot(filename=base.with_suffix(".svg").name, path=str(base.parent))
            with contextlib.suppress(OSError):
                os.chmod(path, 0o600)
            self.notify(f"screenshot saved to {Path(path).resolve()}", timeout=6)

    def action_search(self) -> None:
        """/ : type to keep only the log lines that contain the text (Esc clears it)."""
        self.action_show_tab("tab-exchanges")
        self.query_one("#filter", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "filter":  # Enter: done typing, read the log
            self.log_view.focus()
        elif self.controls in event.input.ancestors:
            # Enter moves on, as Tab does: a technician pressing Enter through the fields must not
            # arm a half-set form (arming is a or the Arm button, a deliberate key).
            self.screen.focus_next()

    def on_key(self, event: events.Key) -> None:
        filter_input = self.query_one("#filter", Input)
        if event.key == "escape" and self.focused is filter_input:  # Esc clears the search, then leaves it
            event.stop()
            if filter_input.value:
                filter_input.value = ""
            else:
                self.log_view.focus()

    def action_arm_for_selected(self) -> None:
        """A popup with every knob, aimed at the selected requestor."""
        if (peer := self._selected_requestor()) is None:
            return

        title = f"Next response for node {node_id(peer.node_id)}" + (
            "" if peer.fabric_index == 1 else f" on fabric {peer.fabric_index}"
        )
        self.push_screen(ArmScreen(title, peer, self._images(), self.engine.send))

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    def action_open_window(self) -> None:
        self.engine.send(OpenCommissioningWindow())

    def action_remove_fabric(self) -> None:
        index = self.commissioning.selected_fabric()
        if index is None:
            self.notify("no fabric to remove", severity="warning")
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.engine.send(RemoveFabric(index))

        self.action_show_tab("tab-commissioning")
        self.push_screen(ConfirmScreen(f"Remove fabric {index}? Its controllers lose this node."), answered)

    def action_copy_setup_code(self) -> None:
        """The QR payload to the clipboard (OSC 52: works over SSH, in most terminals and tmux)."""
        payload = self.engine.onboarding().qr_code()
        self.copy_to_clipboard(payload)
        manual = SetupPayload.format_manual_code(self.engine.onboarding().manual_code())
        self.notify(f"{payload} copied to the clipboard (Y copies the manual code {manual})", timeout=4)

    def action_copy_manual_code(self) -> None:
        """The 11-digit manual pairing code, what chip-tool users type, to the clipboard."""
        manual = self.engine.onboarding().manual_code()
        self.copy_to_clipboard(manual)
        self.notify(f"{SetupPayload.format_manual_code(manual)} copied to the clipboard", timeout=4)

    def action_reload_images(self) -> None:
        self.engine.send(ReloadImages())

    def _selected_requestor(self) -> Peer | None:
        peer = self.requestor_table.selected()
        if peer is None:
            self.notify("no requestor yet", severity="warning")
        return peer

    def action_busy_once(self) -> None:
        """One key: the selected requestor's next QueryImage gets Busy (the requestor retries no
        sooner than 120 s, and gives up on a provider after three)."""
        if (peer := self._selected_requestor()) is not None:
            self.engine.send(ArmKnobs(((Knob.QUERY_STATUS, QueryImageStatus.BUSY),), target=peer, unseen=True))

    def action_row_fault(self, name: str) -> None:
        """One key, one response of the selected requestor shaped (one-shot, that node only)."""
        if (peer := self._selected_requestor()) is not None:
            self.engine.send(ArmKnobs((ROW_FAULTS[name],), target=peer, unseen=True))

    def action_block_fault(self, name: str) -> None:
        """Drop block N, or end the transfer at block N, of the selected requestor's next transfer:
        N asked on one line."""
        if (peer := self._selected_requestor()) is None:
            return
        what = "Drop block" if name == "drop" else "End the transfer (TransferFailedUnknownError) at block"

        def answered(block: int | None) -> None:
            if block is None:
                return
            value = block if name == "drop" else (block, BdxStatus.TRANSFER_FAILED_UNKNOWN_ERROR)
            knob = Knob.DROP_BLOCK if name == "drop" else Knob.END_TRANSFER
            self.engine.send(ArmKnobs(((knob, value),), target=peer, unseen=True))

        self.push_screen(BlockPrompt(f"{what} N of node {short_node_id(peer.node_id)}'s next transfer, N ="), answered)

    def _selected_transfer(self) -> int | None:
        transfer = self.transfer_table.selected()
        if transfer is None:
            self.notify("no transfer running", severity="warning")
        return transfer

    def action_pause(self) -> None:
        if (transfer := self._selected_transfer()) is not None:
            self.engine.send(PauseTransfer(transfer))

    def action_resume(self) -> None:
        if (transfer := self._selected_transfer()) is not None:
            self.engine.send(ResumeTransfer(transfer))

    def action_throttle(self) -> None:
        if (transfer := self._selected_transfer()) is None:
            return
        current = next((t.throttle for t in self._stats.transfers if t.id == transfer), None) if self._stats else None
        step = (
            THROTTLE_STEPS[(THROTTLE_STEPS.index(current) + 1) % len(THROTTLE_STEPS)]
            if (current in THROTTLE_STEPS)
            else THROTTLE_STEPS[0]
        )
        self.engine.send(ThrottleTransfer(transfer, step))

    def action_abort(self) -> None:
        if (transfer := self._selected_transfer()) is None:
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.engine.send(AbortTransfer(transfer))

        self.push_screen(ConfirmScreen(f"Abort transfer #{transfer}? The requestor gets a BDX StatusReport."), answered)

    async def action_quit(self) -> None:
        """Quitting ends running transfers (each requestor gets a StatusReport): ask first. An
        attached dashboard only detaches: the provider and its transfers go on."""
        running = len(self._stats.transfers) if self._stats is not None else 0
        if not running or self.engine.attached:
            self.exit()
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.exit()

        self.push_screen(ConfirmScreen(f"{plural(running, 'transfer')} running: quitting ends them. Quit?"), answered)

    # ------------------------------------------------------------------ command palette

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        for title, help_text, callback in (
            ("Arm the next-response controls", "send what the controls ask for to the engine", self.action_arm),
            ("Add device", "commission a device by its setup code, point it at us, announce", self.action_add_device),
            (
                "Update the selected device now",
                "point it at us and announce again (bench devices)",
                lambda: self._device_action(DeviceActionKind.ANNOUNCE),
            ),
            (
                "Re-read the selected device",
                "its version and UpdateState, over a new CASE session",
                lambda: self._device_action(DeviceActionKind.READ),
            ),
            (
                "Forget the selected device",
                "RemoveFabric of our bench fabric on it, after a yes/no",
                lambda: self._device_action(DeviceActionKind.FORGET),
            ),
            (
                "Arm for the selected requestor",
                "every knob, in a popup aimed at the selected node",
                self.action_arm_for_selected,
            ),
            ("Busy once for the selected requestor", "its next QueryImage gets Busy", self.action_busy_once),
            (
                "NotAvailable once for the selected requestor",
                "its next QueryImage gets UpdateNotAvailable",
                lambda: self.action_row_fault("not-available"),
            ),
            (
                "Ignore the selected requestor's next query",
                "its next QueryImage gets no answer",
                lambda: self.action_row_fault("ignore-query"),
            ),
            (
                "Discontinue the selected requestor's next apply",
                "its next ApplyUpdateRequest gets Discontinue",
                lambda: self.action_row_fault("discontinue"),
            ),
            (
                "Drop block N for the selected requestor",
                "its next transfer stalls at block N",
                lambda: self.action_block_fault("drop"),
            ),
            (
                "End the transfer at block N for the selected requestor",
                "a BDX StatusReport instead of block N",
                lambda: self.action_block_fault("end"),
            ),
            ("Search the exchange log", "keep the lines that contain a text", self.action_search),
            ("Clear every knob", "disarm all one-shot and sticky knobs", self.action_clear_knobs),
            ("Pause transfer", "pause the selected BDX transfer", self.action_pause),
            ("Resume transfer", "resume the selected BDX transfer", self.action_resume),
            ("Throttle transfer", "0.1 s, 0.5 s, 2 s per block, then off", self.action_throttle),
            ("Abort transfer", "end the selected transfer with a BDX StatusReport", self.action_abort),
            ("Open commissioning window", "15 minutes, with the setup code shown", self.action_open_window),
            ("Remove fabric", "remove the fabric selected on the Commissioning tab", self.action_remove_fabric),
            ("Reload images", "read the image files or list again", self.action_reload_images),
            ("Copy setup code", "the MT: QR payload, to the clipboard", self.action_copy_setup_code),
            ("Copy manual code", "the 11-digit manual pairing code, to the clipboard", self.action_copy_manual_code),
            ("Follow the exchange log", "scroll to the newest line and stay there", self.action_follow),
            ("Export", "the visible log, or the history as CSV, to the export folder", self.action_export),
            ("SVG screenshot", "save the screen as an SVG file", self.action_screenshot_svg),
            ("Help", "keys and what each panel does", self.action_help),
            ("Show exchanges", "the exchange log tab", lambda: self.action_show_tab("tab-exchanges")),
            ("Show commissioning", "QR code, window, fabrics", lambda: self.action_show_tab("tab-commissioning")),
            ("Show images", "the image catalog", lambda: self.action_show_tab("tab-images")),
            ("Show history", "past updates", lambda: self.action_show_tab("tab-history")),
        ):
            yield SystemCommand(title, help_text, callback)
