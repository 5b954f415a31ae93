"""The dashboard's logs: Textual's Log, measuring new lines on the UI thread, and not redoing its
scrollbars on a layout that left its sizes alone (see steady_scroll).

Textual's Log measures the width of new lines in a thread worker that calls back into the app;
a worker still running when the app exits fails with NoActiveAppError (seen when a pilot test
ends right after a burst of exchange lines). The dashboard writes at most a few hundred short
lines per refresh, so measuring them in place costs little. Textual is pinned exactly, so the
private hooks used here stay as they are.
"""

from __future__ import annotations

from rich.cells import cell_len
from textual.widgets import Log

from .steady_scroll import SteadyScroll

__all__ = ["MeasuredLog"]


class MeasuredLog(SteadyScroll, Log):
    def _update_size(self, updates: int, lines: list[str]) -> None:  # type: ignore[override]
        if lines:
            self._update_maximum_width(updates, max(cell_len(self._process_line(line)) for line in lines))
