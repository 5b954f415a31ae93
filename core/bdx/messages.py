"""BDX messages (Core spec 11.22; OTA_PROVIDER_SPEC.md §4.2-4.3), little-endian.

    SendInit / ReceiveInit:  TC(1) | RC(1) | MaxBlockSize u16 | [StartOffset u32/u64 if STARTOFS]
                             | [MaxLength u32/u64 if DEFLEN] | FileDesignatorLength u16 | FileDesignator | Metadata
    SendAccept:              TC(1) | MaxBlockSize u16 | Metadata
    ReceiveAccept:           TC(1) | RC(1) | MaxBlockSize u16 | [StartOffset] | [Length] | Metadata
    BlockQuery / BlockAck / BlockAckEOF:  BlockCounter u32
    Block / BlockEOF:        BlockCounter u32 | Data
    BlockQueryWithSkip:      BlockCounter u32 | BytesToSkip u64

WIDERANGE makes both offset and length 8 bytes; a field is written only when its value is > 0.
Decoders raise :class:`BdxError` (carrying the StatusReport code to answer with) and nothing else.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass, field

from ..codec.status_report import BdxStatus

__all__ = [
    "VERSION",
    "BdxError",
    "Block",
    "BlockAck",
    "BlockQuery",
    "BlockQueryWithSkip",
    "RangeControl",
    "ReceiveAccept",
    "SendAccept",
    "TransferControl",
    "TransferInit",
]

VERSION = 0
MAX_DESIGNATOR_LENGTH = 0xFF


class BdxError(ValueError):
    """A malformed or unacceptable BDX message; ``status`` is the StatusReport code to send."""

    def __init__(self, message: str, status: BdxStatus = BdxStatus.BAD_MESSAGE_CONTENTS) -> None:
        super().__init__(message)
        self.status = status


class TransferControl(enum.IntFlag):
    SENDER_DRIVE = 0x10
    RECEIVER_DRIVE = 0x20
    ASYNC = 0x40


class RangeControl(enum.IntFlag):
    DEFLEN = 0x01
    STARTOFS = 0x02
    WIDERANGE = 0x10


def _need(data: bytes, size: int, what: str) -> None:
    if len(data) < size:
        raise BdxError(f"BDX message too short for {what}", BdxStatus.LENGTH_TOO_SHORT)


def _range_fields(offset: int, length: int) -> tuple[int, bytes]:
    rc = 0
    wide = offset > 0xFFFF_FFFF or length > 0xFFFF_FFFF
    fmt = "<Q" if wide else "<I"
    out = b""
    if wide:
        rc |= RangeControl.WIDERANGE
    if offset > 0:
        rc |= RangeControl.STARTOFS
        out += struct.pack(fmt, offset)
    if length > 0:
        rc |= RangeControl.DEFLEN
        out += struct.pack(fmt, length)
    return rc, out


def _read_range(data: bytes, pos: int, rc: int) -> tuple[int, int, int]:
    size, fmt = (8, "<Q") if rc & RangeControl.WIDERANGE else (4, "<I")
    offset = length = 0
    if rc & RangeControl.STARTOFS:
        _need(data, pos + size, "StartOffset")
        offset = struct.unpack_from(fmt, data, pos)[0]
        pos += size
    if rc & RangeControl.DEFLEN:
        _need(data, pos + size, "Length")
        length = struct.unpack_from(fmt, data, pos)[0]
        pos += size
    return offset, length, pos


@dataclass(frozen=True)
class TransferInit:
    """SendInit or ReceiveInit (same layout)."""

    control: TransferControl
    max_block_size: int
    file_designator: bytes
    start_offset: int = 0
    max_length: int = 0
    metadata: bytes = b""
    version: int = VERSION
    # Read: the STARTOFS bit was set (a requestor may give an offset of 0). Not part of the value's
    # equality: written, the bit follows the offset.
    start_offset_given: bool = field(default=False, compare=False)

    def encode(self) -> bytes:
        rc, ranges = _range_fields(self.start_offset, self.max_length)
        return (
            struct.pack("<BBH", (int(self.control) & 0xF0) | (self.version & 0x0F), rc, self.max_block_size)
            + ranges
            + struct.pack("<H", len(self.file_designator))
            + self.file_designator
            + self.metadata
        )

    @classmethod
    def decode(cls, data: bytes) -> TransferInit:
        _need(data, 4, "the transfer init header")
        tc, rc, max_block = struct.unpack_from("<BBH", data)
        offset, length, pos = _read_range(data, 4, rc)
        _need(data, pos + 2, "FileDesignatorLength")
        designator_length = struct.unpack_from("<H", data, pos)[0]
        pos += 2
        _need(data, pos + designator_length, "FileDesignator")
        designator = bytes(data[pos : pos + designator_length])
        if not designator or designator_length > MAX_DESIGNATOR_LENGTH:
            raise BdxError("file designator must be 1..255 bytes", BdxStatus.FILE_DESIGNATOR_UNKNOWN)
        return cls(
            control=TransferControl(tc & 0x70),
            max_block_size=max_block,
            file_designator=designator,
            start_offset=offset,
            max_length=length,
            metadata=bytes(data[pos + designator_length :]),
            version=tc & 0x0F,
            start_offset_given=bool(rc & RangeControl.STARTOFS),
        )


@dataclass(frozen=True)
class ReceiveAccept:
    control: TransferControl
    max_block_size: int
    start_offset: int = 0
    length: int = 0
    metadata: bytes = b""
    version: int = VERSION

    def encode(self) -> bytes:
        rc, ranges = _range_fields(self.start_offset, self.length)
        tc = (int(self.control) & 0x70) | (self.version & 0x0F)
        return struct.pack("<BBH", tc, rc, self.max_block_size) + ranges + self.metadata

    @classmethod
    def decode(cls, data: bytes) -> ReceiveAccept:
        _need(data, 4, "the ReceiveAccept header")
        tc, rc, max_block = struct.unpack_from("<BBH", data)
        modes = TransferControl(tc & 0x70)
        # We send exactly one mode bit; from a peer we also take ASYNC | SENDER_DRIVE (an older form
        # of ours), but not both drives at once, which names no mode.
        if not modes or modes & 0x30 == 0x30:
            raise BdxError("ReceiveAccept must choose exactly one transfer mode")
        offset, length, pos = _read_range(data, 4, rc)
        return cls(modes, max_block, offset, length, bytes(data[pos:]), tc & 0x0F)


@dataclass(frozen=True)
class SendAccept:
    control: TransferControl
    max_block_size: int
    metadata: bytes = b""

    def encode(self) -> bytes:
        return struct.pack("<BH", int(self.control) & 0x70, self.max_block_size) + self.metadata

    @classmethod
    def decode(cls, data: bytes) -> SendAccept:
        _need(data, 3, "the SendAccept header")
        tc, max_block = struct.unpack_from("<BH", data)
        return cls(TransferControl(tc & 0x70), max_block, bytes(data[3:]))


@dataclass(frozen=True)
class BlockQuery:
    """BlockQuery, and the counter-only BlockAck / BlockAckEOF."""

    counter: int

    def encode(self) -> bytes:
        return struct.pack("<I", self.counter)

    @classmethod
    def decode(cls, data: bytes) -> BlockQuery:
        _need(data, 4, "BlockCounter")
        if len(data) != 4:
            raise BdxError("unexpected bytes after BlockCounter", BdxStatus.LENGTH_MISMATCH)
        return cls(struct.unpack_from("<I", data)[0])


BlockAck = BlockQuery


@dataclass(frozen=True)
class BlockQueryWithSkip:
    counter: int
    bytes_to_skip: int

    def encode(self) -> bytes:
        return struct.pack("<IQ", self.counter, self.bytes_to_skip)

    @classmethod
    def decode(cls, data: bytes) -> BlockQueryWithSkip:
        _need(data, 12, "BlockCounter and BytesToSkip")
        if len(data) != 12:
            raise BdxError("unexpected bytes after BytesToSkip", BdxStatus.LENGTH_MISMATCH)
        return cls(*struct.unpack("<IQ", data))


@dataclass(frozen=True)
class Block:
    """Block and BlockEOF."""

    counter: int
    data: bytes

    def encode(self) -> bytes:
        return struct.pack("<I", self.counter) + self.data

    @classmethod
    def decode(cls, data: bytes) -> Block:
        _need(data, 4, "BlockCounter")
        return cls(struct.unpack_from("<I", data)[0], bytes(data[4:]))
