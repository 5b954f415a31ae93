"""Events (Core spec 7.14, 8.4.3): the node's event log and the IBs that carry events.

Event numbers only ever grow, across restarts too: like the SDK, the log reserves a block of
numbers in the state database ahead of use, so a restart resumes above anything already sent
(at most one block is skipped). Timestamps are system time (milliseconds since this process
started), which every controller accepts; the event number orders events across restarts.
"""

from __future__ import annotations

import enum
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..codec import tlv
from ..codec.tlv import UInt
from .messages import EventFilter, EventPath, StatusIB

if TYPE_CHECKING:
    from ..storage.database import Database

__all__ = ["EventLog", "EventNumbers", "EventRecord", "Priority", "event_min", "event_status_report"]

DEFAULT_CAPACITY = 512  # events kept; the oldest go first (a node may drop old events)
_COUNTER = "event-number"
_STEP = 1000


class Priority(enum.IntEnum):
    DEBUG = 0
    INFO = 1
    CRITICAL = 2


def event_min(filters: Iterable[EventFilter]) -> int:
    return max((f.event_min for f in filters), default=0)


@dataclass(frozen=True)
class EventRecord:
    number: int
    priority: Priority
    endpoint: int
    cluster: int
    event: int
    system_ms: int
    data: tlv.Structure
    fabric_index: int | None = None  # set for a fabric-sensitive event: only that fabric sees it

    def report(self) -> tlv.Structure:
        """EventReportIB carrying this event's EventDataIB."""
        data = tlv.Structure(
            {
                0: EventPath(self.endpoint, self.cluster, self.event).to_tlv(),
                1: UInt(self.number),
                2: UInt(int(self.priority)),
                4: UInt(self.system_ms),
                7: self.data,
            }
        )
        return tlv.Structure({1: data})


def event_status_report(path: EventPath, status: StatusIB) -> tlv.Structure:
    """EventReportIB carrying an EventStatusIB for a concrete path that cannot be served."""
    return tlv.Structure({0: tlv.Structure({0: path.to_tlv(), 1: status.to_tlv()})})


class EventNumbers:
    """Event numbers that never repeat: a block is reserved in the database before use."""

    def __init__(self, db: Database | None, step: int = _STEP) -> None:
        self._db, self._step = db, step
        self.next = (db.get_counter(_COUNTER) or 0) if db is not None else 0
        self._limit = self.next
        self._reserve()

    def _reserve(self) -> None:
        self._limit = self.next + self._step
        if self._db is not None:
            self._db.set_counter(_COUNTER, self._limit)

    def take(self) -> int:
        if self.next >= self._limit:
            self._reserve()
        number, self.next = self.next, self.next + 1
        return number


class EventLog:
    def __init__(
        self,
        numbers: EventNumbers,
        *,
        capacity: int = DEFAULT_CAPACITY,
        clock: Callable[[], float],
    ) -> None:
        self.numbers = numbers
        self._events: deque[EventRecord] = deque(maxlen=capacity)
        self._clock = clock
        self._started = clock()
        self.listeners: list[Callable[[EventRecord], None]] = []

    def record(
        self,
        endpoint: int,
        cluster: int,
        event: int,
        priority: Priority,
        data: tlv.Structure,
        *,
        fabric_index: int | None = None,
    ) -> EventRecord:
        system_ms = int((self._clock() - self._started) * 1000)
        record = EventRecord(self.numbers.take(), priority, endpoint, cluster, event, system_ms, data, fabric_index)
        self._events.append(record)
        for listener in list(self.listeners):
            listener(record)
        return record

    def since(self, minimum: int) -> Iterator[EventRecord]:
        return (e for e in list(self._events) if e.number >= minimum)

    @property
    def last_number(self) -> int | None:
        return self._events[-1].number if self._events else None
