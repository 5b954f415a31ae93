"""Commissioning our node end to end with our own IM client, as the SDK commissioner does it
(MATTER_STACK.md §4.2): PASE, reads, ArmFailSafe, attestation, CSR, root, AddNOC, CASE,
CommissioningComplete; then ACL enforcement for another node and fail-safe rollback."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import secrets
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from ota_provider.core.codec import tlv
from ota_provider.core.codec.im_status import ImStatus
from ota_provider.core.codec.tlv import UInt
from ota_provider.core.crypto.certificates import FABRIC_ID, NODE_ID, RCAC_ID, issue_certificate
from ota_provider.core.crypto.primitives import ecdsa_verify_raw
from ota_provider.core.exchange.driver import ExchangeDriver
from ota_provider.core.exchange.manager import ExchangeManager
from ota_provider.core.fabric.demo import DemoFabric
from ota_provider.core.fabric.table import Fabric
from ota_provider.core.im.client import ImResult, InteractionClient
from ota_provider.core.im.messages import AttributeData, AttributePath, CommandData, CommandPath
from ota_provider.core.node import MatterNode, NodeConfig
from ota_provider.core.securechannel.case_initiator import CaseInitiator
from ota_provider.core.securechannel.connect import establish_pase
from tests.helpers.clock import JumpingClock

NODE_ID_ON_FABRIC, ADMIN_ID, OTHER_ID, FABRIC = 0x1234, 112233, 0x5555, 0xFAB1


async def call(client, method, *args, **kwargs) -> ImResult:
    done = asyncio.get_running_loop().create_future()
    getattr(client, method)(*args, on_done=lambda r: done.done() or done.set_result(r), **kwargs)
    client.driver.flush()
    return await asyncio.wait_for(done, 10)


def command(cluster, command_id, fields=None, ref=None):
    return CommandData(CommandPath(0, cluster, command_id), fields if fields is not None else tlv.Structure(), ref)


async def case_session(driver, node, fabric, peer_node_id):
    done = asyncio.get_running_loop().create_future()
    initiator = CaseInitiator(
        driver.manager, fabric, peer_node_id, on_done=lambda s, e: done.done() or done.set_result((s, e))
    )
    initiator.start(("::1", node.port, 0, 0))
    driver.flush()
    session, error = await asyncio.wait_for(done, 10)
    assert session is not None, error
    return session


class Commissioner:
    """Our stand-in for the SDK commissioner: a root CA and the commissioning steps."""

    def __init__(self):
        self.root_key = ec.generate_private_key(ec.SECP256R1())
        self.root_dn = ((RCAC_ID, 1), (FABRIC_ID, FABRIC))
        self.rcac = issue_certificate(
            subject=self.root_dn,
            public_key=self.root_key.public_key(),
            issuer=self.root_dn,
            issuer_key=self.root_key,
            is_ca=True,
            not_before=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
        )
        self.ipk_epoch = secrets.token_bytes(16)

    def noc_for(self, node_id, public_key):
        return issue_certificate(
            subject=((NODE_ID, node_id), (FABRIC_ID, FABRIC)),
            public_key=public_key,
            issuer=self.root_dn,
            issuer_key=self.root_key,
            is_ca=False,
            not_before=dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
        )

    def fabric_for(self, node_id):
        key = ec.generate_private_key(ec.SECP256R1())
        noc = self.noc_for(node_id, key.public_key()).to_tlv()
        return Fabric.create(
            1,
            rcac=self.rcac.to_tlv(),
            icac=None,
            noc=noc,
            ipk_epoch_key=self.ipk_epoch,
            vendor_id=0xFFF1,
            operational_key=key,
        )


async def started(config: NodeConfig, clock=time.monotonic) -> tuple[MatterNode, ExchangeDriver, InteractionClient]:
    """The node listening on ::1, and an IM client with its own UDP socket."""
    node = MatterNode(config, clock=clock)
    await node.start()
    driver = await ExchangeDriver.open(ExchangeManager(), port=0, host="::1")
    client = InteractionClient(driver.manager)
    client.driver = driver
    return node, driver, client


async def add_noc(client, pase, commissioner, failsafe_seconds: int, **extra) -> ImResult:
    """ArmFailSafe, CSRRequest, AddTrustedRootCertificate and AddNOC, as a commissioner sends them
    (``extra`` adds AddNOC fields by context tag, e.g. ``{1: b""}`` as ``icac_1=b""``)."""
    await call(client, "invoke", pase, [command(0x30, 0x00, tlv.Structure({0: UInt(failsafe_seconds), 1: UInt(1)}))])
    csr_result = await call(client, "invoke", pase, [command(0x3E, 0x04, tlv.Structure({0: bytes(32)}))])
    csr = x509.load_der_x509_csr(tlv.decode(csr_result.invoke.responses[0].fields[0])[1])
    await call(client, "invoke", pase, [command(0x3E, 0x0B, tlv.Structure({0: commissioner.rcac.to_tlv()}))])
    noc = commissioner.noc_for(NODE_ID_ON_FABRIC, csr.public_key())
    fields = tlv.Structure({0: noc.to_tlv(), 2: commissioner.ipk_epoch, 3: UInt(ADMIN_ID), 4: UInt(0xFFF1)})
    for name, value in extra.items():
        fields[int(name.rsplit("_", 1)[1])] = value
    return await call(client, "invoke", pase, [command(0x3E, 0x06, tlv.Structure(sorted(fields.items())))])


@pytest.fixture
def node_config(tmp_path):
    return NodeConfig(
        storage=tmp_path / "state",
        passcode=20202021,
        discriminator=3840,
        port=0,
        host="::1",
        allow_ota_from_fabric=False,
    )


def test_full_commissioning_then_access_control(node_config):
    async def scenario():
        node, driver, client = await started(node_config)
        commissioner = Commissioner()
        try:
            pase = await establish_pase(driver, ("::1", node.port, 0, 0), 20202021)
            info = await call(
                client,
                "read",
                pase,
                [
                    AttributePath(0, 0x28, 2),
                    AttributePath(0, 0x28, 4),
                    AttributePath(0, 0x30, 1),
                    AttributePath(None, 0x31, 0xFFFC),
                    AttributePath(0, 0x38, None),
                    AttributePath(0, 0x46, 6),
                ],
                fabric_filtered=False,
            )
            values = info.values()
            assert (values[(0, 0x28, 2)], values[(0, 0x28, 4)]) == (0xFFF1, 0x8000)
            assert values[(0, 0x31, 0xFFFC)] == 4
            assert info.statuses() == {(0, 0x46, 6): ImStatus.UNSUPPORTED_CLUSTER}
            armed = await call(client, "invoke", pase, [command(0x30, 0x00, tlv.Structure({0: UInt(60), 1: UInt(1)}))])
            assert armed.invoke.responses[0].fields[0] == 0
            # Attestation: DAC and PAI, then the signed elements over our nonce.
            chain = {}
            for kind in (1, 2):
                result = await call(client, "invoke", pase, [command(0x3E, 0x02, tlv.Structure({0: UInt(kind)}))])
                chain[kind] = result.invoke.responses[0].fields[0]
            nonce = secrets.token_bytes(32)
            attestation = await call(client, "invoke", pase, [command(0x3E, 0x00, tlv.Structure({0: nonce}))])
            elements, signature = attestation.invoke.responses[0].fields[0], attestation.invoke.responses[0].fields[1]
            dac = x509.load_der_x509_certificate(chain[1])
            ecdsa_verify_raw(dac.public_key(), elements + pase.keys.attestation_challenge, signature)
            assert tlv.decode(elements)[2] == nonce
            csr_nonce = secrets.token_bytes(32)
            csr_result = await call(client, "invoke", pase, [command(0x3E, 0x04, tlv.Structure({0: csr_nonce}))])
            nocsr = tlv.decode(csr_result.invoke.responses[0].fields[0])
            assert nocsr[2] == csr_nonce
            csr = x509.load_der_x509_csr(nocsr[1])
            assert csr.is_signature_valid
            root = await call(
                client, "invoke", pase, [command(0x3E, 0x0B, tlv.Structure({0: commissioner.rcac.to_tlv()}))]
            )
            assert root.invoke.responses[0].status.status == ImStatus.SUCCESS
            noc = commissioner.noc_for(NODE_ID_ON_FABRIC, csr.public_key())
            added = await call(
                client,
                "invoke",
                pase,
                [
                    command(
                        0x3E,
                        0x06,
                        tlv.Structure({0: noc.to_tlv(), 2: commissioner.ipk_epoch, 3: UInt(ADMIN_ID), 4: UInt(0xFFF1)}),
                    )
                ],
            )
            assert added.invoke.responses[0].fields[0] == 0
            fabric_index = added.invoke.responses[0].fields[1]
            # CASE as the admin, CommissioningComplete over it.
            admin = await case_session(driver, node, commissioner.fabric_for(ADMIN_ID), NODE_ID_ON_FABRIC)
            complete = await call(client, "invoke", admin, [command(0x30, 0x04)])
            assert complete.invoke.responses[0].fields[0] == 0
            assert node.windows.window is None and not node.admin.failsafe.armed
            acl = await call(client, "read", admin, [AttributePath(0, 0x1F, 0)])
            (entry,) = acl.values()[(0, 0x1F, 0)]
            assert (entry[1], entry[2], list(entry[3]), entry[0xFE]) == (5, 2, [ADMIN_ID], fabric_index)
            # Another node of the fabric, without an entry, is refused...
            other = await case_session(driver, node, commissioner.fabric_for(OTHER_ID), NODE_ID_ON_FABRIC)
            denied = await call(client, "read", other, [AttributePath(0, 0x1F, 0), AttributePath(0, 0x28, 2)])
            assert denied.statuses() == {
                (0, 0x1F, 0): ImStatus.UNSUPPORTED_ACCESS,
                (0, 0x28, 2): ImStatus.UNSUPPORTED_ACCESS,
            }
            # ...until the admin keeps its own entry and adds an Operate entry for the OTA provider cluster.
            ota_entry = tlv.Structure(
                {1: UInt(3), 2: UInt(2), 3: None, 4: tlv.Array([tlv.Structure({0: UInt(0x29), 1: None, 2: None})])}
            )
            write = await call(
                client, "write", admin, [AttributeData(AttributePath(0, 0x1F, 0), tlv.Array([entry, ota_entry]))]
            )
            assert [s.status.status for s in write.write_statuses] == [ImStatus.SUCCESS]
            ota = await call(client, "invoke", other, [command(0x29, 0x00)])
            assert ota.invoke.responses[0].status.status == ImStatus.UNSUPPORTED_COMMAND  # allowed; serves no images
            still_denied = await call(client, "read", other, [AttributePath(0, 0x1F, 0)])
            assert still_denied.statuses() == {(0, 0x1F, 0): ImStatus.UNSUPPORTED_ACCESS}
            return fabric_index
        finally:
            driver.close()
            node.stop()

    fabric_index = asyncio.run(scenario())
    # Everything survives a restart: fabric, ACL.
    again = MatterNode(node_config)
    assert [f.fabric_index for f in again.fabrics] == [fabric_index]
    assert len(again.admin.acl.for_fabric(fabric_index)) == 2
    again.stop()


def test_fail_safe_expiry_rolls_back_an_uncommitted_fabric(node_config):
    async def scenario():
        clock = JumpingClock()
        node, driver, client = await started(node_config, clock)
        commissioner = Commissioner()
        try:
            pase = await establish_pase(driver, ("::1", node.port, 0, 0), 20202021)
            added = await add_noc(client, pase, commissioner, failsafe_seconds=1)
            assert added.invoke.responses[0].fields[0] == 0
            assert len(node.fabrics) == 1
            clock.jump(0.9, node)
            assert len(node.fabrics) == 1  # not yet
            clock.jump(0.2, node)  # the 1-second fail-safe expires
            assert len(node.fabrics) == 0 and node.admin.acl.entries == []
            assert node.db.get_setting("commissioning/breadcrumb") == bytes(8)
        finally:
            driver.close()
            node.stop()

    asyncio.run(scenario())


def test_commissioning_steps_need_the_fail_safe(node_config):
    async def scenario():
        node, driver, client = await started(node_config)
        try:
            pase = await establish_pase(driver, ("::1", node.port, 0, 0), 20202021)
            commands = [
                command(0x3E, 0x04, tlv.Structure({0: bytes(32)}), ref=1),
                command(0x3E, 0x0B, tlv.Structure({0: b"x"}), ref=2),
            ]
            result = await call(client, "invoke", pase, commands)
            assert [r.status.status for r in result.invoke.responses] == [ImStatus.FAILSAFE_REQUIRED] * 2
        finally:
            driver.close()
            node.stop()

    asyncio.run(scenario())


def test_allow_ota_from_fabric_adds_an_operate_entry(node_config):
    async def scenario():
        node, driver, client = await started(dataclasses.replace(node_config, allow_ota_from_fabric=True))
        commissioner = Commissioner()
        try:
            pase = await establish_pase(driver, ("::1", node.port, 0, 0), 20202021)
            added = await add_noc(client, pase, commissioner, failsafe_seconds=60)
            index = added.invoke.responses[0].fields[1]
            entries = node.admin.acl.for_fabric(index)
            assert [(e.privilege.name, [t.cluster for t in e.targets]) for e in entries] == [
                ("ADMINISTER", []),
                ("OPERATE", [0x29]),
            ]
            # Any node of the fabric may now invoke on the OTA Provider cluster (and nothing else).
            other = await case_session(driver, node, commissioner.fabric_for(OTHER_ID), NODE_ID_ON_FABRIC)
            ota = await call(client, "invoke", other, [command(0x29, 0x00, ref=1), command(0x33, 0x01, ref=2)])
            codes = [r.status.status for r in ota.invoke.responses]
            assert codes == [ImStatus.UNSUPPORTED_COMMAND, ImStatus.UNSUPPORTED_ACCESS]
        finally:
            driver.close()
            node.stop()

    asyncio.run(scenario())


def test_an_empty_icac_is_no_icac_and_the_new_fabric_may_re_arm(node_config):
    """matter.js's commissioner (ControllerCommissioningFlow.ts) sends AddNOC with ICACValue = an
    empty octet string when it has no ICAC (context tag 1, length 0: 30 01 00), then re-arms the
    fail-safe over CASE on the new fabric before CommissioningComplete."""

    async def scenario():
        node, driver, client = await started(node_config)
        commissioner = Commissioner()
        try:
            pase = await establish_pase(driver, ("::1", node.port, 0, 0), 20202021)
            added = await add_noc(client, pase, commissioner, failsafe_seconds=60, icac_1=b"")
            assert added.invoke.responses[0].fields[0] == 0, added.invoke.responses[0]
            index = added.invoke.responses[0].fields[1]
            assert node.fabrics.get(index).icac is None  # stored as absent, never echoed empty
            nocs = await call(client, "read", pase, [AttributePath(0, 0x3E, 0)])
            (entry,) = nocs.values()[(0, 0x3E, 0)]
            assert entry[2] is None
            # SetRegulatoryConfig (Outdoor, "DE"): BasicInformation's Location reads the country code back.
            regulatory = command(0x30, 0x02, tlv.Structure({0: UInt(1), 1: "DE", 2: UInt(3)}))
            assert (await call(client, "invoke", pase, [regulatory])).invoke.responses[0].fields[0] == 0
            location = await call(client, "read", pase, [AttributePath(0, 0x28, 6), AttributePath(0, 0x30, 2)])
            assert (location.values()[(0, 0x28, 6)], location.values()[(0, 0x30, 2)]) == ("DE", 1)
            # Re-arm over PASE (now on the new fabric) and over CASE as the new fabric's admin.
            rearm = command(0x30, 0x00, tlv.Structure({0: UInt(60), 1: UInt(2)}))
            again = await call(client, "invoke", pase, [rearm])
            assert again.invoke.responses[0].fields[0] == 0
            admin = await case_session(driver, node, commissioner.fabric_for(ADMIN_ID), NODE_ID_ON_FABRIC)
            over_case = await call(client, "invoke", admin, [rearm])
            assert over_case.invoke.responses[0].fields[0] == 0  # not BusyWithOtherAdmin (4)
            complete = await call(client, "invoke", admin, [command(0x30, 0x04)])
            assert complete.invoke.responses[0].fields[0] == 0
            assert not node.admin.failsafe.armed and [f.fabric_index for f in node.fabrics] == [index]
        finally:
            driver.close()
            node.stop()

    asyncio.run(scenario())


def test_other_fabrics_entries_are_read_without_their_fabric_sensitive_fields(node_config):
    """A read that is not fabric-filtered shows another fabric's ACL entries and NOCs with only
    their FabricIndex (the SDK's EncodeForRead; matter.js omits fabricSensitive fields the same
    way); the Fabrics list has no fabric-sensitive field and stays whole."""

    async def scenario():
        node = MatterNode(node_config)
        demo = DemoFabric.generate()
        node.admin.join_demo_fabric(demo)  # fabric 1, with its own ACL entries
        node.windows.open_commissioning_window()
        await node.start()
        driver = await ExchangeDriver.open(ExchangeManager(), port=0, host="::1")
        client = InteractionClient(driver.manager)
        client.driver = driver
        commissioner = Commissioner()
        try:
            pase = await establish_pase(driver, ("::1", node.port, 0, 0), 20202021)
            added = await add_noc(client, pase, commissioner, failsafe_seconds=60)
            index = added.invoke.responses[0].fields[1]
            admin = await case_session(driver, node, commissioner.fabric_for(ADMIN_ID), NODE_ID_ON_FABRIC)
            await call(client, "invoke", admin, [command(0x30, 0x04)])
            paths = [AttributePath(0, 0x1F, 0), AttributePath(0, 0x3E, 0), AttributePath(0, 0x3E, 1)]
            result = await call(client, "read", admin, paths, fabric_filtered=False)
            values = result.values()
            acl, nocs, fabrics = values[(0, 0x1F, 0)], values[(0, 0x3E, 0)], values[(0, 0x3E, 1)]
            others = [e for e in acl if e[0xFE] != index]
            assert others and all(dict(e) == {0xFE: 1} for e in others)
            (own,) = [e for e in acl if e[0xFE] == index]
            assert (own[1], own[2], list(own[3])) == (5, 2, [ADMIN_ID])
            assert [dict(n) for n in nocs if n[0xFE] != index] == [{0xFE: 1}]
            (own_noc,) = [n for n in nocs if n[0xFE] == index]
            assert own_noc[1] == node.fabrics.get(index).noc
            demo_descriptor = next(f for f in fabrics if f[0xFE] == 1)
            assert (demo_descriptor[3], demo_descriptor[4]) == (demo.fabric_id, demo.provider_node_id)
        finally:
            driver.close()
            node.stop()

    asyncio.run(scenario())


def _crash(node: MatterNode, driver) -> None:
    """As kill -9: nothing is flushed, rolled back or said; only the process's files close."""
    driver.close()
    if node.driver is not None:
        node.driver.close()
    node.db.close()
    node.state_lock.release()


def test_a_crash_after_addnoc_is_rolled_back_at_the_next_start(node_config):
    async def scenario():
        node, driver, client = await started(node_config)
        pase = await establish_pase(driver, ("::1", node.port, 0, 0), 20202021)
        added = await add_noc(client, pase, Commissioner(), failsafe_seconds=60)
        assert added.invoke.responses[0].fields[0] == 0 and len(node.fabrics) == 1
        _crash(node, driver)

    asyncio.run(scenario())
    again = MatterNode(node_config)
    try:
        assert len(again.fabrics) == 0 and again.admin.acl.entries == []
        assert again.rolled_back_at_start == (1, "added")
        assert again.db.get_setting("failsafe/provisional") is None
    finally:
        again.stop()
    third = MatterNode(node_config)
    assert third.rolled_back_at_start is None  # a second start has nothing to undo
    third.stop()


def test_a_committed_fabric_survives_a_crash_and_an_uncommitted_one_never_lacks_its_acl(node_config, monkeypatch):
    """AddNOC writes the fabric, its ACL and the fail-safe's record in one transaction: a failure
    between the fabric and the ACL leaves neither (it once left a fabric nobody could administer)."""
    from ota_provider.core.fabric.acl_store import AclStore  # noqa: PLC0415

    def failing(self, fabric_index, entries):
        raise OSError("disk gone between the fabric and its ACL")

    async def scenario():
        node, driver, client = await started(node_config)
        pase = await establish_pase(driver, ("::1", node.port, 0, 0), 20202021)
        with monkeypatch.context() as patch:
            patch.setattr(AclStore, "replace_fabric", failing)
            added = await add_noc(client, pase, Commissioner(), failsafe_seconds=60)
        assert added.invoke.responses[0].status.status == ImStatus.FAILURE  # answered, not left to time out
        assert len(node.fabrics) == 0
        _crash(node, driver)

    asyncio.run(scenario())
    again = MatterNode(node_config)
    try:
        rows = again.db.query("SELECT fabric_index FROM fabrics")
        assert rows == [] and len(again.fabrics) == 0
    finally:
        again.stop()
