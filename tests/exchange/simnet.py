"""An in-memory network for sans-IO tests: managers, a fake clock, configurable datagram loss.

Time moves only when :meth:`SimNet.run` jumps it to the next deadline of a manager or of another
machine that was added (a BDX server, subscriptions, a whole node: see ``core/timers.py``)."""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from ota_provider.core.exchange.manager import ExchangeManager
from ota_provider.core.timers import Timed, earliest


@dataclass
class SimNet:
    nodes: dict[tuple, ExchangeManager] = field(default_factory=dict)
    loss: float = 0.0
    seed: int = 1
    now: float = 0.0
    sent: int = 0
    lost: int = 0
    latency: float = 0.0  # one way, seconds; 0: a datagram arrives in the same instant
    # lost besides the random loss: drop(source, destination, datagram) says so (a link that is down)
    drop: Callable[[tuple, tuple, bytes], bool] | None = None

    machines: list[Timed] = field(default_factory=list)  # polled besides the managers
    polled: dict[tuple, Timed] = field(default_factory=dict)  # polled instead of that address's manager

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        self.in_flight: list[tuple[float, int, tuple, tuple, bytes]] = []  # (arrival, n, to, from, data)

    def clock(self) -> float:
        return self.now

    def add(self, address: tuple, manager: ExchangeManager, *, machine: Timed | None = None) -> ExchangeManager:
        """``machine``: what polls this manager itself (a whole node), polled in its place."""
        self.nodes[address] = manager
        if machine is not None:
            self.polled[address] = machine
        return manager

    def remove(self, address: tuple) -> None:
        """The host at ``address`` is gone (powered off, killed): what is sent to it is lost."""
        del self.nodes[address]
        self.polled.pop(address, None)

    def _pollers(self) -> list[Timed]:
        return [self.polled.get(address, manager) for address, manager in self.nodes.items()] + self.machines

    def watch(self, machine: Timed) -> Timed:
        """Poll ``machine`` on the simulated clock too."""
        self.machines.append(machine)
        return machine

    def next_deadline(self) -> float | None:
        arrival = self.in_flight[0][0] if self.in_flight else None
        return earliest([m.next_deadline() for m in self._pollers()] + [arrival])

    def deliver_all(self) -> bool:
        """Move every queued datagram once; True if anything moved."""
        moved = False
        for source, manager in list(self.nodes.items()):
            for out in manager.take_outgoing():
                moved = True
                self.sent += 1
                if self.rng.random() < self.loss or (
                    self.drop is not None and self.drop(source, out.address, out.data)
                ):
                    self.lost += 1
                    continue
                if self.latency:
                    # Arrivals on a 1 ms grid: the run jumps between a few thousand instants, not one per datagram.
                    arrival = math.ceil(round((self.now + self.latency) * 1000, 6)) / 1000
                    heapq.heappush(self.in_flight, (arrival, self.sent, out.address, source, out.data))
                    continue
                target = self.nodes.get(out.address)
                if target is not None:
                    target.receive(out.data, source, self.now)
        while self.in_flight and self.in_flight[0][0] <= self.now:
            _arrival, _n, address, source, data = heapq.heappop(self.in_flight)
            moved = True
            if (target := self.nodes.get(address)) is not None:
                target.receive(data, source, self.now)
        return moved

    def run(self, until: float = 60.0, done=lambda: False) -> None:
        """Deliver and advance the clock to each next timer until ``done()`` or nothing is left."""
        while self.now <= until:
            while self.deliver_all():
                pass
            if done():
                return
            deadline = self.next_deadline()
            if deadline is None or deadline > until:
                return
            self.now = max(self.now, deadline)
            for machine in self._pollers():
                if (due := machine.next_deadline()) is not None and due <= self.now:
                    machine.poll(self.now)
