"""A repeated log message is let through once per interval, with the count of those held back."""

from __future__ import annotations

import logging

from ota_provider.core.log_rate import RepeatLimit


def test_a_message_repeated_on_every_turn_is_said_once_per_interval_with_the_count():
    now = [0.0]
    limit = RepeatLimit(10.0, clock=lambda: now[0])
    records = [
        logging.LogRecord("asyncio", logging.ERROR, __file__, 1, "socket.accept() out of system resource", None, None)
        for _ in range(1000)
    ]
    passed = [r for r in records if limit.filter(r)]
    assert len(passed) == 1
    now[0] = 10.5
    again = logging.LogRecord(
        "asyncio", logging.ERROR, __file__, 1, "socket.accept() out of system resource", None, None
    )
    assert limit.filter(again) and "999 more like it in the last 10 s not shown" in again.getMessage()
    other = logging.LogRecord("asyncio", logging.ERROR, __file__, 1, "another problem", None, None)
    assert limit.filter(other)
