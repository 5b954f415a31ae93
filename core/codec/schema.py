"""Declarative TLV structure schemas.

A message or command layout is written as a dataclass whose fields carry their
context tag and TLV type, so the code reads like the spec table it mirrors (use
``kw_only=True`` when an optional field comes before a mandatory one)::

    @dataclass(frozen=True)
    class ApplyUpdateRequest(TLVStruct):
        update_token: bytes = tlv_field(0, OctetString(8, 32))
        new_version: int = tlv_field(1, UInt32)

Decoding checks types and constraints, ignores unknown context tags (as the spec
requires for forward compatibility) and raises :class:`SchemaError` (a
:class:`TLVError`) naming the field on any violation. An optional field takes its
default when absent; ``omit_default`` leaves it off the wire while it holds it (the
Interaction Model's empty arrays and false flags).
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol, Self

from . import tlv
from .tlv import TLVError

__all__ = [
    "AnyTLV",
    "Bool",
    "Double",
    "EmptyAsAbsent",
    "EnumType",
    "FieldType",
    "Float",
    "Int8",
    "Int16",
    "Int32",
    "Int64",
    "ListOf",
    "OctetString",
    "OneOf",
    "SchemaError",
    "StructOf",
    "TLVStruct",
    "UInt8",
    "UInt16",
    "UInt32",
    "UInt64",
    "Utf8String",
    "tlv_field",
]


class SchemaError(TLVError):
    """A well-formed TLV element that does not match the expected layout."""


class FieldType:
    """Converts between a Python value and the TLV value of one field."""

    def to_tlv(self, value: Any) -> Any:
        raise NotImplementedError

    def from_tlv(self, value: Any) -> Any:
        raise NotImplementedError


@dataclass(frozen=True)
class _IntType(FieldType):
    bits: int
    signed: bool

    @property
    def bounds(self) -> tuple[int, int]:
        if self.signed:
            return -(1 << (self.bits - 1)), (1 << (self.bits - 1)) - 1
        return 0, (1 << self.bits) - 1

    def _check(self, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise SchemaError(f"expected an integer, got {type(value).__name__}")
        low, high = self.bounds
        if not low <= value <= high:
            kind = "int" if self.signed else "uint"
            raise SchemaError(f"{int(value)} does not fit {kind}{self.bits}")
        return int(value)

    def to_tlv(self, value: Any) -> Any:
        value = self._check(value)
        return value if self.signed else tlv.UInt(value)

    def from_tlv(self, value: Any) -> int:
        # The TLV signedness must match: Matter decoders reject a signed int for an
        # unsigned field and vice versa.
        if isinstance(value, bool) or not isinstance(value, int):
            raise SchemaError(f"expected an integer, got {type(value).__name__}")
        if isinstance(value, tlv.UInt) == self.signed:
            raise SchemaError("integer signedness does not match the field")
        return self._check(value)


UInt8 = _IntType(8, signed=False)
UInt16 = _IntType(16, signed=False)
UInt32 = _IntType(32, signed=False)
UInt64 = _IntType(64, signed=False)
Int8 = _IntType(8, signed=True)
Int16 = _IntType(16, signed=True)
Int32 = _IntType(32, signed=True)
Int64 = _IntType(64, signed=True)


@dataclass(frozen=True)
class EnumType(FieldType):
    """An enum8/enum16 field; unknown values are kept as plain ints (the spec allows new values)."""

    enum_class: type[enum.IntEnum]
    bits: int = 8

    def to_tlv(self, value: Any) -> Any:
        return _IntType(self.bits, signed=False).to_tlv(int(value))

    def from_tlv(self, value: Any) -> Any:
        raw = _IntType(self.bits, signed=False).from_tlv(value)
        try:
            return self.enum_class(raw)
        except ValueError:
            return raw


class _BoolType(FieldType):
    def to_tlv(self, value: Any) -> Any:
        if not isinstance(value, bool):
            raise SchemaError(f"expected a boolean, got {type(value).__name__}")
        return value

    from_tlv = to_tlv


Bool = _BoolType()


@dataclass(frozen=True)
class _FloatType(FieldType):
    single: bool

    def to_tlv(self, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise SchemaError(f"expected a number, got {type(value).__name__}")
        return tlv.Float32(value) if self.single else float(value)

    def from_tlv(self, value: Any) -> float:
        if not isinstance(value, float):
            raise SchemaError(f"expected a float, got {type(value).__name__}")
        return float(value)


Float = _FloatType(single=True)
Double = _FloatType(single=False)


@dataclass(frozen=True)
class Utf8String(FieldType):
    """UTF-8 string with a length constraint in *bytes*, as the spec tables give it."""

    min_len: int = 0
    max_len: int | None = None

    def _check(self, value: Any) -> str:
        if not isinstance(value, str):
            raise SchemaError(f"expected a string, got {type(value).__name__}")
        _check_length(len(value.encode("utf-8")), self.min_len, self.max_len, "string")
        return value

    to_tlv = _check
    from_tlv = _check


@dataclass(frozen=True)
class OctetString(FieldType):
    min_len: int = 0
    max_len: int | None = None

    def to_tlv(self, value: Any) -> bytes:
        if not isinstance(value, bytes | bytearray):
            raise SchemaError(f"expected bytes, got {type(value).__name__}")
        _check_length(len(value), self.min_len, self.max_len, "octet string")
        return bytes(value)

    from_tlv = to_tlv


@dataclass(frozen=True)
class EmptyAsAbsent(FieldType):
    """An optional field that real peers send empty to mean "absent".

    matter.js sends AddNOC's ICACValue as an empty octet string when there is no ICAC, and the
    SDK reads an empty ICAC as none (both in AddNOC/UpdateNOC and in CASE's Sigma2/Sigma3). So an
    empty value decodes to ``None``; we never encode an empty one.
    """

    inner: FieldType

    def to_tlv(self, value: Any) -> Any:
        return self.inner.to_tlv(value)

    def from_tlv(self, value: Any) -> Any:
        if isinstance(value, bytes | bytearray | str) and len(value) == 0:
            return None
        return self.inner.from_tlv(value)


def _check_length(length: int, min_len: int, max_len: int | None, what: str) -> None:
    if length < min_len or (max_len is not None and length > max_len):
        bound = f"{min_len}..{max_len}" if max_len is not None else f">= {min_len}"
        raise SchemaError(f"{what} length {length} outside {bound}")


@dataclass(frozen=True)
class ListOf(FieldType):
    """A spec "list" field, which Matter encodes as a TLV array."""

    item: FieldType
    max_items: int | None = None

    def to_tlv(self, value: Any) -> Any:
        items = list(value)
        self._check_count(len(items))
        return [self.item.to_tlv(v) for v in items]

    def from_tlv(self, value: Any) -> tuple[Any, ...]:
        if not isinstance(value, tlv.Array):
            raise SchemaError(f"expected an array, got {type(value).__name__}")
        self._check_count(len(value))
        return tuple(self.item.from_tlv(v) for v in value)

    def _check_count(self, count: int) -> None:
        if self.max_items is not None and count > self.max_items:
            raise SchemaError(f"{count} entries, at most {self.max_items} allowed")


class _Element(Protocol):
    """A value with a TLV form of its own: a :class:`TLVStruct`, or a hand-written IM path (a TLV
    list whose members may be absent)."""

    @classmethod
    def from_tlv(cls, value: Any) -> Any: ...

    def to_tlv(self) -> Any: ...


@dataclass(frozen=True)
class StructOf(FieldType):
    struct_class: type[_Element]

    def to_tlv(self, value: Any) -> Any:
        return value.to_tlv()

    def from_tlv(self, value: Any) -> Any:
        return self.struct_class.from_tlv(value)


class _AnyType(FieldType):
    """Any TLV value, as it is (a command's fields, an attribute's data)."""

    def to_tlv(self, value: Any) -> Any:
        return value

    def from_tlv(self, value: Any) -> Any:
        return value


AnyTLV = _AnyType()


@dataclass(frozen=True)
class OneOf(FieldType):
    """A structure holding exactly one of several members, chosen by the value's class (the IM's
    InvokeResponseIB: a CommandDataIB under tag 0, or a CommandStatusIB under tag 1)."""

    choices: tuple[tuple[int, type[_Element]], ...]

    def to_tlv(self, value: Any) -> Any:
        for tag, kind in self.choices:
            if isinstance(value, kind):
                return tlv.Structure({tag: value.to_tlv()})
        raise SchemaError(f"expected one of {', '.join(k.__name__ for _, k in self.choices)}")

    def from_tlv(self, value: Any) -> Any:
        if not isinstance(value, tlv.Structure):
            raise SchemaError(f"expected a structure, got {type(value).__name__}")
        for tag, kind in self.choices:
            if tag in value:
                return kind.from_tlv(value[tag])
        raise SchemaError(f"holds none of {', '.join(k.__name__ for _, k in self.choices)}")


@dataclass(frozen=True)
class _FieldSpec:
    tag: int
    type: FieldType
    optional: bool
    nullable: bool
    omit_default: bool = False
    default: Any = None  # what an optional field holds when absent (compared with, never handed out)


_NO_DEFAULT: Any = dataclasses.MISSING


def tlv_field(
    tag: int,
    field_type: FieldType,
    *,
    optional: bool = False,
    nullable: bool = False,
    default: Any = _NO_DEFAULT,
    default_factory: Callable[[], Any] | None = None,
    omit_default: bool = False,
) -> Any:
    """Declare a dataclass field carried under context ``tag``.

    ``optional`` fields default to ``None`` (absent on the wire) unless given a default;
    ``nullable`` fields may carry TLV null; ``omit_default`` keeps an optional field off the
    wire while it holds its default.
    """
    if not 0 <= tag <= 0xFF:
        raise ValueError(f"context tag out of range: {tag}")
    if optional and default is _NO_DEFAULT and default_factory is None:
        default = None
    if omit_default and not optional:
        raise ValueError("only an optional field is left off the wire at its default")
    held = default_factory() if default_factory is not None else (None if default is _NO_DEFAULT else default)
    spec = _FieldSpec(tag, field_type, optional, nullable, omit_default, held)
    if default_factory is not None:
        return dataclasses.field(default_factory=default_factory, metadata={"tlv": spec})
    return dataclasses.field(default=default, metadata={"tlv": spec})


def _at_default(value: Any, default: Any) -> bool:
    if isinstance(value, list | tuple) and isinstance(default, list | tuple):
        return tuple(value) == tuple(default)
    return bool(value == default)


class TLVStruct:
    """Base for dataclasses declared with :func:`tlv_field`.

    ``NULL_AS_ABSENT``: a null where an optional field is not nullable is read as the field being
    absent (the Interaction Model's decoders read it so), not refused."""

    NULL_AS_ABSENT: ClassVar[bool] = False
    _tlv_fields: ClassVar[tuple[tuple[str, _FieldSpec], ...]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # Fields are collected lazily: the dataclass decorator runs after this hook.
        cls._tlv_fields = ()

    @classmethod
    def _fields(cls) -> tuple[tuple[str, _FieldSpec], ...]:
        if not cls.__dict__.get("_tlv_fields"):
            specs = [(f.name, f.metadata["tlv"]) for f in dataclasses.fields(cls) if "tlv" in f.metadata]  # type: ignore[arg-type]
            tags = [spec.tag for _, spec in specs]
            if len(set(tags)) != len(tags):
                raise TypeError(f"{cls.__name__}: duplicate context tags")
            cls._tlv_fields = tuple(sorted(specs, key=lambda item: item[1].tag))
        return cls._tlv_fields

    def to_tlv(self) -> tlv.Structure:
        """The TLV structure value, members in ascending tag order."""
        out = tlv.Structure()
        for name, spec in self._fields():
            value = getattr(self, name)
            if value is None:
                if spec.nullable:
                    out[spec.tag] = None
                elif not spec.optional:
                    raise SchemaError(f"{type(self).__name__}.{name} is mandatory")
                continue
            if spec.omit_default and _at_default(value, spec.default):
                continue
            try:
                out[spec.tag] = spec.type.to_tlv(value)
            except SchemaError as exc:
                raise SchemaError(f"{type(self).__name__}.{name}: {exc}") from None
        return out

    def encode(self, tag: tlv.Tag = None) -> bytes:
        return tlv.encode(self.to_tlv(), tag)

    @classmethod
    def from_tlv(cls, value: Any) -> Self:
        if not isinstance(value, tlv.Structure):
            raise SchemaError(f"{cls.__name__}: expected a structure, got {type(value).__name__}")
        kwargs: dict[str, Any] = {}
        for name, spec in cls._fields():
            if spec.tag not in value:
                if not spec.optional:
                    raise SchemaError(f"{cls.__name__}.{name} (tag {spec.tag}) is missing")
                continue
            raw = value[spec.tag]
            if raw is None:
                if spec.optional and not spec.nullable and cls.NULL_AS_ABSENT:
                    continue
                if not spec.nullable:
                    raise SchemaError(f"{cls.__name__}.{name} (tag {spec.tag}) is null")
                kwargs[name] = None
                continue
            try:
                kwargs[name] = spec.type.from_tlv(raw)
            except SchemaError as exc:
                raise SchemaError(f"{cls.__name__}.{name} (tag {spec.tag}): {exc}") from None
        return cls(**kwargs)

    @classmethod
    def decode(cls, data: bytes | bytearray | memoryview) -> Self:
        return cls.from_tlv(tlv.decode(data))
