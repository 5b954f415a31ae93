"""A BDX transfer event's line and its JSON fields (with its ending in words), for the headless
output, the log and the control socket."""

from __future__ import annotations

from typing import Any

from ..api.events import TransferEvent, TransferFinished, TransferResumed, TransferSnapshot, TransferStarted
from .words import transfer_end_text, who

__all__ = ["block_size_text", "transfer_fields", "transfer_text"]


def block_size_text(t: TransferSnapshot, unit: str = "") -> str:
    """``1024``, or ``1024 (proposed 4096 -> accepted 1024)`` when the requestor asked for more
    than a block over UDP may carry (a shipping device proposes 4096; matter.js accepted it and
    the update looped, matter.js PR #4048); ``unit`` follows the size (`` B``)."""
    if t.proposed_block_size and t.proposed_block_size != t.block_size:
        return f"{t.block_size}{unit} (proposed {t.proposed_block_size} -> accepted {t.block_size})"
    return f"{t.block_size}{unit}"


def transfer_fields(event: TransferEvent) -> dict[str, Any]:
    t = event.snapshot
    fields: dict[str, Any] = {
        "transfer": t.id,
        "fabricIndex": t.peer.fabric_index,
        "nodeId": t.peer.node_id,
        "designator": t.designator,
        "blockSize": t.block_size,
        "bytesSent": t.bytes_sent,
        "total": t.total,
        "result": transfer_end_text(t.end),
        "outcome": t.end.outcome.name,
        "retransmissions": t.retransmissions,
        "duplicates": t.duplicates,
    }
    if isinstance(event, TransferStarted):
        return {**fields, "proposedBlockSize": t.proposed_block_size, "startOffset": t.start_offset}
    if isinstance(event, TransferResumed):
        return {**fields, "resumed": t.resumed}
    return {**fields, "seconds": round(t.seconds, 3), "rateKBps": round(_rate(t), 1)}


def transfer_text(event: TransferEvent) -> str:
    t = event.snapshot
    who_ = who(t.peer)
    if isinstance(event, TransferStarted):
        return (
            f"{who_}: BDX transfer #{t.id} started (image {t.designator}), {t.total} bytes in blocks of "
            f"{block_size_text(t)}" + (f", from byte {t.start_offset}" if t.start_offset else "")
        )
    if isinstance(event, TransferResumed):
        return (
            f"{who_}: BDX transfer #{t.id} resumed after the provider restarted, at byte {t.bytes_sent} "
            f"of {t.total} (block {t.blocks})"
        )
    if isinstance(event, TransferFinished):
        return (
            f"{who_}: BDX transfer #{t.id} complete, {t.bytes_sent} bytes in {t.seconds:.2f} s "
            f"({_rate(t):.0f} kB/s){_losses(t)}"
        )
    ended = transfer_end_text(t.end)
    return f"{who_}: BDX transfer #{t.id} {ended} after {t.bytes_sent} of {t.total} bytes{_losses(t)}"


def _rate(t: TransferSnapshot) -> float:
    """kB/s over the whole transfer."""
    return t.bytes_sent / t.seconds / 1000 if t.seconds > 0 else 0.0


def _losses(t: TransferSnapshot) -> str:
    """What the path lost, when it lost anything: our messages sent again, the requestor's received again."""
    if not (t.retransmissions or t.duplicates):
        return ""
    return (
        f"; {t.retransmissions} of our messages sent again (about {t.loss_estimate or 0:.0%} lost), "
        f"{t.duplicates} of the requestor's received twice"
    )
