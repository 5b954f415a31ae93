"""The engine's event stream, fanned out: every event gets the next sequence number, is kept in a
bounded replay buffer, and is copied into each subscriber's own bounded queue.

A subscriber that does not keep up never slows the engine or another subscriber: once its queue
is full it is cut off (``lagged``), with the number of events it missed, and may subscribe again
from the last sequence number it saw; what the replay buffer still holds is not lost. Thread-safe:
the engine publishes from its thread, front ends take from theirs.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import deque
from collections.abc import Callable
from typing import TypeVar

from .events import EngineEvent, EngineSnapshot

E = TypeVar("E", bound=EngineEvent)

__all__ = ["EventBus", "Subscriber"]

REPLAY_EVENTS = 5_000
SUBSCRIBER_QUEUE = 10_000


class Subscriber:
    """One consumer's view of the stream. ``wake`` (if given) is called, from the publishing
    thread, when events arrive in an empty queue: the consumer's cue to take them."""

    def __init__(
        self, bus: EventBus, capacity: int, wake: Callable[[], None] | None, cut_off: bool, snapshots: bool = True
    ) -> None:
        self._bus = bus
        self._queue: deque[EngineEvent] = deque()
        self._ready = threading.Event()
        self.capacity = capacity
        self.wake = wake
        self.cut_off = cut_off  # when full: cut off (a remote client reconnects) or drop the newest
        self.dropped = 0  # events it missed
        self.lagged = False  # cut off: its queue overflowed
        self.closed = False
        self.last_seq = 0  # the last sequence number taken
        # Takes EngineSnapshots as well as events. A front end that only prints lines does not: the
        # engine then takes no snapshots at all, and this queue never wakes its reader for one.
        self.snapshots = snapshots

    def take(self, limit: int = 1000) -> list[EngineEvent]:
        """Up to ``limit`` events, oldest first, without blocking."""
        with self._bus.lock:
            count = min(limit, len(self._queue))
            out = [self._queue.popleft() for _ in range(count)]
            if not self._queue:
                self._ready.clear()
        if out:
            self.last_seq = out[-1].seq
        return out

    def take_snapshots(self, wanted: bool) -> None:
        """Start or stop taking snapshots; the bus tells the engine when a reader appears."""
        self.snapshots = wanted
        if wanted and self._bus.on_snapshot_reader is not None:
            self._bus.on_snapshot_reader()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until an event is queued (or this subscriber is cut off); False on timeout."""
        return self._ready.wait(timeout)

    def pending(self) -> int:
        return len(self._queue)

    def close(self) -> None:
        self._bus.unsubscribe(self)

    def _offer(self, event: EngineEvent) -> bool:
        """Queue ``event``; False once this subscriber cannot keep up (it is then cut off)."""
        if self.lagged or self.closed:
            self.dropped += 1
            return False
        if len(self._queue) >= self.capacity:
            self.dropped += 1
            if self.cut_off:
                self.lagged = True
                self._ready.set()
            return False
        self._queue.append(event)
        self._ready.set()
        return True


class EventBus:
    def __init__(self, replay: int = REPLAY_EVENTS) -> None:
        self.lock = threading.Lock()
        self._replay: deque[EngineEvent] = deque(maxlen=replay)
        self._subscribers: list[Subscriber] = []
        self.seq = 0  # the last sequence number handed out
        self.cut_off = 0  # subscribers cut off for lagging, in all
        # Called (from the subscribing thread) when a subscriber that takes snapshots appears: the
        # engine takes none while nobody would read them.
        self.on_snapshot_reader: Callable[[], None] | None = None

    def publish(self, event: E) -> E:
        """Number ``event`` and hand it to every subscriber; returns the numbered event."""
        wakes = []
        with self.lock:
            self.seq += 1
            event = dataclasses.replace(event, seq=self.seq)
            if event.logged:  # snapshots and answers are not history: they would crowd it out
                self._replay.append(event)
            snapshot = isinstance(event, EngineSnapshot)
            for subscriber in self._subscribers:
                if snapshot and not subscriber.snapshots:
                    continue
                was_empty = not subscriber._queue
                lagging = subscriber.lagged
                if subscriber._offer(event) and was_empty and subscriber.wake is not None:
                    wakes.append(subscriber.wake)
                elif subscriber.lagged and not lagging:
                    self.cut_off += 1
                    if subscriber.wake is not None:
                        wakes.append(subscriber.wake)  # so it learns it was cut off
        for wake in wakes:
            wake()
        return event

    @property
    def snapshot_readers(self) -> bool:
        """Whether any subscriber takes snapshots (otherwise taking them is wasted work)."""
        with self.lock:
            return any(subscriber.snapshots for subscriber in self._subscribers)

    def subscribe(
        self,
        *,
        after: int | None = None,
        capacity: int = SUBSCRIBER_QUEUE,
        wake: Callable[[], None] | None = None,
        cut_off: bool = True,
        snapshots: bool = True,
    ) -> tuple[Subscriber, int]:
        """A new subscriber. With ``after``, the buffered events numbered after it come first;
        returns the subscriber and how many requested events are gone from the buffer (0 when it
        missed nothing)."""
        subscriber = Subscriber(self, capacity, wake, cut_off, snapshots)
        with self.lock:
            missed = 0
            if after is not None:
                kept = [e for e in self._replay if e.seq > after]
                oldest = kept[0].seq if kept else self.seq + 1
                missed = max(0, oldest - after - 1)
                for event in kept[-capacity:]:
                    subscriber._queue.append(event)
                if subscriber._queue:
                    subscriber._ready.set()
            subscriber.last_seq = after if after is not None else self.seq
            self._subscribers.append(subscriber)
        if snapshots:
            subscriber.take_snapshots(True)  # tells the engine a reader has joined
        return subscriber, missed

    def unsubscribe(self, subscriber: Subscriber) -> None:
        with self.lock:
            subscriber.closed = True
            if subscriber in self._subscribers:
                self._subscribers.remove(subscriber)

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)
