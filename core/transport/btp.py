"""BTP, the Bluetooth Transport Protocol (Matter core specification 4.19), as the central (the
commissioner) speaks it: sans-IO, time passed in.

The central writes to the device's C1 characteristic and receives C2 indications. After a
handshake (version, segment size, window) Matter messages travel as segments of at most the
negotiated size, each with a one-byte sequence number; a peer acknowledges the last sequence number
it received (piggybacked on data, or standalone), and never has more unacknowledged packets in
flight than the other side's window. BTP is reliable by itself, so there is no MRP over it.

Byte layouts, timer values and window rules agree with matter.js (``@matter/protocol``
``codec/BtpCodec``, ``ble/BtpSessionHandler``, ``ble/BleConsts``) and the SDK; the tests check them
against matter.js's own vectors and against its BtpSessionHandler as the peripheral.

Packet: flags (1), [management opcode (1)], [ack number (1)], sequence number (1), [message length
(2, little-endian) on a beginning segment], payload.
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass

SERVICE_UUID = "0000fff6-0000-1000-8000-00805f9b34fb"
C1_UUID = "18ee2ef5-263d-4559-959f-4f9c429f9d11"  # write: central -> device
C2_UUID = "18ee2ef5-263d-4559-959f-4f9c429f9d12"  # indicate: device -> central
C3_UUID = "64630238-8772-45f2-b87d-748a83218f04"  # read: additional commissioning data

VERSION = 4
HANDSHAKE_OPCODE = 0x6C
MIN_SEGMENT, MAX_SEGMENT = 20, 244  # bytes of a BTP packet: ATT MTU - 3, within these
MAX_WINDOW = 255
DEFAULT_WINDOW = 6  # what the SDK's and matter.js's centrals ask for
HANDSHAKE_TIMEOUT = 15.0  # s for the device's handshake response
ACK_TIMEOUT = 15.0  # s for the device to acknowledge what we sent
SEND_ACK_TIMEOUT = ACK_TIMEOUT / 3  # s within which we acknowledge what we received
KEEP_ALIVE_INTERVAL = SEND_ACK_TIMEOUT / 2  # s of silence after which the central repeats its ack
IMMEDIATE_ACK_THRESHOLD = 2  # free slots of our receive window at which we ack at once
NO_ACK_SEND_THRESHOLD = 1  # the last slot of the device's window is kept for a packet with an ack


class Flag(enum.IntFlag):
    BEGIN = 0x01
    CONTINUE = 0x02
    END = 0x04
    ACK = 0x08
    MANAGEMENT = 0x20
    HANDSHAKE = 0x40


HANDSHAKE_FLAGS = Flag.HANDSHAKE | Flag.MANAGEMENT | Flag.END | Flag.BEGIN  # 0x65


class BtpError(ValueError):
    """A packet or a session that breaks the protocol: the BLE link is to be closed."""


class BtpTimeout(BtpError):
    """The device did not answer the handshake, or did not acknowledge in time."""


def _distance(start: int, end: int) -> int:
    """How far ``end`` is ahead of ``start`` in the 8-bit sequence space."""
    return (end - start) % 256


@dataclass(frozen=True)
class HandshakeRequest:
    versions: tuple[int, ...]
    att_mtu: int
    window: int

    def encode(self) -> bytes:
        if not 1 <= len(self.versions) <= 8 or any(not 1 <= v <= 15 for v in self.versions):
            raise ValueError("BTP versions are 1 to 8 numbers of 1 to 15")
        nibbles = [*self.versions, *([0] * (8 - len(self.versions)))]
        # The first version in the low nibble of the first byte, as the SDK and matter.js write it
        # (04000000 is version 4 alone, all either central sends).
        versions = bytes(nibbles[2 * i] | nibbles[2 * i + 1] << 4 for i in range(4))
        tail = self.att_mtu.to_bytes(2, "little") + bytes((self.window,))
        return bytes((HANDSHAKE_FLAGS, HANDSHAKE_OPCODE)) + versions + tail

    @classmethod
    def decode(cls, data: bytes) -> HandshakeRequest:
        _handshake(data, 9, "request")
        versions = tuple(v for v in _version_nibbles(data[2:6]) if v)
        if not versions:
            raise BtpError("a BTP handshake request names no version")
        return cls(versions, int.from_bytes(data[6:8], "little"), data[8])


def _version_nibbles(field: bytes) -> list[int]:
    return [n for byte in field for n in (byte & 0x0F, byte >> 4)]


def _handshake(data: bytes, length: int, what: str) -> None:
    """A handshake packet's flags, opcode and length (exactly: nothing follows a handshake)."""
    if len(data) != length:
        raise BtpError(f"a BTP handshake {what} is {length} bytes, not {len(data)}")
    if data[0] != HANDSHAKE_FLAGS or data[1] != HANDSHAKE_OPCODE:
        raise BtpError(f"not a BTP handshake {what}")


@dataclass(frozen=True)
class HandshakeResponse:
    version: int
    segment_size: int
    window: int

    def encode(self) -> bytes:
        header = bytes((HANDSHAKE_FLAGS, HANDSHAKE_OPCODE, self.version & 0x0F))
        return header + self.segment_size.to_bytes(2, "little") + bytes((self.window,))

    @classmethod
    def decode(cls, data: bytes) -> HandshakeResponse:
        _handshake(data, 6, "response")
        return cls(data[2] & 0x0F, int.from_bytes(data[3:5], "little"), data[5])


@dataclass(frozen=True)
class Packet:
    """One BTP data packet (a segment, a standalone ack, or both)."""

    flags: Flag
    sequence: int
    ack: int | None = None
    message_length: int | None = None  # on a beginning segment
    payload: bytes = b""

    def encode(self) -> bytes:
        if (self.ack is not None) != bool(self.flags & Flag.ACK):
            raise ValueError("an ack number goes with the ACK flag, and only with it")
        if (self.message_length is not None) != bool(self.flags & Flag.BEGIN):
            raise ValueError("a message length goes with a beginning segment, and only with it")
        if self.flags & (Flag.MANAGEMENT | Flag.HANDSHAKE):
            raise ValueError("a data packet has no management opcode")
        out = bytearray((int(self.flags),))
        if self.ack is not None:
            out.append(self.ack)
        out.append(self.sequence)
        if self.message_length is not None:
            out += self.message_length.to_bytes(2, "little")
        return bytes(out + self.payload)

    @classmethod
    def decode(cls, data: bytes) -> Packet:
        if not data:
            raise BtpError("an empty BTP packet")
        flags = Flag(data[0] & 0x6F)
        if flags & (Flag.MANAGEMENT | Flag.HANDSHAKE):
            raise BtpError("a management or handshake packet inside a BTP session")
        at = 1
        ack = None
        if flags & Flag.ACK:
            if len(data) < at + 1:
                raise BtpError("a BTP packet cut before its ack number")
            ack, at = data[at], at + 1
        if len(data) < at + 1:
            raise BtpError("a BTP packet cut before its sequence number")
        sequence, at = data[at], at + 1
        length = None
        if flags & Flag.BEGIN:
            if len(data) < at + 2:
                raise BtpError("a beginning BTP segment cut before its message length")
            length, at = int.from_bytes(data[at : at + 2], "little"), at + 2
        return cls(flags, sequence, ack, length, bytes(data[at:]))


class Phase(enum.Enum):
    HANDSHAKE = "handshake"
    OPEN = "open"
    CLOSED = "closed"


class BtpCentral:
    """One BTP session, the central's side. Drive it with :meth:`start`, :meth:`receive` (each C2
    indication), :meth:`send` (a Matter message) and :meth:`poll` (at :meth:`next_deadline`); write
    what :meth:`take_writes` returns to C1, in order. A :class:`BtpError` from any of them means
    the session is over: close the BLE link."""

    def __init__(self, att_mtu: int, window: int = DEFAULT_WINDOW) -> None:
        self.att_mtu, self.local_window = att_mtu, max(1, min(window, MAX_WINDOW))
        self.phase = Phase.HANDSHAKE
        self.version = VERSION
        self.segment_size = MIN_SEGMENT
        self.remote_window = 1
        # Sequence numbers: the device's handshake response is its packet 0; our first is 0.
        self.sent_sequence = 255  # the last we sent
        self.acked_by_peer = 255  # the last of ours the device acknowledged
        self.received_sequence = 0  # the last the device sent
        self.acked_to_peer = 255  # the last of the device's we acknowledged (-1: the response is not yet)
        self._writes: list[bytes] = []
        self._queue: deque[bytes] = deque()  # outgoing segments of the message being sent, then others
        self._sending: memoryview | None = None
        self._sending_length = 0
        self._reassembly: bytearray | None = None
        self._reassembly_length = 0
        self._handshake_deadline: float | None = None
        self._ack_due: float | None = None  # we owe the device an ack by then
        self._ack_wait: float | None = None  # the device owes us an ack by then
        self._last_sent = 0.0
        self.stats = {"packets_out": 0, "packets_in": 0, "standalone_acks": 0, "keep_alives": 0}

    # ------------------------------------------------------------------ handshake

    def start(self, now: float) -> bytes:
        """The handshake request to write to C1 (once the C2 indications are on)."""
        self._handshake_deadline = now + HANDSHAKE_TIMEOUT
        return HandshakeRequest((VERSION,), self.att_mtu, self.local_window).encode()

    def _handshake(self, data: bytes, now: float) -> None:
        response = HandshakeResponse.decode(data)
        if response.version != VERSION:
            raise BtpError(f"the device chose BTP version {response.version}; we speak {VERSION}")
        if response.segment_size < MIN_SEGMENT:
            raise BtpError(f"the device offered {response.segment_size}-byte BTP segments, below the spec's 20")
        if response.window < 1:
            raise BtpError("the device offered a BTP window of 0")
        # What we write must also fit our ATT MTU: matter.js answers with the MTU we sent, not MTU - 3.
        self.segment_size = min(response.segment_size, MAX_SEGMENT, max(MIN_SEGMENT, self.att_mtu - 3))
        self.remote_window = min(response.window, MAX_WINDOW)
        self.phase = Phase.OPEN
        self._handshake_deadline = None
        self._ack_due = now + SEND_ACK_TIMEOUT  # the response is acknowledged like any packet
        self._last_sent = now

    # ------------------------------------------------------------------ incoming

    def receive(self, data: bytes, now: float) -> list[bytes]:
        """One C2 indication; returns the Matter messages it completed."""
        if self.phase is Phase.CLOSED:
            raise BtpError("the BTP session is closed")
        if self.phase is Phase.HANDSHAKE:
            self._handshake(bytes(data), now)
            return []
        packet = Packet.decode(bytes(data))
        self.stats["packets_in"] += 1
        if not packet.payload and packet.ack is None:
            raise BtpError("a BTP packet with neither a segment nor an ack")
        if packet.sequence != (self.received_sequence + 1) % 256:
            raise BtpError(f"BTP sequence {packet.sequence} after {self.received_sequence}")
        self.received_sequence = packet.sequence
        if self._ack_due is None:
            self._ack_due = now + SEND_ACK_TIMEOUT
        if packet.ack is not None:
            self._take_ack(packet.ack, now)
        done = self._reassemble(packet)
        if self._local_free() <= IMMEDIATE_ACK_THRESHOLD:
            self._ack_due = now  # our window runs low: ack at the next take_writes
        return done

    def _take_ack(self, ack: int, now: float) -> None:
        if _distance(self.acked_by_peer, ack) > _distance(self.acked_by_peer, self.sent_sequence):
            raise BtpError(f"the device acknowledged BTP packet {ack}, which was never sent")
        self.acked_by_peer = ack
        self._ack_wait = None if ack == self.sent_sequence else now + ACK_TIMEOUT

    def _reassemble(self, packet: Packet) -> list[bytes]:
        flags = packet.flags
        if flags & Flag.BEGIN:
            if self._reassembly is not None:
                raise BtpError("a new BTP message began before the last one ended")
            assert packet.message_length is not None
            self._reassembly, self._reassembly_length = bytearray(packet.payload), packet.message_length
        elif flags & (Flag.CONTINUE | Flag.END):
            if self._reassembly is None:
                raise BtpError("a BTP segment continues a message that never began")
            if not packet.payload:
                raise BtpError("a continuing BTP segment without payload")
            self._reassembly += packet.payload
        elif packet.payload:
            raise BtpError("a BTP segment that neither begins, continues nor ends a message")
        if self._reassembly is not None and len(self._reassembly) > self._reassembly_length:
            raise BtpError(f"a BTP message longer than the {self._reassembly_length} bytes it announced")
        if not flags & Flag.END:
            return []
        assert self._reassembly is not None
        if len(self._reassembly) != self._reassembly_length:
            raise BtpError(f"a BTP message of {len(self._reassembly)} bytes that announced {self._reassembly_length}")
        message, self._reassembly = bytes(self._reassembly), None
        return [message]

    # ------------------------------------------------------------------ outgoing

    def send(self, message: bytes) -> None:
        if self.phase is not Phase.OPEN:
            raise BtpError(f"the BTP session is not open ({self.phase.value})")
        if not message or len(message) > 0xFFFF:
            raise ValueError("a BTP message is 1 to 65535 bytes")
        self._queue.append(bytes(message))

    def take_writes(self, now: float) -> list[bytes]:
        """The packets to write to C1 now: segments the device's window allows, with our ack on
        them, or a standalone ack when one is due."""
        if self.phase is not Phase.OPEN:
            return self._flush()
        while self._sending is not None or self._queue:
            carries_ack = self._ack_pending()
            if not self._can_send(carries_ack):
                break
            self._write_segment(carries_ack, now)
        if self._ack_pending() and self._ack_due is not None and now >= self._ack_due and self._can_send(True):
            self._write(Packet(Flag.ACK, self._next_sequence(), self.received_sequence), now, standalone=True)
        return self._flush()

    def _write_segment(self, carries_ack: bool, now: float) -> None:
        if self._sending is None:
            message = self._queue.popleft()
            self._sending, self._sending_length = memoryview(message), len(message)
        begin = len(self._sending) == self._sending_length
        header = 2 + (2 if begin else 0) + (1 if carries_ack else 0)
        room = self.segment_size - header
        chunk, rest = bytes(self._sending[:room]), self._sending[room:]
        flags = Flag.BEGIN if begin else Flag.CONTINUE
        if not rest:
            flags |= Flag.END
        if carries_ack:
            flags |= Flag.ACK
        packet = Packet(
            flags,
            self._next_sequence(),
            self.received_sequence if carries_ack else None,
            self._sending_length if begin else None,
            chunk,
        )
        self._sending = rest if rest else None
        self._write(packet, now)

    def _write(self, packet: Packet, now: float, standalone: bool = False) -> None:
        self._writes.append(packet.encode())
        self.stats["packets_out"] += 1
        if standalone:
            self.stats["standalone_acks"] += 1
        if packet.ack is not None:
            self.acked_to_peer = packet.ack
            self._ack_due = None
        if self._ack_wait is None:
            self._ack_wait = now + ACK_TIMEOUT
        self._last_sent = now

    def _flush(self) -> list[bytes]:
        writes, self._writes = self._writes, []
        return writes

    def _next_sequence(self) -> int:
        self.sent_sequence = (self.sent_sequence + 1) % 256
        return self.sent_sequence

    def _ack_pending(self) -> bool:
        return self.received_sequence != self.acked_to_peer

    def _remote_free(self) -> int:
        return self.remote_window - _distance(self.acked_by_peer, self.sent_sequence)

    def _local_free(self) -> int:
        return self.local_window - _distance(self.acked_to_peer, self.received_sequence)

    def _can_send(self, carries_ack: bool) -> bool:
        free = self._remote_free()
        return free > 0 and (carries_ack or free > NO_ACK_SEND_THRESHOLD)

    # ------------------------------------------------------------------ time

    def next_deadline(self) -> float | None:
        deadlines = [d for d in (self._handshake_deadline, self._ack_due, self._ack_wait) if d is not None]
        if self.phase is Phase.OPEN:
            deadlines.append(self._last_sent + KEEP_ALIVE_INTERVAL)
        return min(deadlines) if deadlines else None

    def poll(self, now: float) -> list[bytes]:
        """What time asks for: a due ack, a keep-alive, or the end (BtpTimeout)."""
        if self._handshake_deadline is not None and now >= self._handshake_deadline:
            self.phase = Phase.CLOSED
            raise BtpTimeout(f"no BTP handshake response within {HANDSHAKE_TIMEOUT:g} s")
        if self._ack_wait is not None and now >= self._ack_wait:
            self.phase = Phase.CLOSED
            raise BtpTimeout(f"the device acknowledged nothing for {ACK_TIMEOUT:g} s")
        quiet = self.phase is Phase.OPEN and now >= self._last_sent + KEEP_ALIVE_INTERVAL
        if quiet and not self._ack_pending() and self._can_send(True):
            # Silence on our side: repeat our ack so the device knows we are here (a keep-alive).
            self._write(Packet(Flag.ACK, self._next_sequence(), self.received_sequence), now)
            self.stats["keep_alives"] += 1
        return self.take_writes(now)

    def close(self) -> None:
        self.phase = Phase.CLOSED
