"""Secure Channel StatusReport (Core spec 4.11.3, Appendix D).

Payload layout, little-endian::

    GeneralCode u16 | ProtocolId u32 ((vendor << 16) | protocol) | ProtocolCode u16 | ProtocolData...
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass

from .message import MessageError

__all__ = ["BdxStatus", "GeneralCode", "SecureChannelStatus", "StatusReport"]


class GeneralCode(enum.IntEnum):
    SUCCESS = 0
    FAILURE = 1
    BAD_PRECONDITION = 2
    OUT_OF_RANGE = 3
    BAD_REQUEST = 4
    UNSUPPORTED = 5
    UNEXPECTED = 6
    RESOURCE_EXHAUSTED = 7
    BUSY = 8
    TIMEOUT = 9
    CONTINUE = 10
    ABORTED = 11
    INVALID_ARGUMENT = 12
    NOT_FOUND = 13
    ALREADY_EXISTS = 14
    PERMISSION_DENIED = 15
    DATA_LOSS = 16
    MESSAGE_TOO_LONG = 17


class SecureChannelStatus(enum.IntEnum):
    SESSION_ESTABLISHMENT_SUCCESS = 0x0000
    NO_SHARED_TRUST_ROOTS = 0x0001
    INVALID_PARAMETER = 0x0002
    CLOSE_SESSION = 0x0003
    BUSY = 0x0004


class BdxStatus(enum.IntEnum):
    LENGTH_TOO_LARGE = 0x0012
    LENGTH_TOO_SHORT = 0x0013
    LENGTH_MISMATCH = 0x0014
    LENGTH_REQUIRED = 0x0015
    BAD_MESSAGE_CONTENTS = 0x0016
    BAD_BLOCK_COUNTER = 0x0017
    UNEXPECTED_MESSAGE = 0x0018
    RESPONDER_BUSY = 0x0019
    TRANSFER_FAILED_UNKNOWN_ERROR = 0x001F
    TRANSFER_METHOD_NOT_SUPPORTED = 0x0050
    FILE_DESIGNATOR_UNKNOWN = 0x0051
    START_OFFSET_NOT_SUPPORTED = 0x0052
    VERSION_NOT_SUPPORTED = 0x0053
    UNKNOWN = 0x005F


_FORMAT = "<HIH"
_SIZE = struct.calcsize(_FORMAT)


@dataclass(frozen=True, slots=True)
class StatusReport:
    general_code: int
    protocol_id: int
    protocol_code: int
    protocol_data: bytes = b""
    vendor_id: int = 0

    def __post_init__(self) -> None:
        for name, value, bits in (
            ("general_code", self.general_code, 16),
            ("protocol_id", self.protocol_id, 16),
            ("protocol_code", self.protocol_code, 16),
            ("vendor_id", self.vendor_id, 16),
        ):
            if not 0 <= value < (1 << bits):
                raise MessageError(f"StatusReport {name} out of range: {value}")

    @property
    def is_success(self) -> bool:
        return self.general_code == GeneralCode.SUCCESS

    @classmethod
    def busy(cls, wait_ms: int) -> StatusReport:
        """Secure Channel Busy: the responder cannot take the handshake now; the protocol data is the
        minimum time to wait before trying again, milliseconds, 16-bit little-endian (Core spec
        4.11.1.4; the SDK's StatusReport::MakeBusyStatusReportMessage)."""
        return cls(GeneralCode.BUSY, 0x0000, SecureChannelStatus.BUSY, wait_ms.to_bytes(2, "little"))

    @property
    def busy_wait_ms(self) -> int | None:
        """The minimum wait a Secure Channel Busy asks for, or None if this is not one."""
        if (self.general_code, self.protocol_id, self.protocol_code) != (
            GeneralCode.BUSY,
            0x0000,
            SecureChannelStatus.BUSY,
        ):
            return None
        return int.from_bytes(self.protocol_data[:2], "little") if len(self.protocol_data) >= 2 else 0

    def encode(self) -> bytes:
        full_protocol = (self.vendor_id << 16) | self.protocol_id
        return struct.pack(_FORMAT, self.general_code, full_protocol, self.protocol_code) + self.protocol_data

    @classmethod
    def decode(cls, data: bytes | bytearray | memoryview) -> StatusReport:
        if len(data) < _SIZE:
            raise MessageError(f"StatusReport needs {_SIZE} bytes, got {len(data)}")
        general, full_protocol, protocol_code = struct.unpack_from(_FORMAT, data)
        return cls(
            general_code=general,
            protocol_id=full_protocol & 0xFFFF,
            protocol_code=protocol_code,
            protocol_data=bytes(data[_SIZE:]),
            vendor_id=full_protocol >> 16,
        )

    def describe(self) -> str:
        """Human-readable form for logs, e.g. ``FAILURE / BDX FILE_DESIGNATOR_UNKNOWN``."""
        general = (
            GeneralCode(self.general_code).name
            if self.general_code in GeneralCode._value2member_map_
            else f"0x{self.general_code:04x}"
        )
        code_names: type[enum.IntEnum] | None = {0: SecureChannelStatus, 2: BdxStatus}.get(self.protocol_id)
        code = f"0x{self.protocol_code:04x}"
        if code_names is not None and self.vendor_id == 0 and self.protocol_code in code_names._value2member_map_:
            code = code_names(self.protocol_code).name
        return f"{general} / protocol 0x{self.vendor_id:04x}:{self.protocol_id:04x} {code}"
