"""Every second, where the peers' message counters and the running transfers are, so that a restart
after a crash or a kill resumes them. A timed part of the node (``core/timers.py``)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable

from ..storage.database import StorageError

__all__ = ["CHECKPOINT_SECONDS", "Checkpoints"]

log = logging.getLogger(__name__)

CHECKPOINT_SECONDS = 1.0  # how far behind a restart may find the peers' counters and the transfers


class Checkpoints:
    """``writers`` are called in order at each checkpoint; the first (the sessions') once more at
    :meth:`stop`, so a clean stop loses nothing."""

    def __init__(self, writers: list[Callable[[], object]]) -> None:
        self._writers = writers
        self._due: float | None = None

    def add(self, writer: Callable[[], object]) -> None:
        self._writers.append(writer)

    def start(self, now: float) -> None:
        self._due = now + CHECKPOINT_SECONDS

    def next_deadline(self) -> float | None:
        return self._due

    def poll(self, now: float) -> None:
        self._due = now + CHECKPOINT_SECONDS
        try:
            for write in self._writers:
                write()
        except StorageError as exc:  # a full disk costs the crash safety, not the transfers
            log.warning("checkpoint not written: %s", exc)

    def stop(self) -> None:
        if self._due is None:
            return
        self._due = None
        if self._writers:
            with contextlib.suppress(StorageError):
                self._writers[0]()
