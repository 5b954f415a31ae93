"""The half-block QR rendering carries segno's module matrix exactly, in hex black and white."""

from __future__ import annotations

import segno

from ota_provider.tui.qr import DARK, LIGHT, qr_text

PAYLOAD = "MT:Y.K90AFN00KA0648G00"


def modules_from_text(text):
    rows = []
    for line in text.split("\n"):
        if not line.plain:
            continue
        top, bottom = [], []
        for span in line.spans:  # a span is a run of equal cells
            style, cells = span.style, span.end - span.start
            top += [style.color.name == DARK] * cells
            bottom += [style.bgcolor.name == DARK] * cells
        rows += [top, bottom]
    return rows


def test_every_module_is_drawn_in_hex_colours():
    text = qr_text(PAYLOAD, border=2)
    expected = [[bool(m) for m in row] for row in segno.make(PAYLOAD, error="m").matrix_iter(scale=1, border=2)]
    got = modules_from_text(text)[: len(expected)]
    assert got == expected
    colours = {span.style.color.name for span in text.spans} | {span.style.bgcolor.name for span in text.spans}
    assert colours == {DARK, LIGHT}
    assert len(text.plain.splitlines()) == (len(expected) + 1) // 2  # two modules per cell, 15 rows here
    assert all(len(line.plain) == len(expected[0]) for line in text.split("\n") if line.plain)
