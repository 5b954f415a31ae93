"""Our BLE central (bleak, through BlueZ's D-Bus API) finds a commissionable device by its
advertisement and carries Matter messages over BTP, against matter.js's own BTP as the
peripheral: BlueZoo on a private bus stands in for the radio (ble_rig.py), ble_peripheral.py
registers the device's advertisement and GATT service and relays to matter.js."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

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
    peripheral = Peripheral.echo(rig, ADVERTISED.encode())
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


def ble_scan(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "ota_provider.core.cli", "ble-scan", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, env=env, check=False)


def test_ble_scan_lists_the_device_and_says_in_one_line_what_is_missing(rig, device):
    listed = ble_scan("--ble-adapter", CENTRAL, "--seconds", "2", "--json", env=rig.env)
    assert listed.returncode == 0, listed.stderr
    (found,) = [json.loads(line) for line in listed.stdout.splitlines()]
    assert (found["discriminator"], found["vendorId"], found["productId"]) == (3840, 0xFFF1, 0x8000)
    no_adapter = ble_scan("--ble-adapter", "hci7", "--seconds", "1", env=rig.env)
    assert no_adapter.returncode == 2 and no_adapter.stderr.count("\n") == 1 and "hci7" in no_adapter.stderr


def test_ble_scan_without_a_system_bus_is_one_line(tmp_path):
    env = {**os.environ, "DBUS_SYSTEM_BUS_ADDRESS": f"unix:path={tmp_path / 'no-bus.sock'}"}
    result = ble_scan("--seconds", "1", env=env)
    assert result.returncode == 2 and result.stderr.count("\n") == 1 and "D-Bus" in result.stderr
