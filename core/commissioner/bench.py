"""The provider as the commissioner of the devices on its bench: runs commissioning jobs on the
node's own UDP socket, on the bench fabric, and reports each stage as engine events.

The engine owns one :class:`Bench`; it only needs the node's narrow services: its driver (to send),
its database (the bench fabric and node ids), and joining a fabric whose root we hold.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from ..events import CommissioningFailed, CommissioningStage, DeviceCommissioned, EngineEvent
from ..fabric.table import Fabric
from .attestation import TrustStore, Verdict
from .bench_fabric import BENCH_LABEL, BenchFabric
from .commission import CommissionedDevice, CommissioningError, StageReport, commission
from .target import CommissionTarget

__all__ = ["Bench"]

log = logging.getLogger(__name__)


class Bench:
    def __init__(self, node, trust: TrustStore, *, emit: Callable[[EngineEvent], None],
                 allow_unverified: bool = False, timeout: float = 30.0) -> None:  # fmt: skip
        self.node = node
        self.trust = trust
        self.emit = emit
        self.allow_unverified = allow_unverified
        self.timeout = timeout
        self._fabric: BenchFabric | None = None
        self._ours: Fabric | None = None
        self.tasks: set[asyncio.Task] = set()

    def _bench_fabric(self) -> tuple[BenchFabric, Fabric]:
        """Joined on first use, so a provider that never commissions shows no bench fabric."""
        if self._fabric is None or self._ours is None:
            self._fabric = BenchFabric.load_or_create(self.node.db)
            self._ours = self.node.join_own_fabric(self._fabric.authority, self._fabric.provider_node_id,
                                                   BENCH_LABEL, BenchFabric.acl_entries)  # fmt: skip
        return self._fabric, self._ours

    def start(self, target: CommissionTarget, node_id: int | None = None) -> asyncio.Task:
        task = asyncio.get_running_loop().create_task(self.commission(target, node_id))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    async def commission(self, target: CommissionTarget, node_id: int | None = None) -> CommissionedDevice | None:
        name = target.text or "device"
        try:
            address = target.address()
        except ValueError as exc:
            self.emit(CommissioningFailed(name, "address", str(exc)))
            return None
        bench, ours = self._bench_fabric()

        def report(stage: StageReport) -> None:
            self.emit(CommissioningStage(name, stage.stage.value, stage.state, stage.seconds, stage.detail))

        async def accept(verdict: Verdict) -> bool:
            if self.allow_unverified:
                self.emit(CommissioningStage(name, "device attestation", "accepted", 0.0,
                                             f"{verdict.describe()}; --allow-unverified-attestation"))  # fmt: skip
            return self.allow_unverified

        device_node_id = bench.allocate_node_id(self.node.db, node_id)
        try:
            device = await commission(self.node.driver, address, target.passcode, bench, ours, device_node_id,
                                      self.trust, accept_unverified=accept, on_stage=report,
                                      timeout=self.timeout)  # fmt: skip
        except CommissioningError as exc:
            self.emit(CommissioningFailed(name, exc.stage.value, exc.reason))
            return None
        self.emit(DeviceCommissioned(name, device.node_id, ours.fabric_index, device.vendor_id, device.product_id,
                                     device.verdict.describe()))  # fmt: skip
        return device

    async def aclose(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        if self.tasks:
            await asyncio.gather(*self.tasks, return_exceptions=True)
