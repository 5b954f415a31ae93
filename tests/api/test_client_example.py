"""What a requestor team's suite looks like: a headless provider in its own process, driven only
through the Python client (the ota_provider fixture), and each knob checked against what our
requestor received on the wire."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from ota_provider.core.api.client import AsyncProviderClient, Refused
from ota_provider.core.client.requestor import DownloadError, OtaRequestorClient
from ota_provider.core.codec.status_report import BdxStatus
from ota_provider.core.exchange.driver import ExchangeDriver
from ota_provider.core.exchange.manager import ExchangeManager
from ota_provider.core.fabric.demo import DEMO_FABRIC_FILE, DemoFabric
from ota_provider.core.ota.types import QueryImageStatus

NODE = 0xD001


def run(provider, tmp_path, scenario):
    """``scenario(client)`` as demo requestor NODE, connected to the provider over UDP."""
    state = provider.engine["storage"]
    demo = DemoFabric.load(Path(state) / DEMO_FABRIC_FILE)

    async def main():
        driver = await ExchangeDriver.open(ExchangeManager(), port=0, host="::1")
        client = OtaRequestorClient(
            driver, demo.fabric_for(NODE), demo.provider_node_id, ("::1", provider.engine["port"], 0, 0)
        )
        try:
            await client.connect()
            return await scenario(client)
        finally:
            driver.close()

    return asyncio.run(main())


def test_busy_once_then_update_available(ota_provider, tmp_path):
    armed = ota_provider.arm("queryImageStatus", "busy", node=NODE, unseen=True)  # before it first asks
    ota_provider.arm("delayedQueryActionTimeSec", 45, node=NODE, unseen=True)
    assert "busy" in armed.message and "one-shot" in armed.message

    async def two_queries(client):
        return await client.query_image(0xFFF1, 0x8000, 1), await client.query_image(0xFFF1, 0x8000, 1)

    first, second = run(ota_provider, tmp_path, two_queries)
    assert (first.status, first.delayed_action_time) == (QueryImageStatus.BUSY, 45)
    assert second.status == QueryImageStatus.UPDATE_AVAILABLE and second.software_version == 3
    answered = ota_provider.wait_for("QueryImageResponse", node=NODE, timeout=10)
    assert answered.status == QueryImageStatus.BUSY and len(answered.used) == 2
    assert ota_provider.snapshot().armed == ()  # both one-shot knobs were used up


def test_a_fault_knob_ends_the_transfer_where_it_said(ota_provider, tmp_path):
    ota_provider.arm("endTransfer", "3,transfer-failed-unknown-error")

    async def download(client):
        answer = await client.query_image(0xFFF1, 0x8000, 1)
        with pytest.raises(DownloadError) as failed:
            await client.download(answer.image_uri, tmp_path / "image.ota")
        return failed.value

    error = run(ota_provider, tmp_path, download)
    assert (
        error.status_report is not None and error.status_report.protocol_code == BdxStatus.TRANSFER_FAILED_UNKNOWN_ERROR
    )
    failed = ota_provider.wait_for("TransferFailed", timeout=10)
    assert failed.snapshot.bytes_sent == 3 * 1024  # blocks 0..2 went out, then the StatusReport


@pytest.mark.ota_provider_flags("-P", "100")  # 0.1 s a block: time to pause and abort
def test_pause_then_abort_a_running_transfer(ota_provider, tmp_path):
    ota_provider.subscribe()

    async def download_while_controlled(client):
        answer = await client.query_image(0xFFF1, 0x8000, 1)
        task = asyncio.get_running_loop().create_task(
            client.download(answer.image_uri, tmp_path / "image.ota", block_timeout=10)
        )
        started = await asyncio.to_thread(ota_provider.wait_for, "TransferStarted", timeout=10)
        transfer = started.snapshot.id
        paused = await asyncio.to_thread(ota_provider.pause, transfer)
        snapshot = await asyncio.to_thread(ota_provider.snapshot)
        await asyncio.to_thread(ota_provider.abort, transfer, BdxStatus.RESPONDER_BUSY)
        with pytest.raises(DownloadError) as aborted:
            await task
        return transfer, paused, snapshot, aborted.value

    transfer, paused, snapshot, aborted = run(ota_provider, tmp_path, download_while_controlled)
    assert "paused" in paused.message
    assert [t.paused for t in snapshot.transfers if t.id == transfer] == [True]
    assert aborted.status_report is not None and aborted.status_report.protocol_code == BdxStatus.RESPONDER_BUSY
    with pytest.raises(Refused, match=f"no running transfer #{transfer}"):
        ota_provider.pause(transfer)


def test_the_asyncio_client_has_the_same_verbs(ota_provider, tmp_path):
    socket_path = ota_provider.engine["storage"] + "/control.sock"

    async def scenario():
        async with await AsyncProviderClient.attach(socket_path) as client:
            await client.subscribe()
            armed = await client.arm("queryImageStatus", "updateNotAvailable", node=NODE, unseen=True)
            snapshot = await client.snapshot()
            with pytest.raises(Refused, match="no running transfer #5"):
                await client.pause(5)
            cleared = await client.clear()
            rows = await client.history(limit=5)
            event = await client.wait_for("CommandDone", timeout=5)
            return armed, snapshot, cleared, rows, event

    armed, snapshot, cleared, rows, event = asyncio.run(scenario())
    assert "updateNotAvailable" in armed.message and len(snapshot.armed) == 1
    assert cleared.message == "every knob disarmed" and isinstance(rows, tuple)
    assert event.command_id == armed.id
