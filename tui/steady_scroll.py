"""Tables and logs that do not redo their scrollbars on a layout that left their sizes alone.

On every layout of the screen Textual hands each widget the virtual size the compositor worked
out. A ScrollView (DataTable, Log) keeps a virtual size of its own, set from its content, which
differs from the compositor's whenever a scrollbar shows; it compares the two, finds them
different on every layout and redoes its scrollbars, which draws them and the table under them
again. A tab key lays the screen out, so every tab key did this for every table and the log
(the README's key-to-screen figures, from ``benchmarks/bench_dashboard.py``, show the effect).

Here the scrollbars are redone only when what they depend on changed: the widget's size, the
space inside its gutter, or its own virtual size. Textual is pinned exactly, so the private hook
used here stays as it is (the snapshot tests would show a scrollbar left stale).
"""

from __future__ import annotations

from textual.geometry import Size
from textual.widgets import DataTable

__all__ = ["SteadyScroll", "Table"]

# Never a real virtual size: handed on, it makes the ScrollView redo its scrollbars whatever the
# compositor's figure (which it ignores otherwise: it scrolls by its own).
_NOT_A_SIZE = Size(-1, -1)


class SteadyScroll:
    """Mixed in before a ScrollView subclass."""

    _sizes_scrolled_for: tuple[Size, Size, Size] | None = None

    def _size_updated(self, size: Size, virtual_size: Size, container_size: Size, layout: bool = True) -> bool:
        sizes = (size, container_size, self.virtual_size)  # type: ignore[attr-defined]
        if sizes == self._sizes_scrolled_for:
            return False  # what ScrollView answers when neither size nor container changed
        self._sizes_scrolled_for = sizes
        return super()._size_updated(size, _NOT_A_SIZE, container_size, layout)  # type: ignore[misc]


class Table(SteadyScroll, DataTable):
    """A DataTable whose scrollbars are redone only when its size or its rows change."""
