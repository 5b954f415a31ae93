"""CASE between our initiator and responder over the sans-IO exchange layer."""

from __future__ import annotations

import dataclasses
import heapq

import pytest

from ota_provider.core.codec.protocols import ProtocolId
from ota_provider.core.exchange.echo import ECHO_PROTOCOL, ECHO_REQUEST, EchoServer
from ota_provider.core.exchange.manager import ExchangeManager
from ota_provider.core.fabric.authority import FabricAuthority
from ota_provider.core.securechannel.case_initiator import CaseInitiator
from ota_provider.core.securechannel.case_responder import CaseResponder
from ota_provider.core.securechannel.server import SecureChannelServer
from ota_provider.core.session.secure import AuthMode
from tests.exchange.simnet import SimNet
from tests.helpers.mrp import Collector

NODE, CLIENT = ("node", 5540), ("client", 5541)
NODE_ID, CLIENT_ID = 0x0000_0000_0000_0064, 0x0000_0000_0001_B669


@pytest.fixture(scope="module")
def authority():
    return FabricAuthority(fabric_id=0xFAB000000000001D)


def setup(node_fabrics, loss=0.0, seed=1):
    net = SimNet(loss=loss, seed=seed)
    node = net.add(NODE, ExchangeManager())
    client = net.add(CLIENT, ExchangeManager())
    established = []
    responder = CaseResponder(node, lambda: node_fabrics, on_established=established.append)
    node.register(ProtocolId.SECURE_CHANNEL, SecureChannelServer(case=responder))
    return net, node, client, responder, established


def test_case_establishes_sessions_with_identities(authority):
    node_fabric = authority.join(NODE_ID, fabric_index=3)
    client_fabric = authority.join(CLIENT_ID, cats=(0x00010001,))
    net, node, client, _, established = setup([node_fabric])
    initiator = CaseInitiator(client, client_fabric, NODE_ID)
    initiator.start(NODE)
    net.run()
    assert initiator.error is None
    (node_side,) = established
    ours = initiator.result
    assert ours.keys == node_side.keys
    assert node_side.auth_mode == AuthMode.CASE and node_side.fabric_index == 3
    assert (node_side.peer_node_id, node_side.local_node_id) == (CLIENT_ID, NODE_ID)
    assert node_side.peer_cats == (0x00010001,)
    assert (ours.peer_node_id, ours.local_node_id) == (NODE_ID, CLIENT_ID)
    # Secured traffic both ways: the nonces carry each sender's operational node id.
    node.register(ECHO_PROTOCOL, EchoServer())
    client.register(ECHO_PROTOCOL, EchoServer())
    to_node, to_client = Collector(), Collector()
    client.new_exchange(ours, ECHO_PROTOCOL, to_node).send(ECHO_REQUEST, b"hello node")
    node.new_exchange(node_side, ECHO_PROTOCOL, to_client).send(ECHO_REQUEST, b"hello client")
    net.run()
    assert (to_node.messages, to_client.messages) == ([b"hello node"], [b"hello client"])


def test_unknown_fabric_gets_no_shared_trust_roots(authority):
    other = FabricAuthority(fabric_id=7)
    net, _, client, responder, established = setup([authority.join(NODE_ID)])
    initiator = CaseInitiator(client, other.join(CLIENT_ID), NODE_ID)
    initiator.start(NODE)
    net.run()
    assert "NO_SHARED_TRUST_ROOTS" in initiator.error
    assert established == [] and responder.failures == 1


def test_wrong_destination_node_id_is_refused(authority):
    net, _, client, _, established = setup([authority.join(NODE_ID)])
    initiator = CaseInitiator(client, authority.join(CLIENT_ID), NODE_ID + 1)
    initiator.start(NODE)
    net.run()
    assert initiator.result is None and established == []


def test_initiator_certificate_from_another_root_is_rejected(authority):
    # Same fabric id and IPK as the node's fabric, but a NOC signed by a different root.
    impostor_ca = FabricAuthority(fabric_id=authority.fabric_id, ipk_epoch_key=authority.ipk_epoch_key)
    impostor = impostor_ca.join(CLIENT_ID)
    forged = type(impostor)(
        **{**impostor.__dict__, "rcac": authority.rcac.to_tlv(), "root_public_key": authority.rcac.public_key}
    )
    net, _, client, responder, established = setup([authority.join(NODE_ID)])
    initiator = CaseInitiator(client, forged, NODE_ID)
    initiator.start(NODE)
    net.run()
    assert initiator.result is None
    assert established == [] and responder.failures == 1


@pytest.mark.parametrize("seed", range(4))
def test_case_survives_loss(authority, seed):
    net, _, client, _, established = setup([authority.join(NODE_ID)], loss=0.2, seed=seed)
    initiator = CaseInitiator(client, authority.join(CLIENT_ID), NODE_ID)
    initiator.start(NODE)
    net.run(until=120)
    if initiator.result is not None:
        assert established and established[0].keys == initiator.result.keys
    else:
        assert initiator.error


def test_resumption_after_a_full_exchange(authority):
    node_fabric = authority.join(NODE_ID)
    client_fabric = authority.join(CLIENT_ID, cats=(0x00020003,))
    net, _node, client, responder, established = setup([node_fabric])
    first = CaseInitiator(client, client_fabric, NODE_ID)
    first.start(NODE)
    net.run()
    assert first.result is not None and first.resumption is not None
    second = CaseInitiator(client, client_fabric, NODE_ID, resume=first.resumption)
    second.start(NODE)
    net.run()
    assert second.error is None and second.resumed
    assert responder.resumed == 1
    resumed = established[-1]
    assert resumed.keys == second.result.keys
    assert (resumed.peer_node_id, resumed.peer_cats) == (CLIENT_ID, (0x00020003,))
    assert resumed.keys != established[0].keys
    # The old resumption id is spent: offering it again falls back to a full exchange.
    third = CaseInitiator(client, client_fabric, NODE_ID, resume=first.resumption)
    third.start(NODE)
    net.run()
    assert third.error is None and not third.resumed and responder.resumed == 1
    # Only the newest record per peer is kept: the third exchange's id resumes.
    fourth = CaseInitiator(client, client_fabric, NODE_ID, resume=third.resumption)
    fourth.start(NODE)
    net.run()
    assert fourth.resumed and responder.resumed == 2


def test_resumption_with_a_forged_mic_falls_back_to_full_case(authority):
    node_fabric, client_fabric = authority.join(NODE_ID), authority.join(CLIENT_ID)
    net, _node, client, responder, _ = setup([node_fabric])
    first = CaseInitiator(client, client_fabric, NODE_ID)
    first.start(NODE)
    net.run()
    forged = dataclasses.replace(first.resumption, shared_secret=bytes(32))
    second = CaseInitiator(client, client_fabric, NODE_ID, resume=forged)
    second.start(NODE)
    net.run()
    assert second.result is not None and not second.resumed
    assert responder.resumed == 0


def test_a_deferred_responder_acknowledges_sigma1_and_sigma3_before_working_on_them(authority):
    # The node defers the public-key work so a burst of handshakes cannot hold up the acks: the
    # initiator's Sigma1 and Sigma3 are acknowledged at once (a standalone ack), their answers follow.
    node_fabric = authority.join(NODE_ID, fabric_index=1)
    client_fabric = authority.join(CLIENT_ID)
    net = SimNet()
    node = net.add(NODE, ExchangeManager())
    client = net.add(CLIENT, ExchangeManager())
    established, work = [], []
    responder = CaseResponder(
        node,
        lambda: [node_fabric],
        on_established=established.append,
        defer=lambda _source, piece, **_: work.append(piece) or True,
    )
    node.register(ProtocolId.SECURE_CHANNEL, SecureChannelServer(case=responder))
    initiator = CaseInitiator(client, client_fabric, NODE_ID)
    initiator.start(NODE)
    for _step in range(2):  # Sigma1, then Sigma3
        while net.deliver_all():
            pass
        assert len(work) == 1 and client.exchanges[0].retransmit is None  # acknowledged, not yet answered
        work.pop()()
    net.run()
    assert initiator.error is None and len(established) == 1


def test_a_rejected_sigma3_that_did_not_acknowledge_sigma2_is_answered_not_raised(authority):
    """A peer's Sigma3 shows that our Sigma2 arrived even when it carries no ack: the refusal
    supersedes Sigma2 (it once raised ExchangeError out of the node's poll, and no StatusReport went)."""
    from ota_provider.core.codec.protocols import SecureChannelOpcode  # noqa: PLC0415
    from ota_provider.core.codec.status_report import StatusReport  # noqa: PLC0415

    node_fabric = authority.join(NODE_ID, fabric_index=1)
    net = SimNet()
    node = net.add(NODE, ExchangeManager())
    client = net.add(CLIENT, ExchangeManager())
    work = []
    responder = CaseResponder(node, lambda: [node_fabric], defer=lambda _source, piece, **_: work.append(piece) or True)
    node.register(ProtocolId.SECURE_CHANNEL, SecureChannelServer(case=responder))

    class Replies:
        def __init__(self) -> None:
            self.messages: list = []

        def on_message(self, exchange, message):
            self.messages.append(message)

        def on_closed(self, exchange, reason):
            pass

    replies = Replies()
    initiator = CaseInitiator(client, authority.join(CLIENT_ID), NODE_ID)
    exchange = initiator.start(NODE)
    while net.deliver_all():
        pass
    work.pop()()  # Sigma1 answered with Sigma2
    exchange.delegate = replies  # the initiator's answer is ours to write
    while net.deliver_all():
        pass
    exchange.pending_ack = None  # no ack for Sigma2 on the Sigma3
    exchange.send(SecureChannelOpcode.CASE_SIGMA3, b"\x15\x18")
    while net.deliver_all():
        pass
    work.pop()()  # must not raise
    while net.deliver_all():
        pass
    (report,) = [m for m in replies.messages if m.opcode == SecureChannelOpcode.STATUS_REPORT]
    assert StatusReport.decode(report.payload).protocol_code != 0 and responder.failures == 1


def test_a_starved_initiators_late_sigma3_still_finds_its_handshake(authority):
    """A requestor process starved of CPU (200 opening CASE from four processes on two cores) sends its
    Sigma3 after our Sigma2's retransmissions have run out. The handshake waits for its step
    deadline, not for MRP: the late Sigma3 completes it (it was answered INVALID_PARAMETER as an
    unsolicited message, and CASE failed)."""
    net = SimNet(latency=0.01)
    node = net.add(NODE, ExchangeManager())
    client = net.add(CLIENT, ExchangeManager())
    established: list = []
    responder = CaseResponder(
        node, lambda: [authority.join(NODE_ID, fabric_index=1)], on_established=established.append
    )
    node.register(ProtocolId.SECURE_CHANNEL, SecureChannelServer(case=responder))
    initiator = CaseInitiator(client, authority.join(CLIENT_ID), NODE_ID)
    initiator.start(NODE)
    held: list = []
    while not held:  # until the client's Sigma3 is on its way: it is held back
        step_end = net.now + 0.002
        net.run(until=step_end)
        net.now = max(net.now, step_end)
        if initiator._step.name == "STATUS":  # Sigma3 sent, the StatusReport awaited
            held = [entry for entry in net.in_flight if entry[3] == CLIENT and entry[2] == NODE]
        assert net.now < 5
    net.in_flight = [entry for entry in net.in_flight if entry not in held]
    heapq.heapify(net.in_flight)
    net.remove(CLIENT)  # starved: it neither receives nor sends
    net.run(until=net.now + 30)  # Sigma2 is retransmitted into the void, and MRP gives up
    assert node.retransmissions >= 4
    net.add(CLIENT, client)
    for _arrival, _n, _to, source, data in held:
        node.receive(data, source, net.now)
    net.run(until=net.now + 10)
    assert initiator.error is None and initiator.result is not None and len(established) == 1
    assert responder.failures == 0


def test_the_responder_advertises_an_active_interval_fit_for_the_initiators_link(authority):
    """A requestor whose round trips we measured (we commissioned it) is told to retransmit sooner
    than the configured 300 ms; one we know nothing of gets the configured parameters."""
    node_fabric = authority.join(NODE_ID)
    client_fabric = authority.join(CLIENT_ID)
    net, node, client, _, established = setup([node_fabric])
    for i in range(5):
        node.links.sample(CLIENT, 0.004, now=float(i))
    initiator = CaseInitiator(client, client_fabric, NODE_ID)
    initiator.start(NODE)
    net.run()
    (node_side,) = established
    assert initiator.result.peer_parameters.active_interval_ms == 100  # what Sigma2 carried
    assert node_side.local_parameters.active_interval_ms == 100  # and what our acks keep to
    assert node_side.peer_parameters.active_interval_ms == 300  # the initiator knew nothing of us

    net, node, client, _, established = setup([node_fabric])
    initiator = CaseInitiator(client, client_fabric, NODE_ID)
    initiator.start(NODE)
    net.run()
    assert initiator.result.peer_parameters.active_interval_ms == 300
