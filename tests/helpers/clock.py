"""A node clock a test can move on: real time plus the jumps the test makes, so a test over real
UDP waits for a timeout (a fail-safe, a BDX idle release) without sleeping through it."""

from __future__ import annotations

import time


class JumpingClock:
    def __init__(self) -> None:
        self.jumped = 0.0

    def __call__(self) -> float:
        return time.monotonic() + self.jumped

    def jump(self, seconds: float, node) -> None:
        """Move the clock ``seconds`` on and let ``node`` do what fell due meanwhile, as its
        driver's timer would have."""
        self.jumped += seconds
        node.poll(self())
        if node.driver is not None:
            node.driver.flush()
