"""The assembled node: commissioning window, PASE over UDP, persistence across restarts."""

from __future__ import annotations

import asyncio

import pytest
from cryptography.hazmat.primitives import serialization

from ota_provider.core.attestation.credentials import AttestationError, DeviceCredentials
from ota_provider.core.exchange.driver import ExchangeDriver
from ota_provider.core.exchange.manager import ExchangeManager
from ota_provider.core.fabric.authority import FabricAuthority
from ota_provider.core.node import MatterNode, NodeConfig
from ota_provider.core.securechannel.connect import establish_pase


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
            assert node.windows.window is not None and node.windows.window.seconds_left > 800
            session = await _pase(node)
            assert session.auth_mode.name == "PASE"
            node.windows.close_commissioning_window()
            with pytest.raises(ConnectionError, match="INVALID_PARAMETER"):
                await _pase(node)
        finally:
            node.stop()

    asyncio.run(scenario())


def test_window_stays_closed_when_a_fabric_exists_and_counters_persist(tmp_path):
    first = MatterNode(config(tmp_path))
    first.admin.save_fabric(FabricAuthority(fabric_id=1).join(0x64))
    used = [first.manager.unencrypted_counter.next() for _ in range(5)]
    salt = first.db.get_setting("pase/salt")
    first.stop()

    async def scenario():
        node = MatterNode(config(tmp_path))
        await node.start()
        try:
            assert node.windows.window is None and len(node.fabrics) == 1
            assert node.db.get_setting("pase/salt") == salt
            assert node.manager.unencrypted_counter.next() > max(used)
        finally:
            node.stop()

    asyncio.run(scenario())


def test_expired_window_refuses_pase(tmp_path):
    async def scenario():
        node = MatterNode(config(tmp_path))
        await node.start()
        node.windows.open_commissioning_window(seconds=0)
        try:
            with pytest.raises(ConnectionError):
                await _pase(node)
            assert node.windows.window is None
        finally:
            node.stop()

    asyncio.run(scenario())


def test_removing_a_fabric_drops_its_sessions(tmp_path):
    node = MatterNode(config(tmp_path))
    authority = FabricAuthority(fabric_id=1)
    node.admin.save_fabric(authority.join(0x64, fabric_index=1))
    node.admin.remove_fabric(1)
    assert len(node.fabrics) == 0
    assert node.db.query("SELECT COUNT(*) FROM fabrics")[0][0] == 0
    node.stop()


def test_user_supplied_attestation_files(tmp_path):
    creds = DeviceCredentials.generate(0xFFF1, 0x8001)
    paths = {name: tmp_path / name for name in ("dac.der", "pai.der", "dac-key.pem", "cd.der")}
    paths["dac.der"].write_bytes(creds.dac)
    paths["pai.der"].write_bytes(creds.pai)
    paths["dac-key.pem"].write_bytes(
        creds.dac_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    paths["cd.der"].write_bytes(creds.certification_declaration)
    files = tuple(paths.values())
    base = config(tmp_path)
    node = MatterNode(NodeConfig(**{**base.__dict__, "product_id": 0x8001, "attestation_files": files}))
    assert node.admin.credentials.dac == creds.dac and node.admin.credentials.product_id == 0x8001
    node.stop()
    with pytest.raises(AttestationError, match="--product-id 0x8001"):
        MatterNode(NodeConfig(**{**base.__dict__, "storage": tmp_path / "other", "attestation_files": files}))
