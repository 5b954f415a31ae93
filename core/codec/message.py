"""Matter message header and protocol (exchange) header (Core spec 4.4).

Wire layout, little-endian::

    Message Flags (1) | Session ID (2) | Security Flags (1) | Message Counter (4)
    [Source Node ID (8) if S] [Destination Node ID (8) if DSIZ=1 | Group ID (2) if DSIZ=2]
    [Message Extensions: length (2) + data, if MX]
    payload (encrypted for secure sessions; starts with the protocol header)

    Exchange Flags (1) | Opcode (1) | Exchange ID (2) | [Vendor ID (2) if V]
    Protocol ID (2) | [Acknowledged Message Counter (4) if A]
    [Secured Extensions: length (2) + data, if SX] | application payload

Decoders raise :class:`MessageError` and nothing else on malformed input.
"""

from __future__ import annotations

import enum
import struct
from typing import NamedTuple

__all__ = [
    "MessageError",
    "MessageHeader",
    "PayloadHeader",
    "SessionType",
]


class MessageError(ValueError):
    """A malformed message or protocol header."""


class SessionType(enum.IntEnum):
    UNICAST = 0
    GROUP = 1


_FLAG_S = 0x04  # source node id present
_DSIZ_MASK = 0x03
_DSIZ_NONE, _DSIZ_NODE, _DSIZ_GROUP = 0, 1, 2
# The flags byte of the headers the fast path decodes (version 0, no group id), and each one's size.
_FAST_HEADER_SIZES = {0x00: 8, _FLAG_S: 16, _DSIZ_NODE: 16, _FLAG_S | _DSIZ_NODE: 24}
_VERSION_SHIFT = 4

_SEC_P = 0x80  # privacy
_SEC_C = 0x40  # control message
_SEC_MX = 0x20  # message extensions
_SEC_SESSION_MASK = 0x03

MESSAGE_VERSION = 0
_SESSION_TYPES = (SessionType.UNICAST, SessionType.GROUP)


_BHBI = struct.Struct("<BHBI")
_Q = struct.Struct("<Q")
_BBHH = struct.Struct("<BBHH")
_I = struct.Struct("<I")
_tuple_new = tuple.__new__  # builds a header the decoder already knows to be in range, unchecked


def secure_unicast_header(session_id: int, counter: int, control: bool = False) -> bytes:
    """``MessageHeader(session_id=..., message_counter=..., control=...).encode()`` for a message on
    a unicast session (no node ids, no extensions), without building the header: every message a
    session seals has this form."""
    return _BHBI.pack(0, session_id, _SEC_C if control else 0, counter)


_BBHHI = struct.Struct("<BBHHI")


def payload_header_bytes(
    exchange_id: int, protocol_id: int, opcode: int, initiator: bool, needs_ack: bool, ack_counter: int | None
) -> bytes:
    """``PayloadHeader(...).encode()`` with no vendor id and no secured extensions, without building
    the header (the exchange layer sends every message so)."""
    flags = (_EX_I if initiator else 0) | (_EX_R if needs_ack else 0)
    if ack_counter is None:
        return _BBHH.pack(flags, opcode, exchange_id, protocol_id)
    return _BBHHI.pack(flags | _EX_A, opcode, exchange_id, protocol_id, ack_counter)


def _take(data: memoryview, pos: int, size: int, what: str) -> tuple[bytes, int]:
    if size > len(data) - pos:
        raise MessageError(f"truncated message: {what} needs {size} bytes at offset {pos}")
    return bytes(data[pos : pos + size]), pos + size


class _MessageHeaderFields(NamedTuple):
    session_id: int = 0
    message_counter: int = 0
    source_node_id: int | None = None
    destination_node_id: int | None = None
    destination_group_id: int | None = None
    session_type: SessionType = SessionType.UNICAST
    privacy: bool = False
    control: bool = False
    extensions: bytes | None = None


class MessageHeader(_MessageHeaderFields):
    """The unencrypted part of every Matter message. Immutable; a tuple underneath because one is
    decoded for every datagram and a tuple is built in one step (the fast path below)."""

    __slots__ = ()

    def __new__(
        cls,
        session_id: int = 0,
        message_counter: int = 0,
        source_node_id: int | None = None,
        destination_node_id: int | None = None,
        destination_group_id: int | None = None,
        session_type: SessionType = SessionType.UNICAST,
        privacy: bool = False,
        control: bool = False,
        extensions: bytes | None = None,
    ) -> MessageHeader:
        if destination_node_id is not None and destination_group_id is not None:
            raise MessageError("a message has either a destination node id or a group id, not both")
        for name, value, bits in (
            ("session_id", session_id, 16),
            ("message_counter", message_counter, 32),
            ("source_node_id", source_node_id, 64),
            ("destination_node_id", destination_node_id, 64),
            ("destination_group_id", destination_group_id, 16),
        ):
            if value is not None and not 0 <= value < (1 << bits):
                raise MessageError(f"{name} out of range: {value}")
        if extensions is not None and len(extensions) > 0xFFFF:
            raise MessageError("message extensions longer than 65535 bytes")
        fields = (session_id, message_counter, source_node_id, destination_node_id, destination_group_id)
        return _tuple_new(cls, (*fields, session_type, privacy, control, extensions))

    @property
    def is_secure(self) -> bool:
        """Unsecured messages use session id 0 with the unicast session type."""
        return not (self.session_id == 0 and self.session_type == SessionType.UNICAST)

    @property
    def security_flags(self) -> int:
        flags = int(self.session_type)
        if self.privacy:
            flags |= _SEC_P
        if self.control:
            flags |= _SEC_C
        if self.extensions is not None:
            flags |= _SEC_MX
        return flags

    def encode(self) -> bytes:
        flags = MESSAGE_VERSION << _VERSION_SHIFT
        if self.source_node_id is not None:
            flags |= _FLAG_S
        if self.destination_node_id is not None:
            flags |= _DSIZ_NODE
        elif self.destination_group_id is not None:
            flags |= _DSIZ_GROUP
        out = bytearray(struct.pack("<BHBI", flags, self.session_id, self.security_flags, self.message_counter))
        if self.source_node_id is not None:
            out += struct.pack("<Q", self.source_node_id)
        if self.destination_node_id is not None:
            out += struct.pack("<Q", self.destination_node_id)
        elif self.destination_group_id is not None:
            out += struct.pack("<H", self.destination_group_id)
        if self.extensions is not None:
            out += struct.pack("<H", len(self.extensions)) + self.extensions
        return bytes(out)

    @classmethod
    def decode(cls, data: bytes | bytearray | memoryview) -> tuple[MessageHeader, int]:
        """Parse the header; return it and the offset where the payload starts."""
        size = len(data)
        # (A flags byte the fast path does not know gets a size no datagram reaches.)
        if size >= 8 and not data[3] & (_SEC_MX | 0x02) and (end := _FAST_HEADER_SIZES.get(data[0], size + 1)) <= size:
            # Nearly every message on a session: no group, no extensions, a valid session type, and
            # node ids or none (matter.js sends both its own and ours on every unicast message). Its
            # fields cannot be out of range (fixed-width), so the checks of __new__ are skipped.
            flags, session_id, security_flags, counter = _BHBI.unpack_from(data)
            source = _Q.unpack_from(data, 8)[0] if flags & _FLAG_S else None
            destination = _Q.unpack_from(data, end - 8)[0] if flags & _DSIZ_NODE else None
            session_type = _SESSION_TYPES[security_flags & _SEC_SESSION_MASK]
            privacy, control = bool(security_flags & _SEC_P), bool(security_flags & _SEC_C)
            fields = (session_id, counter, source, destination, None, session_type, privacy, control, None)
            return _tuple_new(cls, fields), end
        return cls._decode_general(data)

    @classmethod
    def _decode_general(cls, data: bytes | bytearray | memoryview) -> tuple[MessageHeader, int]:
        view = memoryview(data)
        raw, pos = _take(view, 0, 8, "message header")
        flags, session_id, security_flags, counter = struct.unpack("<BHBI", raw)
        version = flags >> _VERSION_SHIFT
        if version != MESSAGE_VERSION:
            raise MessageError(f"unsupported message format version {version}")
        dsiz = flags & _DSIZ_MASK
        if dsiz == 3:
            raise MessageError("reserved DSIZ value 3")
        session_bits = security_flags & _SEC_SESSION_MASK
        if session_bits > SessionType.GROUP:
            raise MessageError(f"reserved session type {session_bits}")
        session_type = SessionType(session_bits)
        source = destination = group = None
        if flags & _FLAG_S:
            raw, pos = _take(view, pos, 8, "source node id")
            source = struct.unpack("<Q", raw)[0]
        if dsiz == _DSIZ_NODE:
            raw, pos = _take(view, pos, 8, "destination node id")
            destination = struct.unpack("<Q", raw)[0]
        elif dsiz == _DSIZ_GROUP:
            raw, pos = _take(view, pos, 2, "destination group id")
            group = struct.unpack("<H", raw)[0]
        extensions = None
        if security_flags & _SEC_MX:
            raw, pos = _take(view, pos, 2, "message extensions length")
            extensions, pos = _take(view, pos, struct.unpack("<H", raw)[0], "message extensions")
        header = cls(
            session_id=session_id,
            message_counter=counter,
            source_node_id=source,
            destination_node_id=destination,
            destination_group_id=group,
            session_type=session_type,
            privacy=bool(security_flags & _SEC_P),
            control=bool(security_flags & _SEC_C),
            extensions=extensions,
        )
        return header, pos


_EX_I = 0x01  # sent by the exchange initiator
_EX_A = 0x02  # acknowledges a message
_EX_R = 0x04  # reliable delivery requested
_EX_SX = 0x08  # secured extensions present
_EX_V = 0x10  # vendor id present


class _PayloadHeaderFields(NamedTuple):
    exchange_id: int
    protocol_id: int
    opcode: int
    initiator: bool = False
    needs_ack: bool = False
    ack_counter: int | None = None
    vendor_id: int | None = None
    secured_extensions: bytes | None = None


class PayloadHeader(_PayloadHeaderFields):
    """The protocol header at the start of the (decrypted) payload. Immutable; a tuple for the
    same reason as :class:`MessageHeader`."""

    __slots__ = ()

    def __new__(
        cls,
        exchange_id: int,
        protocol_id: int,
        opcode: int,
        initiator: bool = False,
        needs_ack: bool = False,
        ack_counter: int | None = None,
        vendor_id: int | None = None,
        secured_extensions: bytes | None = None,
    ) -> PayloadHeader:
        for name, value, bits in (
            ("exchange_id", exchange_id, 16),
            ("protocol_id", protocol_id, 16),
            ("opcode", opcode, 8),
            ("ack_counter", ack_counter, 32),
            ("vendor_id", vendor_id, 16),
        ):
            if value is not None and not 0 <= value < (1 << bits):
                raise MessageError(f"{name} out of range: {value}")
        if secured_extensions is not None and len(secured_extensions) > 0xFFFF:
            raise MessageError("secured extensions longer than 65535 bytes")
        fields = (exchange_id, protocol_id, opcode, initiator, needs_ack, ack_counter, vendor_id)
        return _tuple_new(cls, (*fields, secured_extensions))

    @property
    def exchange_flags(self) -> int:
        flags = 0
        if self.initiator:
            flags |= _EX_I
        if self.ack_counter is not None:
            flags |= _EX_A
        if self.needs_ack:
            flags |= _EX_R
        if self.secured_extensions is not None:
            flags |= _EX_SX
        if self.vendor_id is not None:
            flags |= _EX_V
        return flags

    def encode(self) -> bytes:
        out = bytearray(struct.pack("<BBH", self.exchange_flags, self.opcode, self.exchange_id))
        if self.vendor_id is not None:
            out += struct.pack("<H", self.vendor_id)
        out += struct.pack("<H", self.protocol_id)
        if self.ack_counter is not None:
            out += struct.pack("<I", self.ack_counter)
        if self.secured_extensions is not None:
            out += struct.pack("<H", len(self.secured_extensions)) + self.secured_extensions
        return bytes(out)

    @classmethod
    def decode(cls, data: bytes | bytearray | memoryview) -> tuple[PayloadHeader, int]:
        """Parse the protocol header; return it and the offset of the application payload."""
        if len(data) >= 10 and not data[0] & (_EX_V | _EX_SX):
            # No vendor id, no secured extensions: every message of the protocols we speak. The
            # fields are fixed-width, so in range: the checks of __new__ are skipped.
            flags, opcode, exchange_id, protocol_id = _BBHH.unpack_from(data)
            if flags & _EX_A:
                ack_counter: int | None = _I.unpack_from(data, 6)[0]
                end = 10
            else:
                ack_counter, end = None, 6
            fields = (exchange_id, protocol_id, opcode, bool(flags & _EX_I), bool(flags & _EX_R), ack_counter)
            return _tuple_new(cls, (*fields, None, None)), end
        return cls._decode_general(data)

    @classmethod
    def _decode_general(cls, data: bytes | bytearray | memoryview) -> tuple[PayloadHeader, int]:
        view = memoryview(data)
        raw, pos = _take(view, 0, 4, "protocol header")
        flags, opcode, exchange_id = struct.unpack("<BBH", raw)
        vendor_id = None
        if flags & _EX_V:
            raw, pos = _take(view, pos, 2, "protocol vendor id")
            vendor_id = struct.unpack("<H", raw)[0]
        raw, pos = _take(view, pos, 2, "protocol id")
        protocol_id = struct.unpack("<H", raw)[0]
        ack_counter = None
        if flags & _EX_A:
            raw, pos = _take(view, pos, 4, "acknowledged message counter")
            ack_counter = struct.unpack("<I", raw)[0]
        secured_extensions = None
        if flags & _EX_SX:
            raw, pos = _take(view, pos, 2, "secured extensions length")
            secured_extensions, pos = _take(view, pos, struct.unpack("<H", raw)[0], "secured extensions")
        header = cls(
            exchange_id=exchange_id,
            protocol_id=protocol_id,
            opcode=opcode,
            initiator=bool(flags & _EX_I),
            needs_ack=bool(flags & _EX_R),
            ack_counter=ack_counter,
            vendor_id=vendor_id,
            secured_extensions=secured_extensions,
        )
        return header, pos
