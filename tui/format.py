"""Short text forms shared by the dashboard's tables and screens."""

from __future__ import annotations

import time

__all__ = ["bar", "clock", "duration", "node_id", "peer_key", "rate", "size"]


def node_id(node: int) -> str:
    return f"0x{node:016X}"


def peer_key(peer: tuple[int, int]) -> str:
    """A table row key for a requestor: ``fabric:node``."""
    return f"{peer[0]}:{peer[1]}"


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
