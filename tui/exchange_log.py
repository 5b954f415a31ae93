"""The Exchanges tab: every logged event as a line, with a text filter, a kind filter and a follow
state; lines wrap at the log's width and are exported with their date and full node ids."""

from __future__ import annotations

import textwrap
from collections import deque
from dataclasses import dataclass

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Input, Select, Static

from ota_provider.core.api.events import (
    ApplyUpdateAnswered,
    ApplyUpdateIgnored,
    ApplyUpdateReceived,
    ApplyUpdateRefused,
    CommandDone,
    EngineError,
    EngineEvent,
    FabricsChanged,
    FaultInjected,
    NotifyUpdateRefused,
    QueryImageAnswered,
    QueryImageIgnored,
    QueryImageReceived,
    SessionEstablished,
    TransferEvent,
    UpdateAppliedNotified,
)
from ota_provider.core.api.values import iso_time
from ota_provider.core.presentation.lines import event_text

from .format import clock
from .log_view import MeasuredLog

__all__ = ["LOG_KINDS", "LOG_LINES", "ExchangeLog", "LogLine", "log_kind"]

LOG_LINES = 5000
LOG_KINDS = ("QueryImage", "ApplyUpdate", "Notify", "BDX", "commissioning", "errors")


def log_kind(event: EngineEvent) -> str:
    """The exchange-log kind of an event, for the kind filter."""
    if isinstance(event, QueryImageReceived | QueryImageAnswered | QueryImageIgnored):
        return "QueryImage"
    if isinstance(event, ApplyUpdateReceived | ApplyUpdateAnswered | ApplyUpdateIgnored | ApplyUpdateRefused):
        return "ApplyUpdate"
    if isinstance(event, UpdateAppliedNotified | NotifyUpdateRefused):
        return "Notify"
    if isinstance(event, TransferEvent | FaultInjected):
        return "BDX"
    if isinstance(event, EngineError) or (isinstance(event, CommandDone) and not event.ok):
        return "errors"
    if isinstance(event, SessionEstablished | FabricsChanged):
        return "commissioning"
    return "provider"


@dataclass(frozen=True, slots=True)
class LogLine:
    """One exchange-log line: shown with the time of day and short node ids (made once: a filter
    change re-reads all 5000 lines), exported with the date (ISO 8601) and the full ids."""

    kind: str
    at: float
    text: str
    shown: str = ""

    @classmethod
    def of(cls, kind: str, at: float, text: str, short: str | None = None) -> LogLine:
        """``short``: the same words with short node ids (the line as an event renders on screen)."""
        return cls(kind, at, text, f"{clock(at)} {text if short is None else short}")

    @classmethod
    def of_event(cls, event: EngineEvent) -> LogLine:
        return cls.of(log_kind(event), event.at, event_text(event), event_text(event, short_ids=True))

    @property
    def exported(self) -> str:
        return f"{iso_time(self.at)} {self.text}"


class ExchangeLog(Vertical):
    """The log with its bar. Its state is its own: the lines kept, the filters, following or not."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.lines: deque[LogLine] = deque(maxlen=LOG_LINES)
        self._text_filter = ""
        self._kind_filter: str | None = None
        self._follow_text = ""

    def compose(self) -> ComposeResult:
        with Horizontal(id="log-bar"):
            yield Input(placeholder="filter the log (text)", id="filter", compact=True)
            yield Select([(kind, kind) for kind in LOG_KINDS], id="kind", prompt="every kind", compact=True)
            yield Static("", id="follow-state")
        yield MeasuredLog(id="log", max_lines=LOG_LINES)

    def on_mount(self) -> None:
        self.view = self.query_one("#log", MeasuredLog)
        self.follow_state = self.query_one("#follow-state", Static)

    # ------------------------------------------------------------------ what it shows

    def add(self, entries: list[LogLine]) -> None:
        self.lines.extend(entries)
        self._write([line.shown for line in entries if self._visible(line)])

    def rewrite(self) -> None:
        """Every kept line again, filtered and wrapped at the log's width now."""
        self.view.clear()
        self.view.auto_scroll = True
        self.view.write_lines(self._wrapped([line.shown for line in self.lines if self._visible(line)]))
        self.view.scroll_end(animate=False)

    def follow(self) -> None:
        self.view.auto_scroll = True
        self._show_following(True)
        self.view.scroll_end(animate=False)

    def export_text(self) -> str:
        """The lines the filters show, each with its date and time (ISO 8601, UTC) and full node ids."""
        return "".join(line.exported + "\n" for line in self.lines if self._visible(line))

    # ------------------------------------------------------------------ its own controls

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "filter":
            event.stop()
            self._text_filter = event.value.strip().lower()
            self.rewrite()

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "kind":
            event.stop()
            self._kind_filter = None if event.select.is_blank() else str(event.value)
            self.rewrite()

    # ------------------------------------------------------------------ inside

    def _visible(self, line: LogLine) -> bool:
        return (self._kind_filter is None or line.kind == self._kind_filter) and (
            not self._text_filter or self._text_filter in line.shown.lower()
        )

    def _wrapped(self, lines: list[str]) -> list[str]:
        """Long lines folded to the log's width, continuation lines indented past the time stamp, so
        nothing needs scrolling sideways."""
        shown = self.view.scrollable_content_region.width
        # While another tab is shown the log has no width: wrap at the screen's, less the border.
        width = max(40, (shown if shown > 0 else self.app.size.width - 2) - 1)
        out: list[str] = []
        for line in lines:
            if len(line) <= width:
                out.append(line)
            else:
                out += textwrap.wrap(line, width, subsequent_indent=" " * 9, break_on_hyphens=False)
        return out

    def _write(self, lines: list[str]) -> None:
        if not lines:
            return
        lines = self._wrapped(lines)
        log = self.view
        # Follow the tail unless the user scrolled up to read; "f" or scrolling down resumes.
        following = log.scroll_y >= log.max_scroll_y - 1
        log.auto_scroll = following
        self._show_following(following)
        log.write_lines(lines)

    def _show_following(self, following: bool) -> None:
        """In the log's bar, where it is seen (the log itself has no border to carry it)."""
        text = "" if following else "follow paused: f resumes"
        if self._follow_text != text:
            self._follow_text = text
            self.follow_state.update(text)
