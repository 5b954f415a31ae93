"""Declarative TLV schemas, checked against byte layouts written from the spec tables."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ota_provider.core.codec import tlv
from ota_provider.core.codec.schema import (
    Bool,
    ListOf,
    OneOf,
    SchemaError,
    StructOf,
    TLVStruct,
    UInt8,
    UInt16,
    tlv_field,
)
from ota_provider.core.codec.tlv import TLVError
from ota_provider.core.ota.commands import QueryImage  # OTA_PROVIDER_SPEC.md §0.1, QueryImage (0x00)
from ota_provider.core.ota.types import DownloadProtocol
from tests.helpers.fuzzing import assert_only_raises, fuzz_inputs


@dataclass(frozen=True)
class Inner(TLVStruct):
    value: int | None = tlv_field(0, UInt16, nullable=True)


@dataclass(frozen=True)
class Outer(TLVStruct):
    inner: Inner = tlv_field(1, StructOf(Inner))


# Anonymous structure; context tags 0,1,2 (uint 1/2-octet), 3 (array of enum8), 6 (bool).
QUERY_IMAGE_BYTES = bytes.fromhex(
    "15"
    "2500f1ff"  # 0 = 0xFFF1 (uint16)
    "25010080"  # 1 = 0x8000
    "240201"  # 2 = 1
    "3603"
    "0400"
    "0402"
    "18"  # 3 = [0, 2]
    "2906"  # 6 = true
    "18"
)


def test_encode_matches_spec_layout():
    command = QueryImage(
        vendor_id=0xFFF1,
        product_id=0x8000,
        software_version=1,
        protocols_supported=(DownloadProtocol.BDX_SYNCHRONOUS, DownloadProtocol.HTTPS),
        requestor_can_consent=True,
    )
    assert command.encode() == QUERY_IMAGE_BYTES


def test_decode_spec_layout():
    command = QueryImage.decode(QUERY_IMAGE_BYTES)
    assert command.vendor_id == 0xFFF1
    assert command.protocols_supported == (DownloadProtocol.BDX_SYNCHRONOUS, DownloadProtocol.HTTPS)
    assert command.location is None
    assert command.requestor_can_consent is True


def test_unknown_tags_are_ignored_and_order_is_free():
    data = tlv.encode(
        tlv.Structure({0x20: "future field", 2: tlv.UInt(5), 1: tlv.UInt(2), 0: tlv.UInt(1), 3: tlv.Array()})
    )
    command = QueryImage.decode(data)
    assert (command.vendor_id, command.product_id, command.software_version) == (1, 2, 5)


def test_unknown_enum_values_are_kept():
    data = tlv.encode(tlv.Structure({0: tlv.UInt(1), 1: tlv.UInt(1), 2: tlv.UInt(1), 3: tlv.Array([tlv.UInt(9)])}))
    assert QueryImage.decode(data).protocols_supported == (9,)


@pytest.mark.parametrize(
    ("structure", "message"),
    [
        ({1: tlv.UInt(1), 2: tlv.UInt(1), 3: tlv.Array()}, r"vendor_id \(tag 0\) is missing"),
        ({0: tlv.UInt(0x10000), 1: tlv.UInt(1), 2: tlv.UInt(1), 3: tlv.Array()}, "does not fit uint16"),
        ({0: 5, 1: tlv.UInt(1), 2: tlv.UInt(1), 3: tlv.Array()}, "signedness"),
        ({0: "x", 1: tlv.UInt(1), 2: tlv.UInt(1), 3: tlv.Array()}, "expected an integer"),
        ({0: None, 1: tlv.UInt(1), 2: tlv.UInt(1), 3: tlv.Array()}, "is null"),
        ({0: tlv.UInt(1), 1: tlv.UInt(1), 2: tlv.UInt(1), 3: tlv.Array([tlv.UInt(0)] * 9)}, "at most 8"),
        ({0: tlv.UInt(1), 1: tlv.UInt(1), 2: tlv.UInt(1), 3: tlv.Array(), 5: "USA"}, "length 3 outside 2..2"),
        ({0: tlv.UInt(1), 1: tlv.UInt(1), 2: tlv.UInt(1), 3: tlv.Array(), 7: b"x" * 513}, "outside 0..512"),
        ({0: tlv.UInt(1), 1: tlv.UInt(1), 2: tlv.UInt(1), 3: tlv.Structure()}, "expected an array"),
    ],
)
def test_schema_violations_name_the_field(structure, message):
    with pytest.raises(SchemaError, match=message):
        QueryImage.decode(tlv.encode(tlv.Structure(structure)))


def test_not_a_structure():
    with pytest.raises(SchemaError, match="expected a structure"):
        QueryImage.decode(tlv.encode(tlv.Array()))


def test_encode_rejects_missing_mandatory_and_out_of_range():
    with pytest.raises(SchemaError, match="mandatory"):
        QueryImage(vendor_id=None, product_id=1, software_version=1, protocols_supported=()).encode()
    with pytest.raises(SchemaError, match="uint16"):
        QueryImage(vendor_id=70000, product_id=1, software_version=1, protocols_supported=()).encode()


def test_nullable_and_nested_structures():
    assert Outer(Inner(None)).encode() == bytes.fromhex("15 35 01 34 00 18 18".replace(" ", ""))
    assert Outer.decode(bytes.fromhex("153501250034121818")) == Outer(Inner(0x1234))
    assert Outer.decode(Outer(Inner(None)).encode()) == Outer(Inner(None))


@given(
    st.integers(0, 0xFFFF),
    st.integers(0, 0xFFFF),
    st.integers(0, 0xFFFF_FFFF),
    st.lists(st.sampled_from(DownloadProtocol), max_size=8).map(tuple),
    st.none() | st.integers(0, 0xFFFF),
    st.none() | st.text(min_size=2, max_size=2).filter(lambda s: len(s.encode()) == 2),
    st.none() | st.booleans(),
    st.none() | st.binary(max_size=512),
)
def test_round_trip(vid, pid, version, protocols, hw, location, consent, metadata):
    command = QueryImage(vid, pid, version, protocols, hw, location, consent, metadata)
    assert QueryImage.decode(command.encode()) == command


def test_fuzz_schema_decoder_raises_only_tlv_errors():
    corpus = [QUERY_IMAGE_BYTES, QueryImage(1, 2, 3, (0, 1, 2), 4, "XX", False, b"m" * 40).encode()]
    inputs = fuzz_inputs(corpus, count=100_000, seed=0x5C4E)
    assert assert_only_raises(QueryImage.decode, TLVError, inputs) == 100_000


@dataclass
class _Flags(TLVStruct):
    """Shaped like the IM's ReportDataMessage: flags and arrays that are absent while false or empty."""

    more: bool = tlv_field(3, Bool, optional=True, default=False, omit_default=True)
    items: list = tlv_field(1, ListOf(UInt8), optional=True, default_factory=list, omit_default=True)
    always: bool = tlv_field(0, Bool, optional=True, default=False)


def test_an_optional_field_at_its_default_is_left_off_only_when_asked():
    assert tlv.decode(_Flags().encode()) == tlv.Structure({0: False})
    assert tlv.decode(_Flags(True, [1]).encode()) == tlv.Structure({0: False, 1: tlv.Array([tlv.UInt(1)]), 3: True})
    assert _Flags.from_tlv(tlv.Structure()) == _Flags()  # absent: the default, a fresh list each time
    assert _Flags().items is not _Flags().items


@dataclass(frozen=True)
class _Status(TLVStruct):
    code: int = tlv_field(0, UInt8)


@dataclass(frozen=True)
class _Data(TLVStruct):
    value: int = tlv_field(1, UInt8)


def test_one_of_reads_and_writes_the_member_its_value_chooses():
    """InvokeResponseIB (Core spec 10.6.12): a structure with CommandDataIB at tag 0 or
    CommandStatusIB at tag 1, never both."""
    choice = OneOf(((0, _Data), (1, _Status)))
    assert choice.to_tlv(_Status(5)) == tlv.Structure({1: tlv.Structure({0: tlv.UInt(5)})})
    assert choice.from_tlv(tlv.Structure({0: tlv.Structure({1: tlv.UInt(7)})})) == _Data(7)
    with pytest.raises(SchemaError, match="holds none of"):
        choice.from_tlv(tlv.Structure({2: True}))


@dataclass(frozen=True)
class _Lenient(TLVStruct):
    NULL_AS_ABSENT = True
    code: int = tlv_field(1, UInt8)
    node: int | None = tlv_field(0, UInt8, optional=True)


def test_a_null_for_an_optional_member_reads_as_absent_where_the_struct_says_so():
    assert _Lenient.from_tlv(tlv.Structure({0: None, 1: tlv.UInt(2)})) == _Lenient(2)
    with pytest.raises(SchemaError, match="is null"):
        _Lenient.from_tlv(tlv.Structure({1: None}))  # a mandatory member is never null
