"""The commissioner against a real node: another instance of our provider on ::1, over UDP."""

from __future__ import annotations

import asyncio

import pytest

from ota_provider.core.api.events import StepState
from ota_provider.core.commissioner.attestation import TrustStore, VerdictKind
from ota_provider.core.commissioner.bench_fabric import BenchFabric
from ota_provider.core.commissioner.commission import CommissioningError, Stage, commission
from ota_provider.core.exchange.driver import ExchangeDriver
from ota_provider.core.exchange.manager import ExchangeManager
from ota_provider.core.fabric.acl import Privilege
from ota_provider.core.node import MatterNode, NodeConfig
from ota_provider.core.storage.database import Database

PASSCODE = 20202021


@pytest.fixture
def device_config(tmp_path):
    return NodeConfig(
        storage=tmp_path / "device",
        passcode=PASSCODE,
        discriminator=3840,
        port=0,
        host="::1",
        allow_ota_from_fabric=False,
    )


async def run(device_config, tmp_path, *, passcode=PASSCODE, trust=None, accept=None):
    device = MatterNode(device_config)
    await device.start()
    driver = await ExchangeDriver.open(ExchangeManager(), port=0, host="::1")
    db = Database(tmp_path / "ours.sqlite3")
    bench = BenchFabric.load_or_create(db)
    ours = bench.authority.join(bench.provider_node_id)
    stages = []
    kwargs = {"accept_unverified": accept} if accept else {}
    try:
        result = await commission(
            driver,
            ("::1", device.port, 0, 0),
            passcode,
            bench,
            ours,
            bench.allocate_node_id(db),
            trust or TrustStore.with_test_roots(),
            on_stage=stages.append,
            timeout=5,
            **kwargs,
        )
        return result, stages, bench
    except CommissioningError as exc:
        await asyncio.sleep(0.2)
        return exc, stages, bench
    finally:
        driver.close()
        device.stop()


def test_our_provider_commissions_another_instance_of_itself(device_config, tmp_path):
    result, stages, bench = asyncio.run(run(device_config, tmp_path))
    assert result.verdict.kind == VerdictKind.TEST_DEVICE and result.node_id == 0x10
    assert (result.vendor_id, result.product_id) == (0xFFF1, 0x8000)
    over_ip = [s for s in Stage if s not in (Stage.BLE, Stage.NETWORK, Stage.JOIN, Stage.FIND)]  # BLE devices only
    assert [s.stage for s in stages if s.state is StepState.DONE] == over_ip  # every stage, in order
    again = MatterNode(device_config)  # what the device kept, read back from its storage
    try:
        (fabric,) = again.fabrics
        assert fabric.fabric_id == bench.fabric_id and fabric.node_id == 0x10
        (admin,) = again.admin.acl.for_fabric(fabric.fabric_index)
        assert admin.privilege == Privilege.ADMINISTER and admin.subjects == (bench.provider_node_id,)
    finally:
        again.stop()


def test_an_untrusted_paa_stops_at_attestation_and_leaves_nothing_on_the_device(device_config, tmp_path):
    untrusted = TrustStore(cd_keys=TrustStore.with_test_roots().cd_keys)  # no PAA at all
    error, stages, _ = asyncio.run(run(device_config, tmp_path, trust=untrusted))
    assert isinstance(error, CommissioningError) and error.stage == Stage.ATTESTATION
    assert "PAA trust" in error.reason and stages[-1].state is StepState.FAILED
    again = MatterNode(device_config)
    try:
        assert list(again.fabrics) == []  # the fail-safe was disarmed: nothing committed
    finally:
        again.stop()


def test_the_bypass_commissions_an_unverified_device(device_config, tmp_path):
    asked = []

    async def accept(verdict):
        asked.append(verdict.check)
        return True

    untrusted = TrustStore(cd_keys=TrustStore.with_test_roots().cd_keys)
    result, _, _ = asyncio.run(run(device_config, tmp_path, trust=untrusted, accept=accept))
    assert asked == ["PAA trust"] and result.verdict.kind == VerdictKind.FAILED and result.node_id == 0x10


def test_a_wrong_passcode_fails_at_pase(device_config, tmp_path):
    error, stages, _ = asyncio.run(run(device_config, tmp_path, passcode=20202022))
    assert isinstance(error, CommissioningError) and error.stage == Stage.PASE
    assert [s.stage for s in stages] == [Stage.PASE, Stage.PASE]


def test_a_device_that_vanishes_mid_commissioning_fails_in_words_and_keeps_nothing(device_config, tmp_path):
    """The device goes away once its fail-safe is armed: the next stage times out with what it
    waited for; the disarm cannot reach it, so its fail-safe expires there and rolls back."""

    async def scenario():
        device = MatterNode(device_config)
        await device.start()
        driver = await ExchangeDriver.open(ExchangeManager(), port=0, host="::1")
        db = Database(tmp_path / "ours.sqlite3")
        bench = BenchFabric.load_or_create(db)

        def vanish(report):
            if report.stage == Stage.REGULATORY and report.state is StepState.STARTED:
                device.stop()  # its socket closes: nothing answers any more

        try:
            with pytest.raises(CommissioningError) as failure:
                await commission(
                    driver,
                    ("::1", device.port, 0, 0),
                    PASSCODE,
                    bench,
                    bench.authority.join(bench.provider_node_id),
                    bench.allocate_node_id(db),
                    TrustStore.with_test_roots(),
                    on_stage=vanish,
                    timeout=1,
                )
            return failure.value
        finally:
            driver.close()
            device.stop()

    error = asyncio.run(scenario())
    assert error.stage == Stage.REGULATORY and "no answer to SetRegulatoryConfig within 1 s" in error.reason
    again = MatterNode(device_config)  # restarted, the device has nothing of ours
    try:
        assert list(again.fabrics) == []
    finally:
        again.stop()
