"""Our BLE central (bleak, through BlueZ's D-Bus API) finds a commissionable device by its
advertisement and carries Matter messages over BTP, against matter.js's own BTP as the
peripheral: BlueZoo on a private bus stands in for the radio (ble_rig.py), ble_peripheral.py
registers the device's advertisement and GATT service and relays to matter.js."""

from __future__ import annotations

import asyncio

import pytest

from ota_provider.core.transport.ble import BtpLink, scan
from ota_provider.core.transport.ble_advertisement import BleAdvertisement
from tests.interop.ble_rig import CENTRAL, Peripheral, rig_or_skip
from tests.interop.matterjs_peers import require_matterjs

ADVERTISED = BleAdvertisement(discriminator=3840, vendor_id=0xFFF1, product_id=0x8000)
MESSAGES = [bytes(n % 251 for n in range(size)) for size in (9, 100, 600, 1280)]


@pytest.fixture
def rig(tmp_path, monkeypatch):
    require_matterjs()
    yield from rig_or_skip(tmp_path / "ble", monkeypatch)


@pytest.fixture
def device(rig):
    peripheral = Peripheral(rig, ADVERTISED.encode())
    yield peripheral
    peripheral.stop()


def test_the_device_is_found_by_its_advertisement_and_speaks_btp_with_us(device):
    async def run():
        found = await scan(CENTRAL, seconds=3)
        (mine,) = [d for d in found if d.advertisement.discriminator == 3840]
        assert mine.advertisement == ADVERTISED and mine.name == "MATTER-TEST"
        link = await BtpLink.open(mine.address, CENTRAL, timeout=10)
        try:
            replies = []
            for message in MESSAGES:
                await link.send(message)
                replies.append(await link.receive(timeout=10))
            return link.central, replies
        finally:
            await link.close()

    central, replies = asyncio.run(run())
    assert replies == [m[::-1] for m in MESSAGES]  # matter.js echoes each message reversed
    assert central.segment_size >= 20 and central.stats["packets_out"] >= 3
    assert any(line.startswith("write 656c04") for line in device.lines)  # our handshake request on C1
    assert not any(line.startswith("closed") for line in device.lines), device.lines[-10:]
