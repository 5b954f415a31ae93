"""BTP (Matter core spec 4.19), the central's side, against matter.js's vectors.

Byte strings are matter.js's (``packages/protocol/test/codec/BtpCodecTest.ts`` and
``packages/protocol/test/ble/BtpSessionHandlerTest.ts``, where matter.js is the peripheral): what
its peripheral writes is what our central must read, and what its tests feed its peripheral as a
central's packets is what our central must write.
"""

from __future__ import annotations

import pytest

from ota_provider.core.transport.btp import (
    ACK_TIMEOUT,
    HANDSHAKE_TIMEOUT,
    KEEP_ALIVE_INTERVAL,
    SEND_ACK_TIMEOUT,
    BtpCentral,
    BtpError,
    BtpTimeout,
    Flag,
    HandshakeRequest,
    HandshakeResponse,
    Packet,
)
from tests.helpers.fuzzing import assert_only_raises, fuzz_inputs

PAYLOAD = bytes.fromhex(
    "0400000049b6a902a9a5773dbb8cafd90120a7c7000015300120cb0c120a3499327ddaec4ebe60889df0f1bf80d8a4dea1dd6ffef16ef58ecafe25028e17240300280418"
)
h = bytes.fromhex


# ---------------------------------------------------------------------- the codec (BtpCodecTest.ts)


def test_the_handshake_request_both_stacks_send():
    request = HandshakeRequest.decode(h("656c04000000b90006"))
    assert request == HandshakeRequest((4,), 185, 6)
    assert request.encode() == h("656c04000000b90006")


def test_a_request_with_several_versions_names_them_all():
    # matter.js's test file expects [4, 5, 6]; its 0.17.9 decoder, the SDK and ours read the low nibble
    # first: [4, 6, 5]. The order is not what matters here.
    assert set(HandshakeRequest.decode(h("656c04560000b90006")).versions) == {4, 5, 6}


@pytest.mark.parametrize("data", ["0d6c04000000b90006", "656d04000000b90006", "656c00000000b90006", "656c04000000b900"])
def test_a_bad_handshake_request_is_refused(data):
    with pytest.raises(BtpError):
        HandshakeRequest.decode(h(data))


def test_the_handshake_response():
    assert HandshakeResponse(4, 256, 6).encode() == h("656c04000106")
    assert HandshakeResponse.decode(h("656c04000106")) == HandshakeResponse(4, 256, 6)


def test_a_data_packet_with_ack_and_length():
    packet = Packet.decode(h("0d00004400") + PAYLOAD)
    assert packet == Packet(Flag.BEGIN | Flag.END | Flag.ACK, sequence=0, ack=0, message_length=0x44, payload=PAYLOAD)


@pytest.mark.parametrize(
    ("packet", "encoded"),
    [
        (Packet(Flag.CONTINUE | Flag.END, 0, payload=PAYLOAD), "0600"),
        (Packet(Flag.BEGIN | Flag.END, 0, message_length=0x44, payload=PAYLOAD), "05004400"),
        (Packet(Flag.CONTINUE | Flag.END | Flag.ACK, 0, ack=0, payload=PAYLOAD), "0e0000"),
    ],
)
def test_data_packets_encode_as_matterjs_encodes_them(packet, encoded):
    assert packet.encode() == h(encoded) + PAYLOAD
    assert Packet.decode(h(encoded) + PAYLOAD) == packet


def test_a_management_opcode_inside_a_session_is_refused():
    with pytest.raises(BtpError):
        Packet.decode(h("6500004400") + PAYLOAD)


@pytest.mark.parametrize(
    "packet",
    [
        Packet(Flag.BEGIN | Flag.END, 0, ack=5, message_length=1, payload=b"x"),  # ack without its flag
        Packet(Flag.BEGIN | Flag.END | Flag.ACK, 0, message_length=1, payload=b"x"),  # flag without ack
        Packet(Flag.CONTINUE | Flag.END, 0, message_length=1, payload=b"x"),  # length not on a beginning
        Packet(Flag.BEGIN | Flag.END, 0, payload=b"x"),  # beginning without length
    ],
)
def test_inconsistent_packets_are_not_encoded(packet):
    with pytest.raises(ValueError):
        packet.encode()


# ---------------------------------------------------------------------- the session (BtpSessionHandlerTest.ts)


def open_central(response: str = "656c04140006", now: float = 0.0) -> BtpCentral:
    central = BtpCentral(att_mtu=185)
    assert central.start(now) == h("656c04000000b90006")
    assert central.receive(h(response), now) == []
    return central


def test_the_handshake_sets_segment_size_and_window():
    central = open_central("656c04640006")
    assert (central.segment_size, central.remote_window) == (100, 6)


def test_one_segment_each_way():
    central = open_central()  # the peripheral offered 20-byte segments
    central.send(h("010203040506070809"))
    # The central's first packet acknowledges the handshake response (its packet 0).
    assert central.take_writes(0.1) == [h("0d00000900010203040506070809")]
    assert central.receive(h("0d00010900090807060504030201"), 0.2) == [h("090807060504030201")]


def test_two_segments_each_way():
    central = open_central()
    central.send(h("01020304050607080901020304050607"))  # 16 bytes: 15 in the first segment of 20
    writes = central.take_writes(0.1)
    assert writes == [h("0900001000010203040506070809010203040506"), h("060107")]
    assert central.receive(h("0901011200030201090807060504030201090807"), 0.2) == []
    assert central.receive(h("0602060504"), 0.3) == [h("030201090807060504030201090807060504")]


def test_an_ack_owed_is_sent_standalone_within_the_send_ack_timeout():
    central = open_central()
    central.send(h("010203040506070809"))
    central.take_writes(0.1)
    central.receive(h("0d00010900090807060504030201"), 1.0)
    assert central.take_writes(1.0) == []
    assert central.next_deadline() == pytest.approx(min(1.0 + SEND_ACK_TIMEOUT, 0.1 + KEEP_ALIVE_INTERVAL))
    assert central.poll(1.0 + SEND_ACK_TIMEOUT) == [h("080101")]  # ack 1, our sequence 1


def test_the_handshake_response_itself_is_acknowledged_in_time():
    central = open_central(now=0.0)
    assert central.poll(SEND_ACK_TIMEOUT) == [h("080000")]


def test_no_handshake_response_is_a_timeout():
    central = BtpCentral(att_mtu=23)
    central.start(0.0)
    assert central.next_deadline() == HANDSHAKE_TIMEOUT
    with pytest.raises(BtpTimeout):
        central.poll(HANDSHAKE_TIMEOUT)


def test_data_the_device_never_acknowledges_is_a_timeout():
    central = open_central()
    central.send(b"hello")
    central.take_writes(0.0)
    central.poll(ACK_TIMEOUT - 0.1)
    with pytest.raises(BtpTimeout):
        central.poll(ACK_TIMEOUT)


def test_a_quiet_central_repeats_its_ack_as_a_keep_alive():
    central = open_central()
    assert central.poll(SEND_ACK_TIMEOUT) == [h("080000")]
    central.receive(h("080001"), SEND_ACK_TIMEOUT + 0.1)  # the device acks it (its packet 1)
    central.poll(SEND_ACK_TIMEOUT + 0.2)
    keep_alive = central.poll(SEND_ACK_TIMEOUT + 0.1 + KEEP_ALIVE_INTERVAL + SEND_ACK_TIMEOUT)
    assert keep_alive and all(Packet.decode(p).flags == Flag.ACK for p in keep_alive)


def test_the_devices_window_bounds_what_is_in_flight():
    central = open_central("656c04140003")  # window 3
    central.send(bytes(200))
    writes = central.take_writes(0.0)
    # Three slots: the first carries our ack; a data-only packet leaves the last slot free.
    assert len(writes) == 2
    central.receive(bytes((Flag.ACK, 1, 1)), 0.1)  # the device acks both (its packet 1)
    again = central.take_writes(0.1)  # one with the ack it now owes, one data-only, the last slot kept
    assert [Packet.decode(p).ack for p in again] == [1, None]


def test_sequence_numbers_wrap():
    central = open_central()
    peer_sequence = 0
    for n in range(300):
        central.send(b"\x01")
        (write,) = central.take_writes(float(n))
        sent = Packet.decode(write)
        assert sent.sequence == n % 256
        peer_sequence = (peer_sequence + 1) % 256
        reply = Packet(Flag.BEGIN | Flag.END | Flag.ACK, peer_sequence, sent.sequence, 1, b"\x02")
        assert central.receive(reply.encode(), float(n)) == [b"\x02"]


@pytest.mark.parametrize(
    ("packets", "why"),
    [
        (["0d00010800010203040506070809"], "longer than the 8 bytes"),
        (["0d00010a00010203040506070809"], "announced 10"),
        (["0e000106"], "never began"),
        (["0d00020900010203040506070809"], "sequence 2 after 0"),
        (["0d05010900010203040506070809"], "acknowledged BTP packet 5"),
        (["0001"], "neither a segment nor an ack"),
        (["090001020001", "09000202000102"], "began before the last one ended"),
    ],
)
def test_a_device_that_breaks_the_protocol_ends_the_session(packets, why):
    central = open_central()
    central.send(b"\x01")
    central.take_writes(0.0)  # our packet 0, which the device may acknowledge
    with pytest.raises(BtpError, match=why):
        for packet in packets:
            central.receive(h(packet), 0.0)


def _fuzz_session(data: bytes) -> None:
    central = open_central()
    central.send(bytes(50))
    central.take_writes(0.0)
    for cut in range(0, len(data), 7):
        central.receive(data[cut : cut + 7], 0.0)
        central.take_writes(0.0)


CORPUS = [
    h("0d00010900090807060504030201"),
    h("0901011200030201090807060504030201090807"),
    h("0602060504"),
    h("080001"),
    h("656c04140006"),
    h("0d00004400") + PAYLOAD,
]


@pytest.mark.parametrize("decoder", [Packet.decode, HandshakeResponse.decode, HandshakeRequest.decode, _fuzz_session])
def test_fuzz_btp_decoders_raise_only_btp_errors(decoder):
    assert assert_only_raises(decoder, BtpError, fuzz_inputs(CORPUS, 5_000, seed=26)) == 5_000


@pytest.mark.slow
@pytest.mark.parametrize("decoder", [Packet.decode, _fuzz_session])
def test_fuzz_btp_decoders_a_million_inputs(decoder):
    assert assert_only_raises(decoder, BtpError, fuzz_inputs(CORPUS, 1_000_000, seed=2626)) == 1_000_000
