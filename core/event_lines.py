"""One line of text (and a JSON event name) per BDX transfer event, for the headless output."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .events import TransferSnapshot
from .wording import who

__all__ = ["transfer_event"]


def transfer_event(kind: str, t: TransferSnapshot) -> tuple[str, str, dict[str, Any]] | None:
    """(JSON event name, line, fields) for a transfer event; None for per-block progress."""
    if kind == "progress":
        return None
    fields: dict[str, Any] = {
        "transfer": t.id,
        "fabricIndex": t.peer[0],
        "nodeId": t.peer[1],
        "designator": t.designator,
        "blockSize": t.block_size,
        "bytesSent": t.bytes_sent,
        "total": t.total,
        "result": t.result,
        "outcome": t.end.outcome.name,
        "retransmissions": t.retransmissions,
        "duplicates": t.duplicates,
    }
    who_ = who(t.peer)
    if kind == "started":
        line = (f"{who_}: BDX transfer #{t.id} started (image {t.designator}), "
                f"{t.total} bytes in blocks of {t.block_size}")  # fmt: skip
        return "TransferStarted", line, fields
    if kind == "resumed":
        line = (f"{who_}: BDX transfer #{t.id} resumed after the provider restarted, at byte {t.bytes_sent} "
                f"of {t.total} (block {t.blocks})")  # fmt: skip
        return "TransferResumed", line, {**fields, "resumed": t.resumed}
    seconds = t.seconds
    rate = t.bytes_sent / seconds / 1000 if seconds > 0 else 0.0
    fields.update(seconds=round(seconds, 3), rateKBps=round(rate, 1))
    if kind == "finished":
        line = (f"{who_}: BDX transfer #{t.id} complete, {t.bytes_sent} bytes in {seconds:.2f} s "
                f"({rate:.0f} kB/s){_losses(t)}")  # fmt: skip
        return "TransferFinished", line, fields
    line = f"{who_}: BDX transfer #{t.id} {t.result} after {t.bytes_sent} of {t.total} bytes{_losses(t)}"
    return "TransferFailed", line, fields


def _losses(t: TransferSnapshot) -> str:
    """What the path lost, when it lost anything: our messages sent again, the requestor's received again."""
    if not (t.retransmissions or t.duplicates):
        return ""
    return (f"; {t.retransmissions} of our messages sent again (about {t.loss_estimate or 0:.0%} lost), "
            f"{t.duplicates} of the requestor's received twice")  # fmt: skip
