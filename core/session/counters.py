"""Message counters and the receive window (Core spec 4.6).

Outgoing counters increase by one per message. Incoming counters are checked against a
window of the largest counter seen plus a 32-bit bitmap of the 32 counters before it:

* **encrypted unicast** sessions never roll over: a counter more than 32 behind the
  largest is treated as a duplicate (a replay), so it is rejected;
* **unencrypted** and group traffic may roll over: a counter far behind is taken as a new
  start, and only counters inside the window are checked for duplicates.
"""

from __future__ import annotations

import secrets

__all__ = ["WINDOW_SIZE", "CounterExhausted", "LocalCounter", "ReceiveWindow", "random_initial_counter"]

WINDOW_SIZE = 32
_MAX = 0xFFFF_FFFF
_INITIAL_MAX = 1 << 28


class CounterExhausted(RuntimeError):
    """A secure session used its last counter value; the session must be re-established."""


def random_initial_counter() -> int:
    """Secure sessions start sending at a random counter in [1, 2^28]."""
    return secrets.randbelow(_INITIAL_MAX) + 1


class LocalCounter:
    """The counter for messages we send on one session (or the global unencrypted counter)."""

    __slots__ = ("_next", "_wraps")

    def __init__(self, start: int | None = None, *, wraps: bool = False) -> None:
        self._next = random_initial_counter() if start is None else start & _MAX
        self._wraps = wraps

    @property
    def peek(self) -> int:
        return self._next

    def next(self) -> int:
        value = self._next
        if value == _MAX and not self._wraps:
            raise CounterExhausted("message counter exhausted")
        self._next = (value + 1) & _MAX
        return value


class ReceiveWindow:
    """Duplicate and replay detection for one peer's counters."""

    __slots__ = ("_bitmap", "_max", "_rollover", "_synced")

    def __init__(self, *, rollover: bool, initial: int | None = None) -> None:
        self._rollover = rollover
        self._synced = initial is not None
        self._max = initial or 0
        self._bitmap = 0  # bit i set: counter (max - 1 - i) was seen

    @property
    def max_counter(self) -> int | None:
        return self._max if self._synced else None

    def is_duplicate(self, counter: int) -> bool:
        """Whether ``counter`` was seen before (or, without rollover, is too old to accept)."""
        if not self._synced:
            return False
        if counter == self._max:
            return True
        if self._rollover:
            ahead = (counter - self._max) & _MAX
            if 0 < ahead < (1 << 31):
                return False
            behind = (self._max - counter) & _MAX
        else:
            if counter > self._max:
                return False
            behind = self._max - counter
        if behind > WINDOW_SIZE:
            return not self._rollover  # encrypted unicast: too old means replay
        return bool(self._bitmap >> (behind - 1) & 1)

    def commit(self, counter: int) -> None:
        """Record ``counter`` as received (call only for counters that were not duplicates)."""
        if not self._synced:
            self._synced, self._max, self._bitmap = True, counter, 0
            return
        ahead = (counter - self._max) & _MAX if self._rollover else counter - self._max
        if 0 < ahead < (1 << 31):
            self._bitmap = (
                ((self._bitmap << 1 | 1) << (ahead - 1)) & ((1 << WINDOW_SIZE) - 1) if ahead <= WINDOW_SIZE else 0
            )
            self._max = counter
            return
        behind = (self._max - counter) & _MAX
        if behind <= WINDOW_SIZE:
            self._bitmap |= 1 << (behind - 1)
        else:  # rollover mode only: a restart far behind starts a fresh window
            self._max, self._bitmap = counter, 0

    def accept(self, counter: int) -> bool:
        """Check and record in one step; False for a duplicate or replay."""
        if self.is_duplicate(counter):
            return False
        self.commit(counter)
        return True
