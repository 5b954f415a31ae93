"""Message header, protocol header and StatusReport.

Vectors are the SDK's spec-compliance and message-extension vectors
(src/transport/raw/tests/TestMessageHeader.cpp) and layouts written from
MATTER_STACK.md §3.1-3.3.
"""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from ota_provider.core.codec.message import (
    MessageError,
    MessageHeader,
    PayloadHeader,
    SessionType,
    secure_unicast_header,
)
from ota_provider.core.codec.protocols import BdxOpcode, ProtocolId, SecureChannelOpcode
from ota_provider.core.codec.status_report import BdxStatus, GeneralCode, StatusReport
from tests.helpers.fuzzing import assert_only_raises, fuzz_inputs

SPEC_COMPLIANCE = [
    # (encoded, session id, session type, security flags, counter, secure, group id)
    ("00 88 77 00 44 33 22 11", 0x7788, SessionType.UNICAST, 0x00, 0x11223344, True, None),
    ("02 EE DD C1 40 30 20 10 56 34", 0xDDEE, SessionType.GROUP, 0xC1, 0x10203040, True, 0x3456),
    ("00 00 00 00 40 30 20 10", 0x0000, SessionType.UNICAST, 0x00, 0x10203040, False, None),
]


@pytest.mark.parametrize(("encoded", "session", "stype", "sflags", "counter", "secure", "group"), SPEC_COMPLIANCE)
def test_spec_compliance_decode(encoded, session, stype, sflags, counter, secure, group):
    data = bytes.fromhex(encoded)
    header, offset = MessageHeader.decode(data)
    assert offset == len(data)
    assert header.session_id == session
    assert header.session_type == stype
    assert header.security_flags == sflags
    assert header.message_counter == counter
    assert header.is_secure == secure
    assert header.destination_group_id == group


@pytest.mark.parametrize(("encoded", "session", "stype", "sflags", "counter", "secure", "group"), SPEC_COMPLIANCE)
def test_spec_compliance_encode(encoded, session, stype, sflags, counter, secure, group):
    header = MessageHeader(
        session_id=session,
        message_counter=counter,
        destination_group_id=group,
        session_type=stype,
        privacy=bool(sflags & 0x80),
        control=bool(sflags & 0x40),
    )
    assert header.encode() == bytes.fromhex(encoded)


HDR, MX, SRC, DST, GID, PRO, SX = 8, 6, 8, 8, 2, 6, 6
EXTENSION_VECTORS = [
    # (message, payload offset, application payload offset within the payload)
    ("00000000CCCCCCCC01CCEEEE6666BBBB", HDR, PRO),
    ("00000020CCCCCCCC0400E4E3E2E101CCEEEE6666BBBB", HDR + MX, PRO),
    ("04000020CCCCCCCC11111111111111110400E4E3E2E101CCEEEE6666BBBB", HDR + MX + SRC, PRO),
    ("01000020CCCCCCCCDDDDDDDDDDDDDDDD0400E4E3E2E101CCEEEE6666BBBB", HDR + MX + DST, PRO),
    (
        "05000020CCCCCCCC1111111111111111DDDDDDDDDDDDDDDD0400E4E3E2E101CCEEEE6666BBBB",
        HDR + MX + SRC + DST,
        PRO,
    ),
    ("02000021CCCCCCCCDDDD0400E4E3E2E101CCEEEE6666BBBB", HDR + MX + GID, PRO),
    ("06000021CCCCCCCC1111111111111111DDDD0400E4E3E2E101CCEEEE6666BBBB", HDR + MX + SRC + GID, PRO),
    ("00000000CCCCCCCC08CCEEEE66660400E4E3E2E1BBBB", HDR, PRO + SX),
    ("00000020CCCCCCCC0400E4E3E2E108CCEEEE66660400E4E3E2E1BBBB", HDR + MX, PRO + SX),
    (
        "05000020CCCCCCCC1111111111111111DDDDDDDDDDDDDDDD0400E4E3E2E109CCEEEE66660400E4E3E2E1BBBB",
        HDR + MX + SRC + DST,
        PRO + SX,
    ),
]


@pytest.mark.parametrize(("message", "payload_offset", "app_offset"), EXTENSION_VECTORS)
def test_message_and_secured_extensions(message, payload_offset, app_offset):
    data = bytes.fromhex(message)
    header, offset = MessageHeader.decode(data)
    assert offset == payload_offset
    payload_header, app = PayloadHeader.decode(data[offset:])
    assert app == app_offset
    assert payload_header.opcode == 0xCC
    assert payload_header.exchange_id == 0xEEEE
    assert payload_header.protocol_id == 0x6666
    assert data[offset + app :] == b"\xbb\xbb"
    # Encoding what was decoded reproduces the vector.
    assert header.encode() + payload_header.encode() + b"\xbb\xbb" == data


def test_source_and_destination_node_ids():
    data = bytes.fromhex("05 0000 00 01000000 0100000000000000 0200000000000000".replace(" ", ""))
    header, _ = MessageHeader.decode(data)
    assert (header.source_node_id, header.destination_node_id) == (1, 2)
    assert not header.is_secure


def test_pase_style_unsecured_header():
    # Initiator sends S=1 with a random ephemeral node id (MATTER_STACK.md §3.1).
    header = MessageHeader(session_id=0, message_counter=7, source_node_id=0x1122334455667788)
    assert header.encode() == bytes.fromhex("04 0000 00 07000000 8877665544332211".replace(" ", ""))


def test_protocol_header_layout_with_vendor_and_ack():
    # Flags I|A|R|V = 0x17, opcode 0x20, exchange 0x1234, vendor 0xFFF1, protocol 0x0000, ack 0x01020304.
    header = PayloadHeader(
        exchange_id=0x1234,
        protocol_id=ProtocolId.SECURE_CHANNEL,
        opcode=SecureChannelOpcode.PBKDF_PARAM_REQUEST,
        initiator=True,
        needs_ack=True,
        ack_counter=0x01020304,
        vendor_id=0xFFF1,
    )
    encoded = bytes.fromhex("17 20 3412 f1ff 0000 04030201".replace(" ", ""))
    assert header.encode() == encoded
    assert PayloadHeader.decode(encoded) == (header, len(encoded))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("", "truncated"),
        ("00 0000 00 000000", "truncated"),
        ("10 0000 00 00000000", "version 1"),
        ("03 0000 00 00000000", "DSIZ"),
        ("00 0000 02 00000000", "session type"),
        ("04 0000 00 00000000 1122", "source node id"),
        ("00 0000 20 00000000 0500 0102", "message extensions"),
    ],
)
def test_malformed_message_header(data, message):
    with pytest.raises(MessageError, match=message):
        MessageHeader.decode(bytes.fromhex(data.replace(" ", "")))


@pytest.mark.parametrize(
    "data",
    ["", "01 cc ee", "01 cc eeee 66", "03 cc eeee 6666 0102", "10 cc eeee 01", "08 cc eeee 6666 0200 01"],
)
def test_malformed_protocol_header(data):
    with pytest.raises(MessageError):
        PayloadHeader.decode(bytes.fromhex(data.replace(" ", "")))


def test_header_value_ranges_are_checked():
    with pytest.raises(MessageError):
        MessageHeader(session_id=0x10000)
    with pytest.raises(MessageError):
        MessageHeader(destination_node_id=1, destination_group_id=1)
    with pytest.raises(MessageError):
        PayloadHeader(exchange_id=1, protocol_id=1, opcode=256)


def test_status_report_bdx_layout():
    # OTA_PROVIDER_SPEC.md §4.1: GeneralCode FAILURE, ProtocolId 0x00000002, code FileDesignatorUnknown.
    report = StatusReport(GeneralCode.FAILURE, ProtocolId.BDX, BdxStatus.FILE_DESIGNATOR_UNKNOWN)
    assert report.encode() == bytes.fromhex("0100 02000000 5100".replace(" ", ""))
    assert StatusReport.decode(report.encode()) == report
    assert report.describe() == "FAILURE / protocol 0x0000:0002 FILE_DESIGNATOR_UNKNOWN"


def test_status_report_vendor_protocol_and_data():
    data = bytes.fromhex("0000 0300f1ff 0700 aabb".replace(" ", ""))
    report = StatusReport.decode(data)
    assert (report.vendor_id, report.protocol_id, report.protocol_code) == (0xFFF1, 3, 7)
    assert report.protocol_data == b"\xaa\xbb"
    assert report.is_success
    assert report.encode() == data


def test_status_report_too_short():
    with pytest.raises(MessageError):
        StatusReport.decode(b"\x00" * 7)


def test_opcode_values_match_spec_tables():
    assert BdxOpcode.RECEIVE_INIT == 0x04 and BdxOpcode.BLOCK_QUERY_WITH_SKIP == 0x15
    assert SecureChannelOpcode.CASE_SIGMA2_RESUME == 0x33 and SecureChannelOpcode.STATUS_REPORT == 0x40


@given(
    st.integers(0, 0xFFFF),
    st.integers(0, 0xFFFF_FFFF),
    st.none() | st.integers(0, (1 << 64) - 1),
    st.sampled_from(["none", "node", "group"]),
    st.integers(0, (1 << 64) - 1),
    st.sampled_from(SessionType),
    st.booleans(),
    st.booleans(),
    st.none() | st.binary(max_size=40),
)
def test_message_header_round_trip(session, counter, source, dest_kind, dest, stype, privacy, control, ext):
    header = MessageHeader(
        session_id=session,
        message_counter=counter,
        source_node_id=source,
        destination_node_id=dest if dest_kind == "node" else None,
        destination_group_id=dest & 0xFFFF if dest_kind == "group" else None,
        session_type=stype,
        privacy=privacy,
        control=control,
        extensions=ext,
    )
    encoded = header.encode()
    assert MessageHeader.decode(encoded + b"payload") == (header, len(encoded))


@given(
    st.integers(0, 0xFFFF),
    st.integers(0, 0xFFFF),
    st.integers(0, 0xFF),
    st.booleans(),
    st.booleans(),
    st.none() | st.integers(0, 0xFFFF_FFFF),
    st.none() | st.integers(0, 0xFFFF),
    st.none() | st.binary(max_size=40),
)
def test_payload_header_round_trip(exchange, protocol, opcode, initiator, reliable, ack, vendor, sx):
    header = PayloadHeader(exchange, protocol, opcode, initiator, reliable, ack, vendor, sx)
    encoded = header.encode()
    assert PayloadHeader.decode(encoded + b"app") == (header, len(encoded))


def _corpus() -> list[bytes]:
    return [bytes.fromhex(m) for m, _, _ in EXTENSION_VECTORS] + [bytes.fromhex(e) for e, *_ in SPEC_COMPLIANCE]


def test_fuzz_message_header():
    inputs = fuzz_inputs(_corpus(), count=100_000, seed=0x4D53)
    assert assert_only_raises(MessageHeader.decode, MessageError, inputs) == 100_000


def test_fuzz_payload_header():
    corpus = [bytes.fromhex(m)[off:] for m, off, _ in EXTENSION_VECTORS]
    inputs = fuzz_inputs(corpus, count=100_000, seed=0x5048)
    assert assert_only_raises(PayloadHeader.decode, MessageError, inputs) == 100_000


def test_fuzz_status_report():
    corpus = [bytes.fromhex("0100020000005100"), bytes.fromhex("00000300f1ff0700aabb")]
    inputs = fuzz_inputs(corpus, count=100_000, seed=0x5352)
    assert assert_only_raises(StatusReport.decode, MessageError, inputs) == 100_000


def test_a_secure_channel_busy_is_laid_out_as_the_sdk_builds_it():
    """The SDK's StatusReport::MakeBusyStatusReportMessage (its TestStatusReport uses 5000 ms):
    GeneralCode kBusy (8), protocol Secure Channel (0), ProtocolCode kProtocolCodeBusy (4), then the
    minimum wait in milliseconds, 16 bits little-endian: 08 00 | 00 00 00 00 | 04 00 | 88 13."""
    from ota_provider.core.codec.status_report import StatusReport  # noqa: PLC0415

    sdk_bytes = bytes.fromhex("08000000000004008813")
    assert StatusReport.busy(5000).encode() == sdk_bytes
    assert StatusReport.decode(sdk_bytes).busy_wait_ms == 5000
    assert StatusReport.decode(bytes.fromhex("0100000000000200")).busy_wait_ms is None  # a failure, not Busy


def _either(decode, data):
    try:
        return decode(data)
    except MessageError as exc:
        return ("error", type(exc))


@given(st.binary(min_size=0, max_size=160), st.sampled_from([0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x15]))
@example(bytes(120), 0x02)  # a group header, and a version-1 one, as long as a Block: never the fast path
@example(bytes(120), 0x15)
def test_the_message_header_fast_path_decodes_as_the_general_one(tail, flags):
    """The common unicast header is parsed without the general walk; it must agree with it on
    every input, the reserved and the malformed ones included."""
    for data in (bytes([flags]) + tail, tail):
        assert _either(MessageHeader.decode, data) == _either(MessageHeader._decode_general, data)


def test_the_fast_path_takes_the_header_matter_js_sends_on_a_case_session(monkeypatch):
    """matter.js's ``MessageExchange`` puts both node ids in every unicast header (flags 0x05,
    24 bytes: Core 4.4.1's layout with S=1 and DSIZ=1); the fast path must take it, not the walk."""
    data = bytes.fromhex("053412007856341201000000000000000200000000000000") + b"payload"
    general = MessageHeader._decode_general(data)
    monkeypatch.setattr(MessageHeader, "_decode_general", None)  # taking the walk would fail
    header, offset = MessageHeader.decode(data)
    assert (header.session_id, header.message_counter) == (0x1234, 0x12345678)
    assert (header.source_node_id, header.destination_node_id, offset) == (1, 2, 24)
    assert (header, offset) == general


@given(st.binary(min_size=0, max_size=24), st.integers(0, 0x1F))
def test_the_protocol_header_fast_path_decodes_as_the_general_one(tail, flags):
    for data in (bytes([flags]) + tail, tail):
        assert _either(PayloadHeader.decode, data) == _either(PayloadHeader._decode_general, data)


def test_the_secure_unicast_header_is_the_header_encoded():
    for control in (False, True):
        expected = MessageHeader(session_id=0xBEEF, message_counter=0x01020304, control=control).encode()
        assert secure_unicast_header(0xBEEF, 0x01020304, control) == expected
