"""The onboarding QR code as text: two modules per character cell with half blocks, in explicit
hex colours (theme-mapped ANSI names come out grey and phones then fail to scan)."""

from __future__ import annotations

import segno
from rich.style import Style
from rich.text import Text

__all__ = ["qr_text"]

DARK, LIGHT = "#000000", "#ffffff"


def qr_text(payload: str, border: int = 2) -> Text:
    matrix = [list(row) for row in segno.make(payload, error="m").matrix_iter(scale=1, border=border)]
    if len(matrix) % 2:
        matrix.append([0] * len(matrix[0]))
    text = Text(no_wrap=True)
    for top, bottom in zip(matrix[::2], matrix[1::2], strict=True):
        for upper, lower in zip(top, bottom, strict=True):
            # "▀" paints the upper module in the foreground and the lower one in the background.
            text.append("▀", Style(color=DARK if upper else LIGHT, bgcolor=DARK if lower else LIGHT))
        text.append("\n")
    return text
