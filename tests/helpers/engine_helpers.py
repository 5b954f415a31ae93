"""A provider engine on loopback with the demo fabric, and requestor clients for it (shared by
the engine and dashboard tests)."""

from __future__ import annotations

from ota_provider.core.client.requestor import OtaRequestorClient
from ota_provider.core.config import ProviderConfig
from ota_provider.core.engine import ProviderEngine
from ota_provider.core.exchange.driver import ExchangeDriver
from ota_provider.core.exchange.manager import ExchangeManager
from ota_provider.core.fabric.demo import DEMO_FABRIC_FILE, DemoFabric
from ota_provider.core.ota.catalog import ImageCatalog
from tests.helpers.samples import SAMPLES

IMAGE_LIST = SAMPLES / "image-list.json"


def start_engine(storage, image_list=IMAGE_LIST, **config) -> ProviderEngine:
    provider_config = ProviderConfig(image_list=image_list, port=0, demo_fabric=True, **config)
    engine = ProviderEngine(
        provider_config, ImageCatalog.from_list(image_list), storage=storage, dnssd=False, host="::1"
    )
    engine.start()
    return engine


async def requestor(engine: ProviderEngine, storage, node_id: int) -> tuple[OtaRequestorClient, ExchangeDriver]:
    """A connected client for ``node_id`` on the engine's demo fabric; close the driver when done."""
    return await demo_requestor(DemoFabric.load(storage / DEMO_FABRIC_FILE), engine.port, node_id)


async def demo_requestor(demo: DemoFabric, port: int, node_id: int) -> tuple[OtaRequestorClient, ExchangeDriver]:
    """A connected client for ``node_id`` on ``demo``, to a provider on loopback ``port``."""
    driver = await ExchangeDriver.open(ExchangeManager(), port=0, host="::1")
    client = OtaRequestorClient(driver, demo.fabric_for(node_id), demo.provider_node_id, ("::1", port, 0, 0))
    await client.connect()
    return client, driver
