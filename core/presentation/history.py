"""What the update history keeps of an event: its category, the requestor, a summary in words and
the details as values (the history's JSON column)."""

from __future__ import annotations

from typing import Any

from ..bdx.server import Transfer
from ..node_ids import Peer
from ..ota.events import OtaEvent
from .knobs import armed_text
from .lines import history_summary
from .words import plural, transfer_end_text

Row = tuple[str, Peer, str, dict[str, Any]]  # (category, peer, summary, details)


def exchange_history(event: OtaEvent) -> Row | None:
    """Answers, refusals and notifications; None for a request (it is recorded with its answer)."""
    if event.history is None:
        return None
    details = event.details()
    if "used" in details:
        details["used"] = [armed_text(armed) for armed in getattr(event, "used", ())]
    return event.history, event.peer, history_summary(event), details


def transfer_history(transfer: Transfer) -> Row:
    """An ended transfer: one row however often it was resumed."""
    sender = transfer.sender
    seconds = transfer.seconds
    ended = transfer_end_text(transfer.end)
    details = {
        "transfer": transfer.id,  # the number the log and the dashboard show
        "designator": transfer.designator.decode(errors="replace"),
        "bytes": sender.bytes_sent,
        "total": sender.total,
        "blocks": sender.blocks_sent,
        "blockSize": sender.block_size,
        "seconds": round(seconds, 3),
        "bytesPerSecond": round(sender.bytes_sent / seconds) if seconds > 0 else None,
        "result": ended,
        "outcome": transfer.end.outcome.name,
        "faults": list(transfer.faults),
        "resumed": transfer.resumed,  # provider restarts it survived (still one transfer, one row)
        "retransmissions": transfer.retransmissions,
        "duplicates": transfer.duplicates,
    }
    summary = f"#{transfer.id} {ended}: {sender.bytes_sent}/{sender.total} bytes in {seconds:.2f} s"
    if transfer.resumed:
        summary += f", resumed after {plural(transfer.resumed, 'provider restart')}"
    if transfer.faults:  # a "complete" transfer with a corrupted block did not deliver the image
        summary += " with injected faults: " + ", ".join(transfer.faults)
    return "transfer", transfer.peer, summary, details
