"""Turn a rendered terminal screen back into pixels, two per cell (the half-block QR rendering),
and decode QR codes from it: what a phone camera does with the real screen."""

from __future__ import annotations

import re

import zxingcpp
from PIL import Image

__all__ = ["ansi_cells", "decode_qr", "segment_cells"]

Rgb = tuple[int, int, int]
Cell = tuple[str, Rgb, Rgb]  # character, foreground, background
TERMINAL_BACKGROUND: Rgb = (0, 0, 0)
TERMINAL_FOREGROUND: Rgb = (255, 255, 255)


def _xterm_256(index: int) -> Rgb:
    base = [
        (0, 0, 0),
        (128, 0, 0),
        (0, 128, 0),
        (128, 128, 0),
        (0, 0, 128),
        (128, 0, 128),
        (0, 128, 128),
        (192, 192, 192),
        (128, 128, 128),
        (255, 0, 0),
        (0, 255, 0),
        (255, 255, 0),
        (0, 0, 255),
        (255, 0, 255),
        (0, 255, 255),
        (255, 255, 255),
    ]
    if index < 16:
        return base[index]
    if index < 232:
        index -= 16
        levels = (0, 95, 135, 175, 215, 255)
        return levels[index // 36], levels[index // 6 % 6], levels[index % 6]
    grey = 8 + 10 * (index - 232)
    return grey, grey, grey


def segment_cells(strips) -> list[list[Cell]]:
    """Cells of a Textual compositor render: per line, the Strips that make it up."""
    rows = []
    for line in strips:
        row: list[Cell] = []
        for segment in (segment for strip in line for segment in strip):
            style = segment.style
            fg = style.color.get_truecolor() if style and style.color else None
            bg = style.bgcolor.get_truecolor() if style and style.bgcolor else None
            fg = tuple(fg) if fg else TERMINAL_FOREGROUND
            bg = tuple(bg) if bg else TERMINAL_BACKGROUND
            if style and style.reverse:
                fg, bg = bg, fg
            row += [(char, fg, bg) for char in segment.text]
        rows.append(row)
    return rows


_SGR = re.compile(r"\x1b\[([0-9;]*)m")


def ansi_cells(text: str) -> list[list[Cell]]:
    """Cells of ``tmux capture-pane -e -p`` output (SGR colours: 16, 256 or 24-bit)."""
    rows = []
    for line in text.split("\n"):
        fg, bg, reverse = TERMINAL_FOREGROUND, TERMINAL_BACKGROUND, False
        row: list[Cell] = []
        position = 0
        for match in [*_SGR.finditer(line), None]:
            end = match.start() if match else len(line)
            for char in line[position:end]:
                row.append((char, bg, fg) if reverse else (char, fg, bg))
            if match is None:
                break
            position = match.end()
            codes = [int(code) if code else 0 for code in match.group(1).split(";")]
            i = 0
            while i < len(codes):
                code = codes[i]
                if code == 0:
                    fg, bg, reverse = TERMINAL_FOREGROUND, TERMINAL_BACKGROUND, False
                elif code == 7:
                    reverse = True
                elif code == 27:
                    reverse = False
                elif code in (38, 48) and i + 1 < len(codes):
                    if codes[i + 1] == 5:
                        colour, i = _xterm_256(codes[i + 2]), i + 2
                    else:
                        colour, i = (codes[i + 2], codes[i + 3], codes[i + 4]), i + 4
                    fg, bg = (colour, bg) if code == 38 else (fg, colour)
                elif code == 39:
                    fg = TERMINAL_FOREGROUND
                elif code == 49:
                    bg = TERMINAL_BACKGROUND
                elif 30 <= code <= 37 or 90 <= code <= 97:
                    fg = _xterm_256(code - 30 if code < 90 else code - 90 + 8)
                elif 40 <= code <= 47 or 100 <= code <= 107:
                    bg = _xterm_256(code - 40 if code < 100 else code - 100 + 8)
                i += 1
        rows.append(row)
    return rows


def _dark(rgb: Rgb) -> bool:
    r, g, b = rgb
    return 0.299 * r + 0.587 * g + 0.114 * b < 128


def decode_qr(cells: list[list[Cell]], scale: int = 6) -> list[str]:
    """Every QR code in the screen, decoded. Half blocks give two pixels per cell; anything that is
    not a block character is drawn as its background."""
    width = max(len(row) for row in cells)
    image = Image.new("L", (width, 2 * len(cells)), 255)
    pixels = image.load()
    for y, row in enumerate(cells):
        for x, (char, fg, bg) in enumerate(row):
            top, bottom = {"▀": (fg, bg), "▄": (bg, fg), "█": (fg, fg)}.get(char, (bg, bg))
            pixels[x, 2 * y] = 0 if _dark(top) else 255
            pixels[x, 2 * y + 1] = 0 if _dark(bottom) else 255
    image = image.resize((width * scale, 2 * len(cells) * scale), Image.NEAREST)
    return [result.text for result in zxingcpp.read_barcodes(image)]
