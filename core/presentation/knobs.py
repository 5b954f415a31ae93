"""Armed knobs in words: ``QueryImage status busy (one-shot, all requestors)``."""

from __future__ import annotations

from typing import Any

from ..ota.policy import COUNTERS, ArmedKnob, Knob
from .words import bdx_status, enum_name, short_node_id, yes_no

__all__ = ["KNOB_LABELS", "armed_text", "knob_value_text"]


KNOB_LABELS = {
    Knob.QUERY_STATUS: "QueryImage status",
    Knob.QUERY_DELAY: "busy delay",
    Knob.CONSENT_NEEDED: "user consent needed",
    Knob.CONSENT_STATE: "provider consent",
    Knob.IGNORE_QUERY: "ignore QueryImage",
    Knob.FORCED_DESIGNATOR: "offer image",
    Knob.APPLY_ACTION: "ApplyUpdate action",
    Knob.APPLY_DELAY: "apply delay",
    Knob.IGNORE_APPLY: "ignore ApplyUpdateRequest",
    Knob.DROP_BLOCK: "drop block",
    Knob.DELAY_BLOCK: "delay block",
    Knob.CORRUPT_BLOCK: "corrupt block",
    Knob.END_TRANSFER: "end transfer",
}


def knob_value_text(knob: Knob, value: Any) -> str:
    """A knob's value in words and units (never a tuple or an enum repr)."""
    if knob in (Knob.QUERY_DELAY, Knob.APPLY_DELAY):
        return f"{value} s"
    if knob in COUNTERS:
        return f"{value} more" if value != 1 else "the next one"
    if knob == Knob.CONSENT_NEEDED:
        return yes_no(value)
    if knob == Knob.FORCED_DESIGNATOR:
        return repr(value) if value.strip() != value or not value else value
    if knob == Knob.DELAY_BLOCK:
        return f"{value[0]} by {value[1]:g} s"
    if knob == Knob.END_TRANSFER:
        return f"at block {value[0]} with StatusReport {bdx_status(value[1])}"
    return enum_name(value)


def armed_text(armed: ArmedKnob) -> str:
    """What one armed knob does, to whom, and for how long."""
    scope = "sticky" if armed.sticky else "one-shot"
    who = (
        "all requestors"
        if armed.target is None
        else f"node {short_node_id(armed.target.node_id)}"
        + ("" if armed.target.fabric_index == 1 else f" on fabric {armed.target.fabric_index}")
    )
    return f"{KNOB_LABELS[armed.knob]} {knob_value_text(armed.knob, armed.value)} ({scope}, {who})"
