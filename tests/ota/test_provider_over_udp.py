"""The provider node and our requestor client on the demo fabric, over real UDP on loopback:
QueryImage, BDX download with digest check, ApplyUpdate, NotifyUpdateApplied, token and
designator binding, several downloads at once."""

from __future__ import annotations

import asyncio
import hashlib

import pytest

from ota_provider.core.bdx.outcome import Outcome
from ota_provider.core.bdx.uri import parse_bdx_uri
from ota_provider.core.client.requestor import CommandFailed, DownloadError, OtaRequestorClient
from ota_provider.core.codec.im_status import ImStatus
from ota_provider.core.codec.status_report import BdxStatus
from ota_provider.core.exchange.driver import ExchangeDriver
from ota_provider.core.exchange.manager import ExchangeManager
from ota_provider.core.fabric.demo import DemoFabric
from ota_provider.core.node import MatterNode, NodeConfig
from ota_provider.core.ota.catalog import ImageCatalog
from ota_provider.core.ota.events import FaultInjected
from ota_provider.core.ota.policy import Knob, OtaPolicy
from ota_provider.core.ota.provider import OtaProvider
from ota_provider.core.ota.types import ApplyUpdateAction, DownloadProtocol, QueryImageStatus
from tests.helpers.clock import JumpingClock
from tests.helpers.samples import SAMPLES
from tests.helpers.transfers import COMPLETE, told
from tests.helpers.transfers import failed as ended_badly

V3 = SAMPLES / "sample-fff1-8000-v3.ota"


class Bench:
    """A provider node serving the sample list, and requestor clients on its demo fabric."""

    def __init__(self, tmp_path, idle_timeout=300.0):
        self.tmp = tmp_path
        self.demo = DemoFabric.generate()
        self.clock = JumpingClock()
        self.node = MatterNode(
            NodeConfig(storage=tmp_path / "state", passcode=20202021, discriminator=3840, port=0, host="::1"),
            clock=self.clock,
        )
        self.node.admin.join_demo_fabric(self.demo)
        self.events = []
        self.transfers = []
        self.provider = OtaProvider(
            ImageCatalog.from_list(SAMPLES / "image-list.json"), OtaPolicy(), emit=self.events.append
        )
        self.node.serve_ota(
            self.provider,
            idle_timeout=idle_timeout,
            on_transfer=lambda step, t: self.transfers.append((told(step, t), t.peer, t.end)),
        )
        self.drivers = []

    async def start(self):
        await self.node.start()

    async def requestor(self, node_id):
        driver = await ExchangeDriver.open(ExchangeManager(), port=0, host="::1")
        self.drivers.append(driver)
        fabric = self.demo.fabric_for(node_id)
        client = OtaRequestorClient(driver, fabric, self.demo.provider_node_id, ("::1", self.node.port, 0, 0))
        await client.connect()
        return client

    def close(self):
        for driver in self.drivers:
            driver.close()
        self.node.stop()


def run(tmp_path, scenario, **kwargs):
    async def main():
        bench = Bench(tmp_path, **kwargs)
        await bench.start()
        try:
            await asyncio.wait_for(scenario(bench), 60)
        finally:
            bench.close()

    asyncio.run(main())


def test_query_download_apply_notify(tmp_path):
    async def scenario(bench):
        client = await bench.requestor(0x1001)
        offer = await client.query_image(0xFFF1, 0x8000, 1)
        assert offer.status == QueryImageStatus.UPDATE_AVAILABLE
        assert offer.software_version == 3 and offer.software_version_string == "3.0.0"
        assert len(offer.update_token) == 32
        node_id, designator = parse_bdx_uri(offer.image_uri)
        assert node_id == bench.demo.provider_node_id and designator == b"2"
        assert offer.image_uri == "bdx://0000000000000001/2"
        result = await client.download(offer.image_uri, bench.tmp / "got.ota")
        assert hashlib.sha256(result.path.read_bytes()).digest() == hashlib.sha256(V3.read_bytes()).digest()
        assert result.info.header.software_version == 3 and result.block_size == 1024
        applied = await client.apply_update(offer.update_token, 3)
        assert applied.action == ApplyUpdateAction.PROCEED and applied.delayed_action_time == 0
        await client.notify_update_applied(offer.update_token, 3)
        with pytest.raises(CommandFailed) as failed:
            await client.apply_update(bytes(32), 3)
        assert failed.value.status == ImStatus.NOT_FOUND
        with pytest.raises(CommandFailed) as failed:
            await client.notify_update_applied(b"12345678", 3)
        assert failed.value.status == ImStatus.NOT_FOUND
        await asyncio.sleep(0.1)  # let the BlockAckEOF land
        assert [t[0] for t in bench.transfers][-1] is COMPLETE
        kinds = [e.name for e in bench.events]
        assert kinds[:2] == ["QueryImage", "QueryImageResponse"]
        assert "NotifyUpdateApplied" in kinds and "ApplyUpdateRefused" in kinds

    run(tmp_path, scenario)


def test_up_to_date_other_product_and_no_common_protocol(tmp_path):
    async def scenario(bench):
        client = await bench.requestor(0x1002)
        assert (await client.query_image(0xFFF1, 0x8000, 3)).status == QueryImageStatus.NOT_AVAILABLE
        assert (await client.query_image(0xFFF1, 0x8001, 1)).status == QueryImageStatus.NOT_AVAILABLE
        response = await client.query_image(0xFFF1, 0x8000, 1, protocols=(DownloadProtocol.HTTPS,))
        assert response.status == QueryImageStatus.DOWNLOAD_PROTOCOL_NOT_SUPPORTED
        assert response.image_uri is None and response.update_token is None

    run(tmp_path, scenario)


def test_a_designator_offered_to_one_requestor_is_refused_to_another(tmp_path):
    async def scenario(bench):
        first = await bench.requestor(0x1003)
        other = await bench.requestor(0x1004)
        offer = await first.query_image(0xFFF1, 0x8000, 1)
        with pytest.raises(DownloadError) as refused:
            await other.download(offer.image_uri, bench.tmp / "stolen.ota")
        assert refused.value.status_report.protocol_code == BdxStatus.FILE_DESIGNATOR_UNKNOWN
        with pytest.raises(CommandFailed):
            await other.apply_update(offer.update_token, 3)  # the token is bound too
        result = await first.download(offer.image_uri, bench.tmp / "mine.ota")
        assert result.size == V3.stat().st_size

    run(tmp_path, scenario)


def test_one_shot_busy_then_available_and_ignore(tmp_path):
    async def scenario(bench):
        client = await bench.requestor(0x1005)
        bench.provider.policy.arm(Knob.QUERY_STATUS, QueryImageStatus.BUSY)
        bench.provider.policy.arm(Knob.QUERY_DELAY, 180)
        busy = await client.query_image(0xFFF1, 0x8000, 1)
        assert busy.status == QueryImageStatus.BUSY and busy.delayed_action_time == 180
        assert (await client.query_image(0xFFF1, 0x8000, 1)).status == QueryImageStatus.UPDATE_AVAILABLE
        bench.provider.policy.arm(Knob.IGNORE_QUERY, 1)
        with pytest.raises(TimeoutError):
            await client.query_image(0xFFF1, 0x8000, 1, timeout=1.5)
        assert (await client.query_image(0xFFF1, 0x8000, 1)).status == QueryImageStatus.UPDATE_AVAILABLE

    run(tmp_path, scenario)


def test_consent_needed_is_sent_with_an_offer_only(tmp_path):
    async def scenario(bench):
        client = await bench.requestor(0x1006)
        bench.provider.policy.arm(Knob.CONSENT_NEEDED, True, sticky=True)
        bench.provider.policy.arm(Knob.QUERY_STATUS, QueryImageStatus.BUSY)
        busy = await client.query_image(0xFFF1, 0x8000, 1, requestor_can_consent=True)
        assert busy.status == QueryImageStatus.BUSY
        assert (busy.user_consent_needed, busy.metadata_for_requestor) == (None, None)  # absent from the TLV
        offer = await client.query_image(0xFFF1, 0x8000, 1, requestor_can_consent=True)
        assert offer.status == QueryImageStatus.UPDATE_AVAILABLE and offer.user_consent_needed is True
        assert offer.metadata_for_requestor is None
        up_to_date = await client.query_image(0xFFF1, 0x8000, 3, requestor_can_consent=True)
        assert up_to_date.status == QueryImageStatus.NOT_AVAILABLE and up_to_date.user_consent_needed is None

    run(tmp_path, scenario)


def test_ten_requestors_download_at_once(tmp_path):
    async def scenario(bench):
        clients = [await bench.requestor(0x2000 + i) for i in range(10)]
        offers = [await c.query_image(0xFFF1, 0x8000, 1) for c in clients]
        results = await asyncio.gather(
            *(
                c.download(o.image_uri, bench.tmp / f"r{i}.ota")
                for i, (c, o) in enumerate(zip(clients, offers, strict=True))
            )
        )
        assert all(r.path.read_bytes() == V3.read_bytes() for r in results)
        await asyncio.sleep(0.1)
        assert sum(1 for t in bench.transfers if t[0] is COMPLETE) == 10

    run(tmp_path, scenario)


def test_a_requestor_that_vanishes_is_released_and_others_proceed(tmp_path):
    async def scenario(bench):
        quitter = await bench.requestor(0x3001)
        offer = await quitter.query_image(0xFFF1, 0x8000, 1)
        with pytest.raises(DownloadError):
            await quitter.download(offer.image_uri, bench.tmp / "partial.ota", stop_after_blocks=3)
        assert len(bench.node.bdx.transfers) == 1
        other = await bench.requestor(0x3002)
        offer2 = await other.query_image(0xFFF1, 0x8000, 1)
        result = await other.download(offer2.image_uri, bench.tmp / "other.ota")
        assert result.size == V3.stat().st_size
        bench.clock.jump(1.2, bench.node)  # past the idle timeout
        assert bench.node.bdx.transfers == {}
        failed = [t for t in bench.transfers if ended_badly(t[0])]
        assert failed and failed[0][1] == (1, 0x3001) and failed[0][2].outcome is Outcome.IDLE

    run(tmp_path, scenario, idle_timeout=1.0)


def test_fault_knobs_corrupt_end_delay_and_drop_blocks(tmp_path):
    async def scenario(bench):
        client = await bench.requestor(0x5001)
        policy = bench.provider.policy

        async def download(name, **kwargs):
            offer = await client.query_image(0xFFF1, 0x8000, 1)
            return await client.download(offer.image_uri, bench.tmp / name, **kwargs)

        policy.arm(Knob.CORRUPT_BLOCK, 5)
        with pytest.raises(DownloadError, match="does not verify"):
            await download("corrupt.ota")
        policy.arm(Knob.END_TRANSFER, (3, BdxStatus.TRANSFER_FAILED_UNKNOWN_ERROR))
        with pytest.raises(DownloadError) as ended:
            await download("ended.ota")
        assert ended.value.status_report.protocol_code == BdxStatus.TRANSFER_FAILED_UNKNOWN_ERROR
        policy.arm(Knob.DELAY_BLOCK, (2, 0.6))
        started = asyncio.get_running_loop().time()
        assert (await download("late.ota")).size == V3.stat().st_size
        assert asyncio.get_running_loop().time() - started >= 0.6
        policy.arm(Knob.DROP_BLOCK, 4)
        with pytest.raises(TimeoutError):
            await download("dropped.ota", block_timeout=0.5)
        assert policy.armed == []  # every fault was one-shot
        bench.clock.jump(1.3, bench.node)  # the stalled transfer is released by the idle timeout
        assert bench.node.bdx.transfers == {}
        assert [e.block for e in bench.events if isinstance(e, FaultInjected)] == [5, 3, 2, 4]

    run(tmp_path, scenario, idle_timeout=1.0)


def test_an_asynchronous_requestor_is_served_too(tmp_path):
    async def scenario(bench):
        client = await bench.requestor(0x6001)
        offer = await client.query_image(0xFFF1, 0x8000, 1, protocols=(DownloadProtocol.BDX_ASYNCHRONOUS,))
        assert offer.status == QueryImageStatus.UPDATE_AVAILABLE
        result = await client.download(offer.image_uri, bench.tmp / "async.ota", asynchronous=True)
        assert result.path.read_bytes() == V3.read_bytes()

    run(tmp_path, scenario)
