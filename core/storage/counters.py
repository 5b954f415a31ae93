"""A message counter that survives restarts without a database write per message.

Like the SDK, it reserves a block of values ahead: the database holds the first value not
yet reserved, and a restart resumes from there, so a value is never sent twice even if
the process is killed mid-block (at most one block of values is skipped).
"""

from __future__ import annotations

from ..session.counters import LocalCounter, random_initial_counter
from .database import Database

__all__ = ["PersistentCounter"]

_MAX = 0xFFFF_FFFF


class PersistentCounter(LocalCounter):
    __slots__ = ("_db", "_limit", "_name", "_step")

    def __init__(
        self, db: Database, name: str, *, step: int = 1024, wraps: bool = True, start: int | None = None
    ) -> None:
        """``start``: where a new counter begins (a session's, already in use); a stored one resumes."""
        stored = db.get_counter(name)
        if stored is not None:
            start = stored
        elif start is None:
            start = random_initial_counter()
        super().__init__(start, wraps=wraps)
        self._db, self._name, self._step = db, name, step
        self._reserve(start)

    def _reserve(self, start: int) -> None:
        self._limit = (start + self._step) & _MAX
        self._db.set_counter(self._name, self._limit)

    def next(self) -> int:
        value = super().next()
        if value == self._limit:
            self._reserve(value)
        return value
