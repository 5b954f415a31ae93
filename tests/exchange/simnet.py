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
            deadlines = [d for m in self.nodes.values() if (d := m.next_deadline()) is not None]
            if not deadlines:
                return
            self.now = max(self.now, min(deadlines))
            for manager in self.nodes.values():
                manager.poll(self.now)
