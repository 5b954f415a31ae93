"""The onboarding QR code as text: two modules per character cell with half blocks, in explicit
hex colours (theme-mapped ANSI names come out grey and phones then fail to scan)."""

from __future__ import annotations

from itertools import groupby

import segno
from rich.style import Style
from rich.text import Text

__all__ = ["qr_text"]

DARK, LIGHT = "#000000", "#ffffff"


def qr_text(payload: str, border: int = 2) -> Text:
    matrix = [list(row) for row in segno.make(payload, error="m").matrix_iter(scale=1, border=border)]
    if len(matrix) % 2:
        matrix.append([0] * len(matrix[0]))
    styles = {
        (upper, lower): Style(color=DARK if upper else LIGHT, bgcolor=DARK if lower else LIGHT)
        for upper in (False, True)
        for lower in (False, True)
    }
    text = Text(no_wrap=True)
    for top, bottom in zip(matrix[::2], matrix[1::2], strict=True):
        # "▀" paints the upper module in the foreground and the lower one in the background. One
        # span per run of equal cells, not per cell: the first showing of the Commissioning tab
        # drew every span, and a tab key waited for it.
        for pair, run in groupby(zip(top, bottom, strict=True)):
            text.append("▀" * len(list(run)), styles[bool(pair[0]), bool(pair[1])])
        text.append("\n")
    return text
