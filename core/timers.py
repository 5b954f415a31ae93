"""One clock and one timer interface for every protocol machine.

The rule (rs-matter's): a machine is given the node's one clock when it is made, and no machine
has a default. The real clock (``time.monotonic``) is chosen in one place, the node (and the
asyncio driver for an exchange manager made without one); a simulation gives its fake clock there,
and every deadline, transfer time and timestamp in the node follows it. A machine reads that clock
when it handles a message or a command, and never schedules a callback: it says when it next needs
to run (:meth:`Timed.next_deadline`, on that clock) and does what is due when it is polled with the
time read from the same clock (:meth:`Timed.poll`). One driver owns the loop's single timer and
polls the machines; the simulated network of the tests does the same with a fake clock, so loss,
restarts and hundreds of peers run without sleeping.

An exchange manager made without a clock is sans-IO: its time is what ``receive()`` and ``poll()``
were last given.
"""

from __future__ import annotations

import heapq
import itertools
import logging
from collections.abc import Callable, Hashable, Iterable
from typing import Generic, Protocol, TypeVar

__all__ = ["Clock", "Deadlines", "Timed", "TimerGroup", "earliest"]

Clock = Callable[[], float]  # seconds, monotonic; the node's one clock

K = TypeVar("K", bound=Hashable)

log = logging.getLogger(__name__)


class Timed(Protocol):
    def next_deadline(self) -> float | None:
        """When :meth:`poll` next has work, on the machine's clock; None: nothing pending."""
        ...

    def poll(self, now: float) -> None:
        """Do everything due at ``now``."""
        ...


def earliest(deadlines: Iterable[float | None]) -> float | None:
    first = None
    for deadline in deadlines:  # a plain loop: the driver asks after every datagram
        if deadline is not None and (first is None or deadline < first):
            first = deadline
    return first


class Deadlines(Generic[K]):
    """Deadlines by key. Setting a key again moves its deadline; cancelling forgets it.

    Built for deadlines that move often and mostly later (a transfer's idle timeout, pushed on by
    every Block): moving one later costs no heap entry, so the heap holds about one entry per key,
    however many times each was moved."""

    def __init__(self) -> None:
        self._when: dict[K, float] = {}
        self._queued: dict[K, float] = {}  # the time of the one heap entry a key is counted by
        self._heap: list[tuple[float, int, K]] = []
        self._order = itertools.count()  # ties pop in the order they were set

    def __len__(self) -> int:
        return len(self._when)

    def __contains__(self, key: object) -> bool:
        return key in self._when

    def get(self, key: K) -> float | None:
        return self._when.get(key)

    def set(self, key: K, when: float) -> None:
        self._when[key] = when
        queued = self._queued.get(key)
        if queued is None or when < queued:
            self._push(key, when)

    def cancel(self, key: K) -> None:
        self._when.pop(key, None)

    def _push(self, key: K, when: float) -> None:
        self._queued[key] = when
        heapq.heappush(self._heap, (when, next(self._order), key))

    def _settle(self) -> None:
        """Drop or re-queue heap entries that no longer say when their key is due."""
        while self._heap:
            when, _, key = self._heap[0]
            if self._queued.get(key) != when:  # an earlier entry replaced this one
                heapq.heappop(self._heap)
                continue
            due = self._when.get(key)
            if due is None:  # cancelled (or already popped)
                heapq.heappop(self._heap)
                del self._queued[key]
                continue
            if due > when:  # moved later since it was queued
                heapq.heappop(self._heap)
                self._push(key, due)
                continue
            return

    def next(self) -> float | None:
        """No later than the earliest deadline, and O(1): the driver asks after every datagram. A
        key moved later or cancelled since it was queued can make it earlier; the poll at that time
        finds nothing due, and :meth:`pop_due` settles the heap, so the next answer is later. None
        when no key is pending."""
        return self._heap[0][0] if self._when else None

    def pop_due(self, now: float) -> list[K]:
        """The keys due at ``now``, earliest first; they are forgotten (set them again to repeat)."""
        due: list[K] = []
        while True:
            self._settle()
            if not self._heap or self._heap[0][0] > now:
                return due
            _, _, key = heapq.heappop(self._heap)
            del self._queued[key]
            del self._when[key]
            due.append(key)


class TimerGroup:
    """Several machines seen as one: the earliest deadline, and each polled in the given order."""

    def __init__(self, machines: Iterable[Timed] = ()) -> None:
        self.machines: list[Timed] = list(machines)

    def add(self, machine: Timed, *, before: Timed | None = None) -> None:
        """Polled last, or just before ``before``."""
        if before is None:
            self.machines.append(machine)
        else:
            self.machines.insert(self.machines.index(before), machine)

    def next_deadline(self) -> float | None:
        first = None
        for machine in self.machines:  # as earliest(), inline: asked after every datagram
            deadline = machine.next_deadline()
            if deadline is not None and (first is None or deadline < first):
                first = deadline
        return first

    def poll(self, now: float) -> None:
        for machine in self.machines:
            deadline = machine.next_deadline()
            if deadline is not None and deadline <= now:
                try:
                    machine.poll(now)
                except Exception:  # one machine's bug must not stop the others' timers
                    log.exception("%s failed on its timer", type(machine).__name__)
