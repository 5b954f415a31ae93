"""Short text forms shared by the dashboard's tables and screens."""

from __future__ import annotations

import time

from ota_provider.core.api.events import TransferSnapshot
from ota_provider.core.api.values import Outcome, Peer, TransferEnd
from ota_provider.core.presentation.words import node_text, short_node_id

__all__ = [
    "bar",
    "clock",
    "duration",
    "ending",
    "node_id",
    "peer_from_key",
    "peer_key",
    "peer_name",
    "rate",
    "resent",
    "size",
]


def node_id(node: int) -> str:
    """The full form, where there is room: the detail, the Commissioning tab."""
    return node_text(node)


def peer_name(peer: Peer) -> str:
    """A requestor in a table: its short node id, and its fabric when it is not the first."""
    return short_node_id(peer.node_id) + ("" if peer.fabric_index == 1 else f"/{peer.fabric_index}")


def peer_key(peer: Peer) -> str:
    """A table row key for a requestor: ``fabric:node``."""
    return f"{peer.fabric_index}:{peer.node_id}"


def peer_from_key(key: str) -> Peer:
    """The requestor a :func:`peer_key` names."""
    fabric_index, node_id = key.split(":")
    return Peer(int(fabric_index), int(node_id))


def bar(fraction: float | None, width: int = 10) -> str:
    if fraction is None:
        return ""
    fraction = min(max(fraction, 0.0), 1.0)
    filled = round(fraction * width)
    return "█" * filled + "░" * (width - filled) + f" {fraction * 100:3.0f}%"


def size(count: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if abs(count) < 1000 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1000
    raise AssertionError("unreachable")


def rate(bytes_per_second: float | None) -> str:
    return "" if bytes_per_second is None else f"{size(bytes_per_second)}/s"


def duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    seconds = max(0, round(seconds))
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def clock(at: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(at))


def resent(transfer: TransferSnapshot) -> str:
    """Our messages of a transfer sent again, and the share of all we sent: ``12 3%`` (the loss on
    the path, about); ``0`` on a clean link."""
    share = transfer.loss_estimate
    if not transfer.retransmissions or share is None:
        return str(transfer.retransmissions)
    return f"{transfer.retransmissions} {share:.0%}" if share >= 0.01 else f"{transfer.retransmissions} <1%"


# How a transfer ended, in a table cell's 12 characters (the log has the whole story).
_ENDINGS = {
    Outcome.COMPLETE: "done",
    Outcome.IDLE: "timed out",
    Outcome.UNACKNOWLEDGED: "no answer",
    Outcome.NOT_RESUMED: "not resumed",
    Outcome.REQUESTOR_ENDED: "requestor quit",
    Outcome.ABORTED: "aborted",
    Outcome.SHUT_DOWN: "shut down",
    Outcome.PROTOCOL_ERROR: "we ended it",
    Outcome.FAULT_ENDED: "fault ended",
    Outcome.REPLACED: "replaced",
    Outcome.RUNNING: "running",
}


def ending(end: TransferEnd) -> str:
    return _ENDINGS.get(end.outcome, "failed")
