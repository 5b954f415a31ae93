"""Matter TLV (Matter Core Specification, Appendix A).

Python values map onto TLV element types as follows:

=====================  ==========================================
Python                 TLV
=====================  ==========================================
``bool``               Boolean
``int``                Signed integer (minimal width on encode)
``UInt``               Unsigned integer (minimal width on encode)
``float``              Double precision floating point
``Float32``            Single precision floating point
``str``                UTF-8 string (minimal length-prefix width)
``bytes``              Octet string (minimal length-prefix width)
``None``               Null
``dict``/``Structure`` Structure (keys are tags, unique)
``list``/``Array``     Array (anonymous elements)
``TLVList``            List (ordered ``(tag, value)`` pairs)
=====================  ==========================================

Tags: ``None`` is anonymous, a plain ``int`` 0..255 is a context tag, and
:class:`CommonProfileTag`, :class:`ImplicitProfileTag` and
:class:`FullyQualifiedTag` are the profile forms.

The decoder is iterative (no recursion), bounds nesting depth, and checks every
length against the bytes actually present before slicing, so hostile input can
cost no more memory than its own size. Every failure is a :class:`TLVError`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any, Final

__all__ = [
    "MAX_DEPTH",
    "Array",
    "CommonProfileTag",
    "Float32",
    "FullyQualifiedTag",
    "ImplicitProfileTag",
    "Structure",
    "TLVError",
    "TLVList",
    "Tag",
    "UInt",
    "decode",
    "decode_prefix",
    "encode",
    "encode_element",
]


class TLVError(ValueError):
    """Malformed TLV, or a value that TLV cannot carry."""


class UInt(int):
    """An integer that is encoded as a TLV *unsigned* integer."""

    __slots__ = ()

    def __new__(cls, value: int = 0) -> UInt:
        if value < 0 or value > 0xFFFF_FFFF_FFFF_FFFF:
            raise TLVError(f"unsigned integer out of range: {int(value)}")
        return super().__new__(cls, value)

    def __repr__(self) -> str:
        return f"UInt({int(self)})"


class Float32(float):
    """A float that is encoded as a TLV single-precision float.

    The value is rounded to single precision on construction, so a decoded
    ``Float32`` compares equal to the one that was encoded.
    """

    __slots__ = ()

    def __new__(cls, value: float = 0.0) -> Float32:
        try:
            rounded = struct.unpack("<f", struct.pack("<f", value))[0]
        except OverflowError as exc:
            raise TLVError(f"value does not fit a single-precision float: {value!r}") from exc
        return super().__new__(cls, rounded)

    def __repr__(self) -> str:
        return f"Float32({float(self)!r})"


@dataclass(frozen=True, slots=True)
class CommonProfileTag:
    """A tag in the Matter common profile (2- or 4-byte tag number)."""

    number: int


@dataclass(frozen=True, slots=True)
class ImplicitProfileTag:
    """A tag in the profile implied by the surrounding context (2- or 4-byte tag number)."""

    number: int


@dataclass(frozen=True, slots=True)
class FullyQualifiedTag:
    """A tag naming its vendor and profile explicitly (2- or 4-byte tag number)."""

    vendor_id: int
    profile: int
    number: int


Tag = None | int | CommonProfileTag | ImplicitProfileTag | FullyQualifiedTag


class Structure(dict):
    """A decoded TLV structure: tag -> value, in wire order."""

    __slots__ = ()


class Array(list):
    """A decoded TLV array: anonymous values, in wire order."""

    __slots__ = ()


class TLVList(list):
    """A TLV list: ordered ``(tag, value)`` pairs; tags may repeat or be anonymous."""

    __slots__ = ()


# Element types (low 5 bits of the control octet).
_INT8, _INT16, _INT32, _INT64 = 0x00, 0x01, 0x02, 0x03
_UINT8, _UINT16, _UINT32, _UINT64 = 0x04, 0x05, 0x06, 0x07
_FALSE, _TRUE = 0x08, 0x09
_FLOAT32, _FLOAT64 = 0x0A, 0x0B
_UTF8_1, _UTF8_8 = 0x0C, 0x0F
_BYTES_1, _BYTES_8 = 0x10, 0x13
_NULL = 0x14
_STRUCT, _ARRAY, _LIST = 0x15, 0x16, 0x17
_END = 0x18

# Tag control (high 3 bits of the control octet).
_TAG_ANON = 0x00
_TAG_CONTEXT = 0x20
_TAG_COMMON_2, _TAG_COMMON_4 = 0x40, 0x60
_TAG_IMPLICIT_2, _TAG_IMPLICIT_4 = 0x80, 0xA0
_TAG_FQ_6, _TAG_FQ_8 = 0xC0, 0xE0

MAX_DEPTH: Final = 32
"""Deepest container nesting accepted by the decoder (Matter messages nest < 10)."""

_SIGNED_FMT = {_INT8: "<b", _INT16: "<h", _INT32: "<i", _INT64: "<q"}
_UNSIGNED_FMT = {_UINT8: "<B", _UINT16: "<H", _UINT32: "<I", _UINT64: "<Q"}
_WIDTH = {0: 1, 1: 2, 2: 4, 3: 8}
_LEN_FMT = {1: "<B", 2: "<H", 4: "<I", 8: "<Q"}


# --------------------------------------------------------------------------- encoding


def _encode_tag(tag: Tag, out: bytearray) -> int:
    """Append the tag bytes and return the tag-control bits for the control octet."""
    if tag is None:
        return _TAG_ANON
    if isinstance(tag, bool):
        raise TLVError(f"invalid tag: {tag!r}")
    if isinstance(tag, int):
        if not 0 <= tag <= 0xFF:
            raise TLVError(f"context tag out of range 0..255: {tag}")
        out.append(tag)
        return _TAG_CONTEXT
    if isinstance(tag, CommonProfileTag | ImplicitProfileTag):
        short, long = (
            (_TAG_COMMON_2, _TAG_COMMON_4) if isinstance(tag, CommonProfileTag) else (_TAG_IMPLICIT_2, _TAG_IMPLICIT_4)
        )
        if 0 <= tag.number <= 0xFFFF:
            out += struct.pack("<H", tag.number)
            return short
        if 0 <= tag.number <= 0xFFFF_FFFF:
            out += struct.pack("<I", tag.number)
            return long
        raise TLVError(f"profile tag number out of range: {tag.number}")
    if isinstance(tag, FullyQualifiedTag):
        if not (0 <= tag.vendor_id <= 0xFFFF and 0 <= tag.profile <= 0xFFFF):
            raise TLVError(f"fully-qualified tag vendor/profile out of range: {tag}")
        out += struct.pack("<HH", tag.vendor_id, tag.profile)
        if 0 <= tag.number <= 0xFFFF:
            out += struct.pack("<H", tag.number)
            return _TAG_FQ_6
        if 0 <= tag.number <= 0xFFFF_FFFF:
            out += struct.pack("<I", tag.number)
            return _TAG_FQ_8
        raise TLVError(f"fully-qualified tag number out of range: {tag.number}")
    raise TLVError(f"invalid tag: {tag!r}")


def _width_code(length: int) -> int:
    if length <= 0xFF:
        return 0
    if length <= 0xFFFF:
        return 1
    if length <= 0xFFFF_FFFF:
        return 2
    return 3


def _signed_width_code(value: int) -> int:
    for code, bits in ((0, 8), (1, 16), (2, 32), (3, 64)):
        if -(1 << (bits - 1)) <= value < (1 << (bits - 1)):
            return code
    raise TLVError(f"signed integer out of 64-bit range: {value}")


def _header(tag: Tag, element_type: int) -> bytearray:
    tag_bytes = bytearray()
    control = _encode_tag(tag, tag_bytes) | element_type
    return bytearray((control,)) + tag_bytes


def encode_element(tag: Tag, value: Any, out: bytearray | None = None) -> bytearray:
    """Append one element (with its tag) to ``out`` and return ``out``."""
    if out is None:
        out = bytearray()
    # An explicit stack keeps deeply nested input from exhausting Python's recursion limit.
    stack: list[tuple[Tag, Any] | None] = [(tag, value)]
    depth = 0
    while stack:
        item = stack.pop()
        if item is None:
            out.append(_END)
            depth -= 1
            continue
        item_tag, item_value = item
        children = _encode_scalar_or_open(item_tag, item_value, out)
        if children is not None:
            depth += 1
            if depth > MAX_DEPTH:
                raise TLVError(f"containers nested deeper than {MAX_DEPTH}")
            stack.append(None)
            stack.extend(reversed(children))
    return out


def _encode_scalar_or_open(tag: Tag, value: Any, out: bytearray) -> list[tuple[Tag, Any]] | None:
    """Encode a scalar, or open a container and return its children (tag, value) pairs."""
    if isinstance(value, bool):
        out += _header(tag, _TRUE if value else _FALSE)
    elif isinstance(value, UInt):
        code = _width_code(int(value))
        out += _header(tag, _UINT8 + code)
        out += struct.pack(_UNSIGNED_FMT[_UINT8 + code], int(value))
    elif isinstance(value, int):
        code = _signed_width_code(value)
        out += _header(tag, _INT8 + code)
        out += struct.pack(_SIGNED_FMT[_INT8 + code], value)
    elif isinstance(value, Float32):
        out += _header(tag, _FLOAT32)
        out += struct.pack("<f", float(value))
    elif isinstance(value, float):
        out += _header(tag, _FLOAT64)
        out += struct.pack("<d", value)
    elif isinstance(value, str):
        data = value.encode("utf-8")
        code = _width_code(len(data))
        out += _header(tag, _UTF8_1 + code)
        out += struct.pack(_LEN_FMT[_WIDTH[code]], len(data))
        out += data
    elif isinstance(value, bytes | bytearray | memoryview):
        data = bytes(value)
        code = _width_code(len(data))
        out += _header(tag, _BYTES_1 + code)
        out += struct.pack(_LEN_FMT[_WIDTH[code]], len(data))
        out += data
    elif value is None:
        out += _header(tag, _NULL)
    elif isinstance(value, TLVList):
        out += _header(tag, _LIST)
        return [_list_pair(pair) for pair in value]
    elif isinstance(value, dict):
        out += _header(tag, _STRUCT)
        for child_tag in value:
            if child_tag is None:
                raise TLVError("structure members must be tagged")
        return list(value.items())
    elif isinstance(value, list | tuple):
        out += _header(tag, _ARRAY)
        return [(None, child) for child in value]
    else:
        raise TLVError(f"cannot encode {type(value).__name__} as TLV")
    return None


def _list_pair(pair: Any) -> tuple[Tag, Any]:
    if not (isinstance(pair, tuple) and len(pair) == 2):
        raise TLVError("TLVList items must be (tag, value) pairs")
    return pair


def encode(value: Any, tag: Tag = None) -> bytes:
    """Encode one element (anonymous unless ``tag`` is given)."""
    return bytes(encode_element(tag, value))


# --------------------------------------------------------------------------- decoding


class _Reader:
    __slots__ = ("data", "end", "pos")

    def __init__(self, data: bytes | bytearray | memoryview, start: int = 0) -> None:
        self.data = memoryview(data).cast("B") if not isinstance(data, bytes) else memoryview(data)
        self.pos = start
        self.end = len(self.data)

    def take(self, count: int, what: str) -> memoryview:
        if count > self.end - self.pos:
            raise TLVError(
                f"truncated TLV: {what} needs {count} bytes at offset {self.pos}, {self.end - self.pos} left"
            )
        chunk = self.data[self.pos : self.pos + count]
        self.pos += count
        return chunk

    def unpack(self, fmt: str, size: int, what: str) -> Any:
        return struct.unpack(fmt, self.take(size, what))[0]


def _decode_tag(reader: _Reader, tag_control: int) -> Tag:
    if tag_control == _TAG_ANON:
        return None
    if tag_control == _TAG_CONTEXT:
        return reader.unpack("<B", 1, "context tag")
    if tag_control == _TAG_COMMON_2:
        return CommonProfileTag(reader.unpack("<H", 2, "profile tag"))
    if tag_control == _TAG_COMMON_4:
        return CommonProfileTag(reader.unpack("<I", 4, "profile tag"))
    if tag_control == _TAG_IMPLICIT_2:
        return ImplicitProfileTag(reader.unpack("<H", 2, "profile tag"))
    if tag_control == _TAG_IMPLICIT_4:
        return ImplicitProfileTag(reader.unpack("<I", 4, "profile tag"))
    vendor, profile = struct.unpack("<HH", reader.take(4, "fully-qualified tag"))
    if tag_control == _TAG_FQ_6:
        return FullyQualifiedTag(vendor, profile, reader.unpack("<H", 2, "fully-qualified tag"))
    return FullyQualifiedTag(vendor, profile, reader.unpack("<I", 4, "fully-qualified tag"))


class _Frame:
    """A container being filled while decoding."""

    __slots__ = ("container", "kind", "tag")

    def __init__(self, kind: int, tag: Tag) -> None:
        self.kind = kind
        self.tag = tag
        self.container: Structure | Array | TLVList
        if kind == _STRUCT:
            self.container = Structure()
        elif kind == _ARRAY:
            self.container = Array()
        else:
            self.container = TLVList()

    def add(self, tag: Tag, value: Any) -> None:
        container = self.container
        if isinstance(container, Structure):
            if tag is None:
                raise TLVError("anonymous element inside a structure")
            if tag in container:
                raise TLVError(f"duplicate tag {tag!r} in structure")
            container[tag] = value
        elif isinstance(container, Array):
            if tag is not None:
                raise TLVError(f"tagged element {tag!r} inside an array")
            container.append(value)
        else:
            container.append((tag, value))


def _decode_scalar(reader: _Reader, element_type: int) -> Any:
    if element_type in _SIGNED_FMT:
        size = _WIDTH[element_type - _INT8]
        return reader.unpack(_SIGNED_FMT[element_type], size, "signed integer")
    if element_type in _UNSIGNED_FMT:
        size = _WIDTH[element_type - _UINT8]
        return UInt(reader.unpack(_UNSIGNED_FMT[element_type], size, "unsigned integer"))
    if element_type == _FALSE:
        return False
    if element_type == _TRUE:
        return True
    if element_type == _FLOAT32:
        return Float32(reader.unpack("<f", 4, "float"))
    if element_type == _FLOAT64:
        return reader.unpack("<d", 8, "double")
    if _UTF8_1 <= element_type <= _UTF8_8:
        width = _WIDTH[element_type - _UTF8_1]
        length = reader.unpack(_LEN_FMT[width], width, "string length")
        raw = reader.take(length, "UTF-8 string")
        try:
            return bytes(raw).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise TLVError(f"invalid UTF-8 string: {exc.reason}") from exc
    if _BYTES_1 <= element_type <= _BYTES_8:
        width = _WIDTH[element_type - _BYTES_1]
        length = reader.unpack(_LEN_FMT[width], width, "octet string length")
        return bytes(reader.take(length, "octet string"))
    if element_type == _NULL:
        return None
    raise TLVError(f"reserved TLV element type 0x{element_type:02x}")


def _decode_one(reader: _Reader, max_depth: int) -> tuple[Tag, Any]:
    """Decode exactly one complete element (scalar or container) starting at ``reader.pos``."""
    stack: list[_Frame] = []
    while True:
        control = reader.unpack("<B", 1, "control octet")
        tag_control = control & 0xE0
        element_type = control & 0x1F
        if element_type == _END:
            if tag_control != _TAG_ANON:
                raise TLVError("end-of-container must be anonymous")
            if not stack:
                raise TLVError("end-of-container outside any container")
            frame = stack.pop()
            tag, value = frame.tag, frame.container
        else:
            tag = _decode_tag(reader, tag_control)
            if element_type in (_STRUCT, _ARRAY, _LIST):
                if len(stack) >= max_depth:
                    raise TLVError(f"containers nested deeper than {max_depth}")
                stack.append(_Frame(element_type, tag))
                continue
            value = _decode_scalar(reader, element_type)
        if not stack:
            return tag, value
        stack[-1].add(tag, value)


def decode_prefix(
    data: bytes | bytearray | memoryview, start: int = 0, *, max_depth: int = MAX_DEPTH
) -> tuple[Tag, Any, int]:
    """Decode the element at ``start``; return ``(tag, value, offset after it)``."""
    reader = _Reader(data, start)
    tag, value = _decode_one(reader, max_depth)
    return tag, value, reader.pos


def decode(data: bytes | bytearray | memoryview, *, max_depth: int = MAX_DEPTH) -> Any:
    """Decode a buffer holding exactly one element; return its value (the tag is dropped)."""
    _tag, value, end = decode_prefix(data, max_depth=max_depth)
    if end != len(data):
        raise TLVError(f"{len(data) - end} trailing bytes after the TLV element")
    return value
