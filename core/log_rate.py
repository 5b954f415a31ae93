"""A logging filter that lets a repeated message through once per interval, saying how many were
held back: a resource error met on every turn of the loop (asyncio's "socket.accept() out of system
resource" when descriptors run out) once filled the disk with the same traceback."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

__all__ = ["RepeatLimit", "limit_repeats"]


class RepeatLimit(logging.Filter):
    def __init__(self, interval: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.interval = interval
        self.clock = clock
        self._last: dict[tuple[str, int], tuple[float, int]] = {}  # (message, level) -> (when let through, held)

    def filter(self, record: logging.LogRecord) -> bool:
        key = (str(record.msg), record.levelno)
        now = self.clock()
        last = self._last.get(key)
        if last is not None and now - last[0] < self.interval:
            self._last[key] = (last[0], last[1] + 1)
            return False
        held = last[1] if last is not None else 0
        if held:
            record.msg = f"{record.msg} ({held} more like it in the last {self.interval:g} s not shown)"
        self._last[key] = (now, 0)
        if len(self._last) > 1000:  # distinct messages are few; never let the table grow with them
            self._last.clear()
        return True


def limit_repeats(logger_name: str = "asyncio", interval: float = 10.0) -> None:
    """Install the filter on ``logger_name`` once."""
    logger = logging.getLogger(logger_name)
    if not any(isinstance(f, RepeatLimit) for f in logger.filters):
        logger.addFilter(RepeatLimit(interval))
