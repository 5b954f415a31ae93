"""The driver's one timer on the engine's loop (uvloop): each deadline wakes the machines once."""

from __future__ import annotations

import asyncio
import time

import uvloop

from ota_provider.core.exchange.driver import ExchangeDriver
from ota_provider.core.exchange.manager import ExchangeManager


class Deadlines:
    """A machine with a list of deadlines: polled, it forgets those that are due."""

    def __init__(self, deadlines: list[float]) -> None:
        self.deadlines = deadlines
        self.polls = 0

    def next_deadline(self) -> float | None:
        return self.deadlines[0] if self.deadlines else None

    def poll(self, now: float) -> None:
        self.polls += 1
        while self.deadlines and self.deadlines[0] <= now:
            self.deadlines.pop(0)


def test_each_deadline_wakes_the_machines_about_once_on_uvloop():
    """libuv's timers fire up to a millisecond early; without slack, the driver found nothing due
    and armed again for the rest, about 19 times per deadline (the CPU of a lossy transfer)."""

    async def scenario() -> Deadlines:
        start = time.monotonic()
        machine = Deadlines([start + 0.0203 + n * 0.0107 for n in range(40)])
        driver = await ExchangeDriver.open(ExchangeManager(), port=0, host="::1", machine=machine)
        try:
            driver.flush()
            while machine.deadlines:
                await asyncio.sleep(0.02)
        finally:
            driver.close()
        return machine

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        machine = runner.run(scenario())
    assert machine.polls <= 40 * 1.5
