"""Matter TLV: the examples of Core spec Appendix A, byte for byte, plus edge cases."""

from __future__ import annotations

import math

import pytest

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

# (description, value, tag, encoding) as printed in the spec's "TLV Encoding Examples" table.
SPEC_EXAMPLES = [
    ("Boolean false", False, None, "08"),
    ("Boolean true", True, None, "09"),
    ("Signed Integer, 1-octet, value 42", 42, None, "00 2a"),
    ("Signed Integer, 1-octet, value -17", -17, None, "00 ef"),
    ("Unsigned Integer, 1-octet, value 42U", UInt(42), None, "04 2a"),
    ("Signed Integer, 4-octet, value -170000", -170000, None, "02 f0 67 fd ff"),
    ("Signed Integer, 8-octet, value 40000000000", 40000000000, None, "03 00 90 2f 50 09 00 00 00"),
    ("UTF-8 String, 1-octet length, 'Hello!'", "Hello!", None, "0c 06 48 65 6c 6c 6f 21"),
    ("UTF-8 String, 1-octet length, 'Tschüs'", "Tschüs", None, "0c 07 54 73 63 68 c3 bc 73"),
    ("Octet String, 1-octet length, 00 01 02 03 04", bytes(range(5)), None, "10 05 00 01 02 03 04"),
    ("Null", None, None, "14"),
    ("Single precision 0.0", Float32(0.0), None, "0a 00 00 00 00"),
    ("Single precision 1/3", Float32(1.0 / 3.0), None, "0a ab aa aa 3e"),
    ("Single precision 17.9", Float32(17.9), None, "0a 33 33 8f 41"),
    ("Single precision infinity", Float32(math.inf), None, "0a 00 00 80 7f"),
    ("Single precision -infinity", Float32(-math.inf), None, "0a 00 00 80 ff"),
    ("Double precision 0.0", 0.0, None, "0b 00 00 00 00 00 00 00 00"),
    ("Double precision 1/3", 1.0 / 3.0, None, "0b 55 55 55 55 55 55 d5 3f"),
    ("Double precision 17.9", 17.9, None, "0b 66 66 66 66 66 e6 31 40"),
    ("Double precision infinity", math.inf, None, "0b 00 00 00 00 00 00 f0 7f"),
    ("Double precision -infinity", -math.inf, None, "0b 00 00 00 00 00 00 f0 ff"),
    ("Empty structure", Structure(), None, "15 18"),
    ("Empty array", Array(), None, "16 18"),
    ("Empty list", TLVList(), None, "17 18"),
    ("Structure {0 = 42, 1 = -17}", Structure({0: 42, 1: -17}), None, "15 20 00 2a 20 01 ef 18"),
    ("Array [0, 1, 2, 3, 4]", Array([0, 1, 2, 3, 4]), None, "16 00 00 00 01 00 02 00 03 00 04 18"),
    (
        "List [[1, 0 = 42, 2, 3, 0 = -17]]",
        TLVList([(None, 1), (0, 42), (None, 2), (None, 3), (0, -17)]),
        None,
        "17 00 01 20 00 2a 00 02 00 03 20 00 ef 18",
    ),
    (
        "Array [42, -170000, {}, 17.9, 'Hello!']",
        Array([42, -170000, Structure(), Float32(17.9), "Hello!"]),
        None,
        "16 00 2a 02 f0 67 fd ff 15 18 0a 33 33 8f 41 0c 06 48 65 6c 6c 6f 21 18",
    ),
    ("Context tag 1, 1 = 42U", UInt(42), 1, "24 01 2a"),
    ("Common profile tag 1, Matter::1 = 42U", UInt(42), CommonProfileTag(1), "44 01 00 2a"),
    ("Common profile tag 100000", UInt(42), CommonProfileTag(100000), "64 a0 86 01 00 2a"),
    (
        "Fully qualified, 2-octet tag 1, 65521::57069:1 = 42U",
        UInt(42),
        FullyQualifiedTag(0xFFF1, 0xDEED, 1),
        "c4 f1 ff ed de 01 00 2a",
    ),
    (
        "Fully qualified, 4-octet tag 0xAA55FEED",
        UInt(42),
        FullyQualifiedTag(0xFFF1, 0xDEED, 0xAA55FEED),
        "e4 f1 ff ed de ed fe 55 aa 2a",
    ),
    (
        "Structure with fully qualified tags, 65521::57069:1 = {65521::57069:43605 = 42U}",
        Structure({FullyQualifiedTag(0xFFF1, 0xDEED, 0xAA55): UInt(42)}),
        FullyQualifiedTag(0xFFF1, 0xDEED, 1),
        "d5 f1 ff ed de 01 00 c4 f1 ff ed de 55 aa 2a 18",
    ),
    # Implicit-profile tags are not in the spec table; these follow its tag-control table
    # (0x80 = 2-octet, 0xA0 = 4-octet) with the same numbers as the common-profile rows.
    ("Implicit profile tag 1", UInt(42), ImplicitProfileTag(1), "84 01 00 2a"),
    ("Implicit profile tag 100000", UInt(42), ImplicitProfileTag(100000), "a4 a0 86 01 00 2a"),
]


def _hex(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


@pytest.mark.parametrize(("description", "value", "tag", "encoding"), SPEC_EXAMPLES, ids=[e[0] for e in SPEC_EXAMPLES])
def test_spec_example_encodes(description, value, tag, encoding):
    assert tlv.encode(value, tag) == _hex(encoding)


@pytest.mark.parametrize(("description", "value", "tag", "encoding"), SPEC_EXAMPLES, ids=[e[0] for e in SPEC_EXAMPLES])
def test_spec_example_decodes(description, value, tag, encoding):
    decoded_tag, decoded, end = tlv.decode_prefix(_hex(encoding))
    assert end == len(_hex(encoding))
    assert decoded_tag == tag
    assert decoded == value
    assert type(decoded) is type(value) or (type(value) is int and type(decoded) is int)


def test_signed_two_octet_example_decodes_any_width():
    # "Signed Integer, 2-octet, value 42": decoders accept a non-minimal width.
    assert tlv.decode(_hex("01 2a 00")) == 42
    assert tlv.decode(_hex("07 2a 00 00 00 00 00 00 00")) == UInt(42)


@pytest.mark.parametrize(
    ("value", "encoding"),
    [
        (UInt(0xFF), "04 ff"),
        (UInt(0x100), "05 00 01"),
        (UInt(0xFFFF), "05 ff ff"),
        (UInt(0x10000), "06 00 00 01 00"),
        (UInt(0x1_0000_0000), "07 00 00 00 00 01 00 00 00"),
        (127, "00 7f"),
        (128, "01 80 00"),
        (-128, "00 80"),
        (-129, "01 7f ff"),
        (-(1 << 63), "03 00 00 00 00 00 00 00 80"),
    ],
)
def test_integers_use_minimal_width(value, encoding):
    assert tlv.encode(value) == _hex(encoding)


def test_string_length_prefix_grows_with_length():
    assert tlv.encode("a" * 255)[:2] == b"\x0c\xff"
    assert tlv.encode("a" * 256)[:3] == b"\x0d\x00\x01"
    assert tlv.encode(b"\x00" * 65536)[:5] == b"\x12\x00\x00\x01\x00"


def test_decode_accepts_wide_length_prefixes():
    assert tlv.decode(_hex("0d 02 00 68 69")) == "hi"
    assert tlv.decode(_hex("0e 02 00 00 00 68 69")) == "hi"
    assert tlv.decode(_hex("13 01 00 00 00 00 00 00 00 ff")) == b"\xff"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("", "truncated"),
        ("04", "truncated"),
        ("0c 05 68 69", "truncated"),
        ("15 20 00 2a", "truncated"),
        ("18", "outside any container"),
        ("15 38 18", "anonymous"),
        ("15 00 01 18", "anonymous element inside a structure"),
        ("16 24 00 01 18", "tagged element"),
        ("15 24 00 01 24 00 02 18", "duplicate tag"),
        ("19", "reserved"),
        ("1f", "reserved"),
        ("0c 02 c3 28", "invalid UTF-8"),
        ("04 01 04", "trailing"),
        ("13 ff ff ff ff ff ff ff ff", "truncated"),
    ],
)
def test_malformed_input_is_a_tlv_error(data, message):
    with pytest.raises(TLVError, match=message):
        tlv.decode(_hex(data))


def test_nesting_deeper_than_limit_is_rejected_without_recursion():
    depth = 100_000
    data = b"\x16" * depth + b"\x18" * depth
    with pytest.raises(TLVError, match="nested deeper"):
        tlv.decode(data)
    value = tlv.decode(b"\x16" * tlv.MAX_DEPTH + b"\x18" * tlv.MAX_DEPTH)
    levels = 1
    while value:
        (value,) = value
        levels += 1
    assert levels == tlv.MAX_DEPTH


def test_nested_value_round_trip():
    value = Structure(
        {
            0: Array([Structure({1: UInt(7), 2: TLVList([(None, True), (3, None)])})]),
            0xFF: b"\x01\x02",
            CommonProfileTag(70000): "x",
        }
    )
    assert tlv.decode(tlv.encode(value)) == value


@pytest.mark.parametrize(
    "value",
    [object(), {None: 1}, {256: 1}, {-1: 1}, UInt, 1 << 64, TLVList([1])],
    ids=["object", "anon-member", "tag-256", "tag-neg", "type", "int-too-big", "list-not-pairs"],
)
def test_unencodable_values_raise_tlv_error(value):
    with pytest.raises(TLVError):
        tlv.encode(value)


def test_uint_rejects_negative_and_oversized():
    with pytest.raises(TLVError):
        UInt(-1)
    with pytest.raises(TLVError):
        UInt(1 << 64)


def test_float32_overflow_is_a_tlv_error():
    with pytest.raises(TLVError):
        Float32(1e300)
