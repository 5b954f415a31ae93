"""A one-line text that changes often (rates, counters, countdowns)."""

from __future__ import annotations

from textual.reactive import reactive
from textual.widget import Widget

__all__ = ["Readout"]


class Readout(Widget):
    """Repainted in place and never laid out again: ``Static.update`` lays the whole screen out,
    which several times a second costs the engine thread its share of the GIL."""

    DEFAULT_CSS = """
    Readout {
        height: 1;
        width: 1fr;
    }
    """

    text: reactive[str] = reactive("")

    def __init__(self, text: str = "", **kwargs) -> None:
        super().__init__(**kwargs)
        self.set_reactive(Readout.text, text)

    def render(self) -> str:
        return self.text
