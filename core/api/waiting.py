"""Waiting for an event: what is wanted (a name, one node's, or a predicate), what was seen while
waiting, and the one line a timeout says. Shared by the blocking and the asyncio clients and by
the engine's own wait (tests and scripts in the provider's process)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from .events import EngineEvent

__all__ = ["EventMatch", "EventWait"]


@dataclass(frozen=True)
class EventMatch:
    """An event name, optionally one node's, optionally with a further test."""

    name: str
    node: int | None = None
    where: Callable[[EngineEvent], bool] | None = field(default=None, compare=False)

    def __call__(self, event: EngineEvent) -> bool:
        if event.name != self.name:
            return False
        if self.node is not None and _node_of(event) != self.node:
            return False
        return self.where is None or self.where(event)


def _node_of(event: EngineEvent) -> int | None:
    peer = getattr(event, "peer", None) or getattr(getattr(event, "snapshot", None), "peer", None)
    if peer:
        return int(peer.node_id)
    node_id = getattr(event, "node_id", None)
    return node_id if isinstance(node_id, int) else None


@dataclass
class EventWait:
    """One wait: :meth:`offer` each event as it comes; True ends the wait."""

    wanted: str | Callable[[EngineEvent], bool]
    node: int | None = None
    timeout: float = 60.0
    seen: list[EngineEvent] = field(default_factory=list)

    def __post_init__(self) -> None:
        wanted = self.wanted
        self._match = EventMatch(wanted, self.node) if isinstance(wanted, str) else wanted

    def offer(self, event: EngineEvent) -> bool:
        self.seen.append(event)
        return self._match(event)

    def timed_out(self) -> TimeoutError:
        wanted = self.wanted if isinstance(self.wanted, str) else "a matching event"
        node = f" of node 0x{self.node:X}" if self.node is not None else ""
        last = ", ".join(e.name for e in self.seen[-8:]) or "nothing"
        return TimeoutError(f"no {wanted}{node} within {self.timeout:g} s; last seen: {last}")
