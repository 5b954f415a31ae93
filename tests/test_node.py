"""The assembled node: commissioning window, PASE over UDP, persistence across restarts."""

from __future__ import annotations

import asyncio

import pytest

from ota_provider.core.exchange.driver import ExchangeDriver, establish_pase
from ota_provider.core.exchange.manager import ExchangeManager
from ota_provider.core.fabric.authority import FabricAuthority
from ota_provider.core.node import MatterNode, NodeConfig


def config(tmp_path) -> NodeConfig:
    return NodeConfig(storage=tmp_path / "state", passcode=20202021, discriminator=3840, port=0, host="::1")


async def _pase(node: MatterNode, passcode: int = 20202021):
    client = await ExchangeDriver.open(ExchangeManager(), port=0, host="::1")
    try:
        return await establish_pase(client, ("::1", node.port, 0, 0), passcode, timeout=10)
    finally:
        client.close()


def test_window_opens_at_start_without_fabrics_and_pase_works(tmp_path):
    async def scenario():
        node = MatterNode(config(tmp_path))
        await node.start()
        try:
            assert node.window is not None and node.window.seconds_left > 800
            session = await _pase(node)
            assert session.auth_mode.name == "PASE"
            node.close_commissioning_window()
            with pytest.raises(ConnectionError, match="INVALID_PARAMETER"):
                await _pase(node)
        finally:
            node.stop()

    asyncio.run(scenario())


def test_window_stays_closed_when_a_fabric_exists_and_counters_persist(tmp_path):
    first = MatterNode(config(tmp_path))
    first.add_fabric(FabricAuthority(fabric_id=1).join(0x64))
    used = [first.manager.unencrypted_counter.next() for _ in range(5)]
    salt = first.db.get_setting("pase/salt")
    first.stop()

    async def scenario():
        node = MatterNode(config(tmp_path))
        await node.start()
        try:
            assert node.window is None and len(node.fabrics) == 1
            assert node.db.get_setting("pase/salt") == salt
            assert node.manager.unencrypted_counter.next() > max(used)
        finally:
            node.stop()

    asyncio.run(scenario())


def test_expired_window_refuses_pase(tmp_path):
    async def scenario():
        node = MatterNode(config(tmp_path))
        await node.start()
        node.open_commissioning_window(seconds=0)
        try:
            with pytest.raises(ConnectionError):
                await _pase(node)
            assert node.window is None
        finally:
            node.stop()

    asyncio.run(scenario())


def test_removing_a_fabric_drops_its_sessions(tmp_path):
    node = MatterNode(config(tmp_path))
    authority = FabricAuthority(fabric_id=1)
    node.add_fabric(authority.join(0x64, fabric_index=1))
    node.remove_fabric(1)
    assert len(node.fabrics) == 0
    assert node.db.query("SELECT COUNT(*) FROM fabrics")[0][0] == 0
    node.stop()
