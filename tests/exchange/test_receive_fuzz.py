"""The receive path under a flood of malformed datagrams: drop and count, never crash, keep serving."""

from __future__ import annotations

import random

from ota_provider.core.codec.message import MessageHeader
from ota_provider.core.exchange.echo import ECHO_PROTOCOL, ECHO_REQUEST
from tests.helpers.fuzzing import fuzz_inputs
from tests.helpers.mrp import A, Collector, RecordingEcho, paired


def test_flood_of_malformed_datagrams_is_dropped_while_valid_traffic_flows():
    net, a, b, sa, _ = paired(seed=3)
    server = RecordingEcho()
    b.register(ECHO_PROTOCOL, server)
    # A corpus of real datagrams on the session, plus unsecured and wrong-session variants.
    for i in range(5):
        a.new_exchange(sa, ECHO_PROTOCOL, Collector()).send(ECHO_REQUEST, b"seed %d" % i)
    corpus = [out.data for out in a.take_outgoing()]
    corpus.append(MessageHeader(session_id=0x4242, message_counter=1).encode() + bytes(40))  # unknown session
    corpus.append(MessageHeader(message_counter=9, source_node_id=7).encode() + b"\x05\x20\x01\x00\x00\x00")
    corpus.append(bytes.fromhex("00 0b00 20 01000000 ffff".replace(" ", "")) + bytes(10))  # huge extension length
    rng = random.Random(9)
    valid_sent = 0
    for i, datagram in enumerate(fuzz_inputs(corpus, count=100_000, seed=0xF100D)):
        b.receive(datagram, A, i * 1e-4)
        if i % 5000 == 0:  # interleave real traffic on the same session
            a.new_exchange(sa, ECHO_PROTOCOL, Collector()).send(ECHO_REQUEST, b"valid %d" % valid_sent)
            valid_sent += 1
            net.deliver_all()
        if rng.random() < 0.01:
            b.take_outgoing()  # acks for whatever was accepted go nowhere
    net.run()
    assert [p for p in server.payloads if p.startswith(b"valid")] == [b"valid %d" % i for i in range(valid_sent)]
    assert sum(b.drops.values()) > 90_000
    for reason in ("malformed header", "unknown session", "bad MIC"):
        assert b.drops[reason] > 0, reason
