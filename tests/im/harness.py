"""A node data model and a client session on the in-memory network, for IM tests."""

from __future__ import annotations

import random

from ota_provider.core.codec import tlv
from ota_provider.core.codec.im_status import ImStatus
from ota_provider.core.codec.protocols import ProtocolId
from ota_provider.core.codec.tlv import UInt
from ota_provider.core.exchange.manager import ExchangeManager
from ota_provider.core.fabric.acl import AccessControl, Privilege
from ota_provider.core.im.client import InteractionClient
from ota_provider.core.im.model import AttributeSpec, Cluster, CommandSpec, DataModel, Endpoint, ImError, NoResponse
from ota_provider.core.im.server import InteractionServer
from ota_provider.core.session.secure import AuthMode, SecureSession, SessionKeys
from tests.exchange.simnet import SimNet

NODE, CLIENT = ("node", 1), ("client", 2)
KEYS = SessionKeys(bytes(range(16)), bytes(range(16, 32)), bytes(16))
TEST_CLUSTER = 0xFFF1FC01


class TestCluster(Cluster):
    id = TEST_CLUSTER
    revision = 3
    feature_map = 0x5

    def __init__(self) -> None:
        super().__init__()
        self.number = 7
        self.items = [f"item {i:03d}" for i in range(120)]  # too big for one report
        self.scoped = [(1, "fabric one"), (2, "fabric two")]
        self.invocations = 0
        self.constant(0x0000, UInt(42))
        self.attribute(AttributeSpec(0x0001, lambda _c: UInt(self.number), self._write_number))
        self.attribute(AttributeSpec(0x0002, lambda _c: tlv.Array(self.items), self._write_items, is_list=True))
        self.attribute(AttributeSpec(0x0003, lambda _c: UInt(1), read_privilege=Privilege.ADMINISTER))
        self.attribute(
            AttributeSpec(
                0x0004,
                lambda _c: tlv.Array(tlv.Structure({1: v, 0xFE: UInt(f)}) for f, v in self.scoped),
                fabric_scoped=True,
            )
        )
        self.attribute(AttributeSpec(0x0005, lambda _c: UInt(1), lambda _c, v: None, timed_write=True))
        self.command(CommandSpec(0x00, self._add, response_id=0x01))
        self.command(CommandSpec(0x02, self._fail))
        self.command(CommandSpec(0x03, lambda _c, _f: None, timed=True))
        self.command(CommandSpec(0x04, self._silent))
        self.command(CommandSpec(0x05, lambda _c, _f: None, privilege=Privilege.ADMINISTER))
        self.event(0x01)  # a View event
        self.event(0x02, Privilege.ADMINISTER)

    def _write_number(self, _ctx, value) -> None:
        if not isinstance(value, UInt) or value > 100:
            raise ImError(ImStatus.CONSTRAINT_ERROR)
        self.number = int(value)

    def _write_items(self, _ctx, op) -> None:
        value, appending = op
        if appending:
            self.items.append(value)
        else:
            self.items = list(value)

    def _add(self, _ctx, fields):
        self.invocations += 1
        if not isinstance(fields, tlv.Structure) or not isinstance(fields.get(0), UInt):
            raise ImError(ImStatus.INVALID_COMMAND)
        return 0x01, tlv.Structure({0: UInt(fields[0] + 1)})

    def _fail(self, _ctx, _fields):
        raise ImError(ImStatus.FAILURE, cluster_status=9)

    def _silent(self, _ctx, _fields):
        raise NoResponse


def build(
    auth_mode: AuthMode = AuthMode.PASE, fabric_index: int = 1, peer_node_id: int = 0x1B669, acl=None, events=None
):
    net = SimNet(seed=2)
    node = net.add(NODE, ExchangeManager(rng=random.Random(1)))
    client_manager = net.add(CLIENT, ExchangeManager(rng=random.Random(2)))
    model = DataModel()
    cluster = TestCluster()
    model.add(Endpoint(0, [(0x0016, 1)], {cluster.id: cluster}))
    model.add(Endpoint(1, [(0x0014, 1)], {}))
    server = InteractionServer(model, acl or AccessControl(), clock=net.clock, manager=node, events=events)
    node.register(ProtocolId.INTERACTION_MODEL, server)
    net.watch(server.subscriptions)
    case = auth_mode == AuthMode.CASE
    node_session = SecureSession(
        10,
        20,
        KEYS,
        False,
        auth_mode,
        local_node_id=0x64 if case else 0,
        peer_node_id=peer_node_id if case else 0,
        fabric_index=fabric_index,
        peer_address=CLIENT,
    )
    client_session = SecureSession(
        20,
        10,
        KEYS,
        True,
        auth_mode,
        local_node_id=node_session.peer_node_id,
        peer_node_id=node_session.local_node_id,
        fabric_index=fabric_index,
        peer_address=NODE,
    )
    node.sessions.add(node_session)
    client_manager.sessions.add(client_session)
    client = InteractionClient(client_manager)
    client_manager.register(ProtocolId.INTERACTION_MODEL, client)
    return net, client, client_session, cluster, server
