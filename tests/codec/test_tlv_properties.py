"""TLV property tests (hypothesis) and a 100,000-input mutation fuzz of the decoder."""

from __future__ import annotations

import contextlib
import math

from hypothesis import given
from hypothesis import strategies as st

from ota_provider.core.codec import tlv
from ota_provider.core.codec.tlv import (
    Array,
    CommonProfileTag,
    Float32,
    FullyQualifiedTag,
    ImplicitProfileTag,
    Structure,
    TLVError,
    TLVList,
    UInt,
)
from tests.helpers.fuzzing import assert_only_raises, fuzz_inputs

tags = st.one_of(
    st.integers(0, 255),
    st.builds(CommonProfileTag, st.integers(0, 0xFFFF_FFFF)),
    st.builds(ImplicitProfileTag, st.integers(0, 0xFFFF_FFFF)),
    st.builds(FullyQualifiedTag, st.integers(0, 0xFFFF), st.integers(0, 0xFFFF), st.integers(0, 0xFFFF_FFFF)),
)
optional_tags = st.one_of(st.none(), tags)

scalars = st.one_of(
    st.booleans(),
    st.integers(-(1 << 63), (1 << 63) - 1),
    st.integers(0, (1 << 64) - 1).map(UInt),
    st.floats(allow_nan=False),
    st.floats(width=32, allow_nan=False).map(Float32),
    st.text(max_size=300),
    st.binary(max_size=300),
    st.none(),
)

values = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5).map(Array),
        st.dictionaries(tags, children, max_size=5).map(Structure),
        st.lists(st.tuples(optional_tags, children), max_size=5).map(TLVList),
    ),
    max_leaves=30,
)


@given(values, optional_tags)
def test_round_trip(value, tag):
    encoded = tlv.encode(value, tag)
    decoded_tag, decoded, end = tlv.decode_prefix(encoded)
    assert end == len(encoded)
    assert decoded_tag == tag
    assert decoded == value


@given(values)
def test_encoding_is_canonical(value):
    # Re-encoding what was decoded gives the same bytes (minimal widths both times),
    # which is what signature checks over re-encoded TLV depend on.
    encoded = tlv.encode(value)
    assert tlv.encode(tlv.decode(encoded)) == encoded


@given(values, st.data())
def test_every_truncation_is_a_tlv_error(value, data):
    encoded = tlv.encode(value)
    cut = data.draw(st.integers(0, len(encoded) - 1))
    try:
        tlv.decode(encoded[:cut])
    except TLVError:
        return
    raise AssertionError("a truncated element decoded")


@given(st.binary(max_size=200))
def test_random_bytes_raise_only_tlv_error(data):
    with contextlib.suppress(TLVError):
        tlv.decode(data)


@given(st.integers(0, 1 << 64 - 1), st.integers(0, 3))
def test_integers_decode_from_every_width(number, code):
    width = 1 << code
    if number >= 1 << (8 * width):
        return
    encoded = bytes([0x04 + code]) + number.to_bytes(width, "little")
    assert tlv.decode(encoded) == number


def test_double_nan_survives():
    assert math.isnan(tlv.decode(tlv.encode(math.nan)))


def _corpus() -> list[bytes]:
    samples = [
        Structure({0: UInt(0xFFF1), 1: UInt(0x8000), 2: UInt(3), 3: "3.0", 9: b"\x00" * 32}),
        Array([42, -170000, Structure(), Float32(17.9), "Hello!"]),
        TLVList([(None, 1), (0, 42), (CommonProfileTag(5), None), (FullyQualifiedTag(1, 2, 3), True)]),
        Structure({1: Array([Structure({0: TLVList([(2, UInt(0)), (3, UInt(0x29))])})]), 0xFF: UInt(12)}),
        "x" * 300,
        b"\x01" * 300,  # 2-octet length prefix
    ]
    return [tlv.encode(s) for s in samples]


def test_fuzz_decoder_raises_only_tlv_error():
    inputs = fuzz_inputs(_corpus(), count=100_000, seed=0x7E57)
    assert assert_only_raises(tlv.decode, TLVError, inputs) == 100_000
