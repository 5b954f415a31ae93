"""Simulated requestors for ``ota-provider --demo``: nodes on the demo fabric that query,
download, apply and report, then after a pause go back to their old version and start over,
so a newcomer sees the whole flow, and the effect of every knob, within seconds."""

from __future__ import annotations

import asyncio
import logging
import tempfile
from pathlib import Path

from ..exchange.driver import ExchangeDriver
from ..exchange.manager import ExchangeManager
from ..fabric.demo import DemoFabric
from ..ota.types import ApplyUpdateAction, QueryImageStatus
from .requestor import CommandFailed, DownloadError, OtaRequestorClient

__all__ = ["DEMO_REQUESTOR_VERSIONS", "DemoRequestors"]

log = logging.getLogger(__name__)

DEMO_REQUESTOR_VERSIONS = (1, 2, 1)
FIRST_DEMO_NODE_ID = 0x0000_0000_0000_D001
RETRY_SECONDS = 5.0  # after an error or a finished cycle
# The SDK requestor's own rules (OTA_PROVIDER_SPEC.md §5.2, §5.3), so the demo teaches what a
# real requestor does: it waits at least 120 s after Busy and before re-sending an
# ApplyUpdateRequest answered AwaitNextAction, whatever DelayedActionTime says.
MIN_REQUERY_SECONDS = 120.0


class DemoRequestors:
    def __init__(
        self,
        demo: DemoFabric,
        port: int,
        *,
        vendor_id: int = 0xFFF1,
        product_id: int = 0x8000,
        versions: tuple[int, ...] = DEMO_REQUESTOR_VERSIONS,
        count: int | None = None,
        block_interval: float = 0.0,
        cycle_pause: float = 20.0,
    ) -> None:
        self.demo = demo
        self.port = port
        self.vendor_id = vendor_id
        self.product_id = product_id
        # Starting versions cycle through ``versions``, so every count mixes old and older nodes.
        self.versions = tuple(versions[i % len(versions)] for i in range(count or len(versions)))
        self.block_interval = block_interval
        self.cycle_pause = cycle_pause

    async def run(self) -> None:
        with tempfile.TemporaryDirectory(prefix="ota-demo-") as scratch:
            await asyncio.gather(*(self._requestor(i, Path(scratch)) for i in range(len(self.versions))))

    async def _requestor(self, index: int, scratch: Path) -> None:
        # Staggered, so the events are easy to follow, but all started within about six seconds.
        await asyncio.sleep(1.0 + min(1.5, 6.0 / len(self.versions)) * index)
        node_id = FIRST_DEMO_NODE_ID + index
        start_version = version = self.versions[index]
        driver = await ExchangeDriver.open(ExchangeManager(), port=0, host="::1")
        client = OtaRequestorClient(
            driver, self.demo.fabric_for(node_id), self.demo.provider_node_id, ("::1", self.port, 0, 0)
        )
        try:
            while True:
                try:
                    if client.session is None:
                        await client.connect()
                    version, wait = await self._one_round(client, version, scratch / f"{node_id:016X}.ota")
                except (ConnectionError, TimeoutError, CommandFailed, DownloadError) as exc:
                    log.info("demo requestor 0x%016X: %s", node_id, exc)
                    client.session = None
                    wait = RETRY_SECONDS
                if wait is None:  # up to date: pause, then play the update again
                    await asyncio.sleep(self.cycle_pause)
                    version = start_version
                else:
                    await asyncio.sleep(wait)
        finally:
            driver.close()

    async def _one_round(self, client: OtaRequestorClient, version: int, target: Path) -> tuple[int, float | None]:
        """Query, and if offered, download, apply and notify; return (version now, seconds to wait)."""
        offer = await client.query_image(self.vendor_id, self.product_id, version)
        if offer.status == QueryImageStatus.BUSY:
            return version, max(MIN_REQUERY_SECONDS, float(offer.delayed_action_time or 0))
        if offer.status != QueryImageStatus.UPDATE_AVAILABLE:
            return version, None
        assert offer.image_uri and offer.update_token and offer.software_version is not None
        if offer.software_version <= version:
            return version, None
        if offer.delayed_action_time:  # the SDK requestor honours it even with UpdateAvailable
            await asyncio.sleep(float(offer.delayed_action_time))
        await client.download(offer.image_uri, target, block_interval=self.block_interval)
        applied = await client.apply_update(offer.update_token, offer.software_version)
        while applied.action == ApplyUpdateAction.AWAIT_NEXT_ACTION:  # ask again; the image is kept
            await asyncio.sleep(max(MIN_REQUERY_SECONDS, float(applied.delayed_action_time)))
            applied = await client.apply_update(offer.update_token, offer.software_version)
        if applied.action == ApplyUpdateAction.DISCONTINUE:
            return version, RETRY_SECONDS
        await asyncio.sleep(float(applied.delayed_action_time))  # Proceed: "reboot" after the delay
        await client.notify_update_applied(offer.update_token, offer.software_version)
        return offer.software_version, RETRY_SECONDS
