"""An in-memory network for sans-IO tests: managers, a fake clock, configurable datagram loss."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from ota_provider.core.exchange.manager import ExchangeManager


@dataclass
class SimNet:
    nodes: dict[tuple, ExchangeManager] = field(default_factory=dict)
    loss: float = 0.0
    seed: int = 1
    now: float = 0.0
    sent: int = 0
    lost: int = 0

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.timers: list[_Timer] = []

    def call_later(self, delay: float, callback) -> _Timer:
        """A scheduler for components that need timers (subscriptions), on the simulated clock."""
        timer = _Timer(self.now + delay, callback)
        self.timers.append(timer)
        return timer

    def add(self, address: tuple, manager: ExchangeManager) -> ExchangeManager:
        self.nodes[address] = manager
        return manager

    def deliver_all(self) -> bool:
        """Move every queued datagram once; True if anything moved."""
        moved = False
        for source, manager in list(self.nodes.items()):
            for out in manager.take_outgoing():
                moved = True
                self.sent += 1
                if self.rng.random() < self.loss:
                    self.lost += 1
                    continue
                target = self.nodes.get(out.address)
                if target is not None:
                    target.receive(out.data, source, self.now)
        return moved

    def run(self, until: float = 60.0, done=lambda: False) -> None:
        """Deliver and advance the clock to each next timer until ``done()`` or nothing is left."""
        while self.now <= until:
            while self.deliver_all():
                pass
            if done():
                return
            self.timers = [t for t in self.timers if not t.cancelled]
            deadlines = [d for m in self.nodes.values() if (d := m.next_deadline()) is not None]
            deadlines += [t.due for t in self.timers]
            if not deadlines:
                return
            if min(deadlines) > until:
                return
            self.now = max(self.now, min(deadlines))
            for timer in [t for t in self.timers if t.due <= self.now]:
                self.timers.remove(timer)
                timer.callback()
            for manager in self.nodes.values():
                manager.poll(self.now)


@dataclass
class _Timer:
    due: float
    callback: object
    cancelled: bool = False

    def cancel(self) -> None:
        self.cancelled = True
