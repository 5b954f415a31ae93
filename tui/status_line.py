"""The status line under the header: one row, most urgent first (the open window and its code,
what is armed, whether this screen is attached, where we listen, our fabrics). What does not fit
the width is left out whole (the Commissioning tab has all of it), never wrapped or cut in the
middle of a code."""

from __future__ import annotations

from dataclasses import dataclass

from textual.widgets import Static

from ota_provider.core.api.events import FabricsChanged, Listening

from .format import duration

__all__ = ["StatusFacts", "StatusLine", "status_parts"]

SEPARATOR = " · "


@dataclass(frozen=True)
class StatusFacts:
    """What the line says, as values (the dashboard gathers them from the engine's events)."""

    fabrics: FabricsChanged | None
    manual_code: str  # formatted, as a technician types it into chip-tool
    armed: int
    attached_to: str | None  # where an attached screen's provider runs; None: in-process
    listening: Listening | None
    stopped: bool


def status_parts(facts: StatusFacts, now: float) -> list[str]:
    """The line's parts, most urgent first; ``now`` on the wall clock (the window's countdown)."""
    parts = []
    fabrics = facts.fabrics
    if fabrics is not None and fabrics.window_open:  # what a technician types into chip-tool, and how long
        left = duration(fabrics.window_closes_at - now) if fabrics.window_closes_at else ""
        parts.append(f"window open{f' {left}' if left else ''}, code {facts.manual_code}")
    parts.append(f"{facts.armed} armed" if facts.armed else "nothing armed")
    if facts.attached_to is not None:
        parts.append(facts.attached_to)
    if facts.listening is not None:
        parts.append(f"UDP {facts.listening.port}")
        parts.append("DNS-SD on" if facts.listening.advertising else "DNS-SD off")
    if fabrics is not None:
        # Our node id in short hex here (the Commissioning tab has the full one).
        parts += [f"fabric {f.index}: 0x{f.node_id:X}" + (f" ({f.label})" if f.label else "") for f in fabrics.fabrics]
        if not fabrics.window_open:
            parts.append("window closed")
    if facts.stopped:
        parts.insert(0, "CONNECTION LOST" if facts.attached_to is not None else "PROVIDER STOPPED")
    return parts


def fit(parts: list[str], room: int) -> str:
    """The parts that fit ``room`` columns, whole, in order."""
    shown: list[str] = []
    for part in parts:
        if len(SEPARATOR.join([*shown, part])) <= room:
            shown.append(part)
    return SEPARATOR.join(shown) or "starting"


class StatusLine(Static):
    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("starting", id=id)
        self._text = "starting"

    def show(self, facts: StatusFacts, now: float, room: int) -> None:
        text = fit(status_parts(facts, now), room)
        if text != self._text:
            # Repainted, not laid out: the line is one row whatever it says (a layout of the whole
            # screen is most of a frame's time, and the window's countdown changes once a second).
            self.update(text, layout=False)
            self._text = text
