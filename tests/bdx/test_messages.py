"""BDX message layouts from OTA_PROVIDER_SPEC.md §4.2-4.3, byte for byte, plus fuzzing."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ota_provider.core.bdx.messages import (
    BdxError,
    Block,
    BlockQuery,
    BlockQueryWithSkip,
    ReceiveAccept,
    TransferControl,
    TransferInit,
)
from ota_provider.core.codec.status_report import BdxStatus
from tests.helpers.fuzzing import assert_only_raises, fuzz_inputs

RD = TransferControl.RECEIVER_DRIVE


def test_sdk_requestor_receive_init():
    # TC = ReceiverDrive v0 (0x20), RC = 0, MaxBlockSize 1024, designator "0", no metadata.
    data = bytes.fromhex("20 00 0004 0100 30".replace(" ", ""))
    init = TransferInit.decode(data)
    assert (init.control, init.max_block_size, init.file_designator, init.start_offset, init.max_length) == (
        RD,
        1024,
        b"0",
        0,
        0,
    )
    assert TransferInit(RD, 1024, b"0").encode() == data


def test_resuming_receive_init_with_start_offset():
    # RC = STARTOFS (0x02), StartOffset 0x00012000 (4 bytes), designator "1".
    data = bytes.fromhex("20 02 0004 00200100 0100 31".replace(" ", ""))
    init = TransferInit.decode(data)
    assert (init.start_offset, init.file_designator) == (0x12000, b"1")
    assert TransferInit(RD, 1024, b"1", start_offset=0x12000).encode() == data


def test_wide_range_uses_eight_bytes_for_both_fields():
    # RC = WIDERANGE | DEFLEN | STARTOFS = 0x13.
    data = bytes.fromhex("20 13 0004 0000000001000000 0500000000000000 0100 41".replace(" ", ""))
    init = TransferInit.decode(data)
    assert (init.start_offset, init.max_length) == (1 << 32, 5)
    assert TransferInit(RD, 1024, b"A", start_offset=1 << 32, max_length=5).encode() == data


def test_receive_accept_echoes_offset_and_sends_length():
    data = bytes.fromhex("20 03 0004 00100000 00300000".replace(" ", ""))
    assert ReceiveAccept(RD, 1024, start_offset=0x1000, length=0x3000).encode() == data
    assert ReceiveAccept.decode(data) == ReceiveAccept(RD, 1024, 0x1000, 0x3000)


def test_block_layouts():
    assert BlockQuery(5).encode() == bytes.fromhex("05000000")
    assert Block(5, b"\xaa\xbb").encode() == bytes.fromhex("05000000aabb")
    assert BlockQueryWithSkip(2, 4096).encode() == bytes.fromhex("020000000010000000000000")
    assert Block.decode(bytes.fromhex("07000000")) == Block(7, b"")


@pytest.mark.parametrize(
    ("data", "status"),
    [
        ("20", BdxStatus.LENGTH_TOO_SHORT),
        ("2002000400", BdxStatus.LENGTH_TOO_SHORT),
        ("200000040000", BdxStatus.FILE_DESIGNATOR_UNKNOWN),
        ("2000000405003031", BdxStatus.LENGTH_TOO_SHORT),
    ],
)
def test_malformed_init_carries_the_status_to_answer(data, status):
    with pytest.raises(BdxError) as exc:
        TransferInit.decode(bytes.fromhex(data))
    assert exc.value.status == status


def test_accept_must_choose_one_mode():
    for no_single_mode in ("30000004", "00000004", "70000004"):
        with pytest.raises(BdxError):
            ReceiveAccept.decode(bytes.fromhex(no_single_mode))
    assert ReceiveAccept.decode(bytes.fromhex("40000004")).control == 0x40  # ASYNC alone


@given(
    st.integers(0, (1 << 64) - 1),
    st.integers(0, (1 << 64) - 1),
    st.binary(min_size=1, max_size=255),
    st.integers(0, 0xFFFF),
    st.binary(max_size=20),
)
def test_init_round_trip(offset, length, designator, block, metadata):
    init = TransferInit(RD, block, designator, offset, length, metadata)
    assert TransferInit.decode(init.encode()) == init


def test_fuzz_bdx_decoders():
    corpus = [
        TransferInit(RD, 1024, b"0").encode(),
        TransferInit(RD, 1024, b"12", start_offset=10, max_length=99).encode(),
        ReceiveAccept(RD, 1024, 10, 99).encode(),
        BlockQueryWithSkip(1, 2).encode(),
        Block(3, b"xyz").encode(),
    ]
    for decoder in (
        TransferInit.decode,
        ReceiveAccept.decode,
        BlockQuery.decode,
        BlockQueryWithSkip.decode,
        Block.decode,
    ):
        assert assert_only_raises(decoder, BdxError, fuzz_inputs(corpus, 20_000, seed=0xBD)) == 20_000
