"""The node's DNS-SD records follow its state: an operational record per fabric, and a commissionable
record while a window is open. Each change starts one update; the last one is awaited at stop."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from ..dnssd.advertiser import CommissionableService, MatterAdvertiser
from ..fabric.table import Fabric
from .window import CommissioningWindow

__all__ = ["DnssdFollower"]

log = logging.getLogger(__name__)


class DnssdFollower:
    def __init__(self, advertiser: MatterAdvertiser, vendor_id: int, product_id: int) -> None:
        self.advertiser = advertiser
        self._vendor_id = vendor_id
        self._product_id = product_id
        self._task: asyncio.Task[None] | None = None

    def follow(self, fabrics: list[Fabric], window: CommissioningWindow | None) -> None:
        """Advertise ``fabrics`` and ``window`` (called on the node's loop after each change)."""
        service = None
        if window is not None:
            mode = 2 if window.opener else 1  # commissioning mode: enhanced or basic window
            service = CommissionableService(window.discriminator, self._vendor_id, self._product_id, mode)
        self._task = asyncio.get_running_loop().create_task(self._update(fabrics, service))

    async def _update(self, fabrics: list[Fabric], service: CommissionableService | None) -> None:
        try:
            # The operational record first: a commissioner looks it up before CommissioningComplete.
            await self.advertiser.set_fabrics(fabrics)
            await self.advertiser.set_commissionable(service)
        except Exception:  # advertising must never take the node down; the failure is logged
            log.exception("DNS-SD update failed")

    async def aclose(self) -> None:
        """Wait for the last update, then withdraw every record (goodbye packets)."""
        if self._task is not None:
            with contextlib.suppress(Exception):
                await self._task
        await self.advertiser.close()
