"""Actions on a kept device through the engine: re-read it, and forget it (RemoveFabric of our
fabric only), against a real device (another instance of our node on ::1)."""

from __future__ import annotations

import asyncio

from ota_provider.core.api.commands import CommissionDevice, DeviceAction, DeviceActionKind
from ota_provider.core.api.events import CommandDone, DeviceStep, DeviceStepKind, StepState
from ota_provider.core.node import MatterNode, NodeConfig
from tests.helpers.engine_helpers import start_engine


async def next_matching(engine, predicate, timeout=15.0):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        for event in engine.drain():
            if predicate(event):
                return event
        await asyncio.sleep(0.05)
    raise AssertionError("no matching engine event")


def test_reread_then_forget_a_bench_device(tmp_path):
    engine = start_engine(tmp_path / "ours")

    async def scenario():
        device = MatterNode(
            NodeConfig(
                storage=tmp_path / "device",
                passcode=20202021,
                discriminator=3840,
                port=0,
                host="::1",
                allow_ota_from_fabric=False,
            )
        )
        await device.start()
        try:
            engine.send(CommissionDevice(f"34970112332@[::1]:{device.port}"))
            await next_matching(engine, lambda e: isinstance(e, DeviceStep) and e.step is DeviceStepKind.POINT)
            on_device = [f.fabric_id for f in device.fabrics]
            engine.send(DeviceAction(0x10, DeviceActionKind.READ))
            read = await next_matching(engine, lambda e: isinstance(e, DeviceStep) and e.step is DeviceStepKind.READ)
            engine.send(DeviceAction(0x99, DeviceActionKind.READ))
            refused = await next_matching(engine, lambda e: isinstance(e, CommandDone) and not e.ok)
            engine.send(DeviceAction(0x10, DeviceActionKind.FORGET))
            forgot = await next_matching(
                engine, lambda e: isinstance(e, DeviceStep) and e.step is DeviceStepKind.FORGET
            )
            await asyncio.sleep(0.2)
            return on_device, read, refused, forgot, [f.fabric_id for f in device.fabrics]
        finally:
            device.stop()

    try:
        on_device, read, refused, forgot, after = asyncio.run(scenario())
        devices = engine.bench.devices.all()
    finally:
        engine.stop()
    assert len(on_device) == 1 and read.state is StepState.DONE and "no OTA requestor" in read.detail
    assert "not a device of our bench fabric" in refused.message
    assert forgot.state is StepState.DONE and after == [] and devices == []
