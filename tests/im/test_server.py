"""The IM server on the in-memory network: paths, statuses, chunking, invokes, writes, timed, ACL."""

from __future__ import annotations

import pytest

from ota_provider.core.codec import tlv
from ota_provider.core.codec.im_status import ImStatus
from ota_provider.core.codec.protocols import ImOpcode, ProtocolId
from ota_provider.core.codec.tlv import UInt
from ota_provider.core.fabric.acl import AccessControl, AccessControlEntry, AccessControlTarget, Privilege
from ota_provider.core.im.messages import AttributeData, AttributePath, CommandData, CommandPath, CommandStatus
from ota_provider.core.session.secure import AuthMode
from tests.im.harness import TEST_CLUSTER, build

C = TEST_CLUSTER


def run_read(paths, **kwargs):
    net, client, session, cluster, _server = build(**kwargs)
    result = client.read(session, paths)
    net.run()
    assert result.done and result.error is None, result.error
    return result, cluster


def test_concrete_reads_and_per_path_errors():
    result, _ = run_read(
        [
            AttributePath(0, C, 0x0000),
            AttributePath(0, C, 0x0001),
            AttributePath(9, C, 0x0000),
            AttributePath(0, 0x1234, 0x0000),
            AttributePath(0, C, 0x0099),
        ]
    )
    assert result.values()[(0, C, 0)] == 42 and result.values()[(0, C, 1)] == 7
    assert result.statuses() == {
        (9, C, 0): ImStatus.UNSUPPORTED_ENDPOINT,
        (0, 0x1234, 0): ImStatus.UNSUPPORTED_CLUSTER,
        (0, C, 0x99): ImStatus.UNSUPPORTED_ATTRIBUTE,
    }


def test_global_attributes_agree_with_declarations():
    result, _cluster = run_read([AttributePath(0, C, a) for a in (0xFFFD, 0xFFFC, 0xFFFB, 0xFFF9, 0xFFF8)])
    values = result.values()
    assert values[(0, C, 0xFFFD)] == 3 and values[(0, C, 0xFFFC)] == 5
    assert list(values[(0, C, 0xFFF9)]) == [0, 2, 3, 4, 5]
    assert list(values[(0, C, 0xFFF8)]) == [1]
    assert list(values[(0, C, 0xFFFB)]) == [0, 1, 2, 3, 4, 5, 0xFFF8, 0xFFF9, 0xFFFB, 0xFFFC, 0xFFFD]


def test_wildcards_expand_to_existing_items_only_and_big_lists_are_chunked():
    result, cluster = run_read([AttributePath(None, C, None), AttributePath(None, 0x0038, None)])
    values = result.values()
    assert list(values[(0, C, 2)]) == cluster.items  # 120 items: re-assembled from list chunks
    assert result.statuses() == {}  # the absent cluster 0x38 yields nothing, not an error
    assert len(result.reports) > 120


def test_fabric_filtered_reads_show_only_the_accessing_fabric():
    result, _ = run_read([AttributePath(0, C, 4)], fabric_index=2)
    assert [s[1] for s in result.values()[(0, C, 4)]] == ["fabric two"]


def test_data_version_filter_suppresses_unchanged_clusters():
    net, client, session, cluster, _ = build()
    request = tlv.Structure(
        {
            0: tlv.Array([AttributePath(0, C, 0).to_tlv()]),
            4: tlv.Array(
                [tlv.Structure({0: tlv.TLVList([(1, UInt(0)), (2, UInt(C))]), 1: UInt(cluster.data_version)})]
            ),
        }
    )
    result = client._start(session, 0x02, tlv.encode(request), None, None)
    net.run()
    assert result.done and result.reports == []


def invoke(net, client, session, commands, **kwargs):
    result = client.invoke(session, commands, **kwargs)
    net.run()
    assert result.done, result.error
    return result


def test_invoke_returns_data_or_status_for_every_path():
    net, client, session, _cluster, _ = build()
    result = invoke(
        net,
        client,
        session,
        [
            CommandData(CommandPath(0, C, 0), tlv.Structure({0: UInt(41)}), ref=1),
            CommandData(CommandPath(0, C, 2), tlv.Structure(), ref=2),
            CommandData(CommandPath(0, C, 9), tlv.Structure(), ref=3),
            CommandData(CommandPath(5, C, 0), tlv.Structure(), ref=4),
        ],
    )
    responses = {r.ref: r for r in result.invoke.responses}
    bad_fields = invoke(net, client, session, [CommandData(CommandPath(0, C, 0), tlv.Structure({0: "no"}), ref=5)])
    responses[5] = bad_fields.invoke.responses[0]
    assert responses[1].fields[0] == 42 and responses[1].path.command == 1
    assert (responses[2].status.status, responses[2].status.cluster_status) == (ImStatus.FAILURE, 9)
    assert responses[3].status.status == ImStatus.UNSUPPORTED_COMMAND
    assert responses[4].status.status == ImStatus.UNSUPPORTED_ENDPOINT
    assert responses[5].status.status == ImStatus.INVALID_COMMAND


def test_timed_invoke_rules():
    net, client, session, _, _ = build()
    untimed = invoke(net, client, session, [CommandData(CommandPath(0, C, 3), tlv.Structure())])
    assert untimed.invoke.responses[0].status.status == ImStatus.NEEDS_TIMED_INTERACTION
    timed = invoke(net, client, session, [CommandData(CommandPath(0, C, 3), tlv.Structure())], timed_ms=500)
    assert timed.invoke.responses[0].status.status == ImStatus.SUCCESS


def test_deliberately_silent_command_sends_only_an_ack():
    net, client, session, _, _ = build()
    result = client.invoke(session, [CommandData(CommandPath(0, C, 4), tlv.Structure())])
    net.run(until=10)
    assert result.invoke is None and result.status is None  # nothing but the MRP ack came back


def test_writes_list_operations_and_constraints():
    net, client, session, cluster, _ = build()
    result = client.write(
        session,
        [
            AttributeData(AttributePath(0, C, 1), UInt(55)),
            AttributeData(AttributePath(0, C, 1), UInt(500)),
            AttributeData(AttributePath(0, C, 2), tlv.Array(["a"])),
            AttributeData(AttributePath(0, C, 2, list_index_present=True), "b"),
            AttributeData(AttributePath(0, C, 0), UInt(1)),
            AttributeData(AttributePath(0, C, 5), UInt(1)),
        ],
    )
    net.run()
    codes = [s.status.status for s in result.write_statuses]
    assert codes == [
        ImStatus.SUCCESS,
        ImStatus.CONSTRAINT_ERROR,
        ImStatus.SUCCESS,
        ImStatus.SUCCESS,
        ImStatus.UNSUPPORTED_WRITE,
        ImStatus.NEEDS_TIMED_INTERACTION,
    ]
    assert cluster.number == 55 and cluster.items == ["a", "b"]


def test_acl_enforced_for_case_subjects():
    acl = AccessControl(
        [
            AccessControlEntry(
                1, Privilege.OPERATE, AuthMode.CASE, subjects=(0x1B669,), targets=(AccessControlTarget(cluster=C),)
            ),
        ]
    )
    net, client, session, _cluster, _ = build(auth_mode=AuthMode.CASE, acl=acl)
    read = client.read(session, [AttributePath(0, C, 0), AttributePath(0, C, 3), AttributePath(None, C, None)])
    net.run()
    assert read.statuses() == {(0, C, 3): ImStatus.UNSUPPORTED_ACCESS}  # the wildcard silently skips it
    assert (0, C, 3) not in read.values() and read.values()[(0, C, 0)] == 42
    result = invoke(
        net,
        client,
        session,
        [
            CommandData(CommandPath(0, C, 5), tlv.Structure(), ref=8),
            CommandData(CommandPath(0, C, 0), tlv.Structure({0: UInt(1)}), ref=9),
        ],
    )
    assert isinstance(result.invoke.responses[0], CommandStatus)
    assert result.invoke.responses[0].status.status == ImStatus.UNSUPPORTED_ACCESS
    assert result.invoke.responses[1].fields[0] == 2
    # Another node on the same fabric, with no entry, gets nothing.
    net, client, session, _, _ = build(auth_mode=AuthMode.CASE, acl=acl, peer_node_id=0x999)
    read = client.read(session, [AttributePath(0, C, 0)])
    net.run()
    assert read.statuses() == {(0, C, 0): ImStatus.UNSUPPORTED_ACCESS}


@pytest.mark.parametrize("payload", [b"", b"\x15\x18\x18", b"\x16\x18", b"\x15\x36\x00\x04\x01\x18\x18"])
def test_malformed_requests_get_invalid_action(payload):
    net, client, session, _, _server = build()
    result = client._start(session, 0x02, payload, None, None)
    net.run()
    assert result.status == ImStatus.INVALID_ACTION or result.reports == []


class Scripted:
    """Sends IM messages one after another on one exchange, each after the previous answer, as a
    peer's client does; keeps the (opcode, decoded payload) of every answer."""

    def __init__(self, net, client, session, messages):
        self.messages = list(messages)
        self.answers = []
        self.exchange = client.manager.new_exchange(session, ProtocolId.INTERACTION_MODEL, self)
        self._next()

    def _next(self):
        opcode, body = self.messages.pop(0)
        self.exchange.send(opcode, tlv.encode(tlv.Structure({**body, 0xFF: UInt(11)})))

    def on_message(self, exchange, message):
        self.answers.append((message.opcode, tlv.decode(message.payload)))
        if self.messages:
            self._next()

    def on_closed(self, exchange, reason):
        pass


TIMED, WRITE, INVOKE = ImOpcode.TIMED_REQUEST, ImOpcode.WRITE_REQUEST, ImOpcode.INVOKE_REQUEST


def write_body(value, *, timed, more):
    data = AttributeData(AttributePath(0, C, 5), UInt(value)).to_tlv()
    return {0: False, 1: timed, 2: tlv.Array([data]), 3: more}


def timed_chunked_write(last_chunk_timed: bool) -> Scripted:
    net, client, session, _, _ = build()
    script = Scripted(
        net,
        client,
        session,
        [
            (TIMED, {0: UInt(500)}),
            (WRITE, write_body(1, timed=True, more=True)),
            (WRITE, write_body(2, timed=last_chunk_timed, more=False)),
        ],
    )
    net.run(until=5)
    return script


def test_every_chunk_of_a_timed_chunked_write_is_accepted():
    """The SDK's WriteClient sends TimedRequest, then each chunk with TimedRequest=true and
    MoreChunkedMessages on all but the last."""
    script = timed_chunked_write(last_chunk_timed=True)
    opcodes = [opcode for opcode, _ in script.answers]
    assert opcodes == [ImOpcode.STATUS_RESPONSE, ImOpcode.WRITE_RESPONSE, ImOpcode.WRITE_RESPONSE]
    for _, response in script.answers[1:]:
        (status,) = response[0]
        assert status[1][0] == ImStatus.SUCCESS  # AttributeStatusIB.StatusIB.Status
    # A later chunk that drops the TimedRequest flag is refused.
    script = timed_chunked_write(last_chunk_timed=False)
    assert script.answers[-1] == (ImOpcode.STATUS_RESPONSE, {0: ImStatus.TIMED_REQUEST_MISMATCH, 0xFF: 11})


def test_suppress_response_runs_the_command_and_sends_only_the_ack():
    net, client, session, cluster, _ = build()
    command = CommandData(CommandPath(0, C, 0), tlv.Structure({0: UInt(1)}), ref=None).to_tlv()
    script = Scripted(net, client, session, [(INVOKE, {0: True, 1: False, 2: tlv.Array([command])})])
    net.run(until=5)
    assert script.answers == [] and cluster.invocations == 1


@pytest.mark.parametrize(
    "batch",
    [
        [(0, 1), (0, None)],  # one CommandRef missing
        [(0, 1), (0, 1)],  # the same CommandRef twice
        [(0, 1), (0, 2)],  # the same path twice
    ],
)
def test_bad_batches_are_refused_whole(batch):
    net, client, session, cluster, _ = build()
    commands = [
        CommandData(CommandPath(0, C, command), tlv.Structure({0: UInt(1)}), ref=ref).to_tlv() for command, ref in batch
    ]
    script = Scripted(net, client, session, [(INVOKE, {0: False, 1: False, 2: tlv.Array(commands)})])
    net.run(until=5)
    assert script.answers == [(ImOpcode.STATUS_RESPONSE, {0: ImStatus.INVALID_ACTION, 0xFF: 11})]
    assert cluster.invocations == 0
