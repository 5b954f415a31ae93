"""The status line's words, most urgent first, and what gives way when the width runs out."""

from __future__ import annotations

from ota_provider.core.api.events import FabricsChanged, FabricSummary, Listening
from ota_provider.tui.status_line import StatusFacts, fit, status_parts

NOW = 1_800_000_000.0
FABRICS = FabricsChanged((FabricSummary(1, 0x1B669, 1, 0xFFF1, "bench"),), window_closes_at=NOW + 125)


def facts(**changes: object) -> StatusFacts:
    base = {
        "fabrics": FABRICS,
        "manual_code": "3497-0112-332",
        "armed": 0,
        "attached_to": None,
        "listening": Listening(5540, "/tmp/state", advertising=True),
        "stopped": False,
    }
    return StatusFacts(**{**base, **changes})  # type: ignore[arg-type]


def test_the_open_window_and_its_code_come_first_then_what_is_armed_and_where_we_listen():
    assert status_parts(facts(), NOW) == [
        "window open 2:05, code 3497-0112-332",
        "nothing armed",
        "UDP 5540",
        "DNS-SD on",
        "fabric 1: 0x1B669 (bench)",
    ]


def test_a_lost_connection_is_said_before_everything():
    parts = status_parts(facts(stopped=True, attached_to="attached to pid 42", armed=2), NOW)
    assert parts[:3] == ["CONNECTION LOST", "window open 2:05, code 3497-0112-332", "2 armed"]
    assert "attached to pid 42" in parts


def test_what_does_not_fit_is_left_out_whole_never_cut():
    parts = status_parts(facts(), NOW)
    assert fit(parts, 64) == "window open 2:05, code 3497-0112-332 · nothing armed · UDP 5540"
    assert fit(parts, 10) == "UDP 5540"  # a later, shorter part takes the room a long one left
    assert fit(parts, 5) == "starting"  # nothing fits: nothing is half-shown
