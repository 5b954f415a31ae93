"""The BDX sender for OTA: synchronous receiver-drive transfers (OTA_PROVIDER_SPEC.md §4.4-4.8).

Sans-IO: :class:`BdxSender` takes decoded messages and returns the replies to send; the
exchange binding lives in :mod:`.server`. It answers each BlockQuery at once, honours and
echoes a requested StartOffset, serves BlockQueryWithSkip, ends with BlockEOF and completes on
BlockAckEOF. Images are read block by block from an open file: memory stays bounded whatever
the image size.
"""

from __future__ import annotations

import enum
import os
import struct
import threading
from dataclasses import dataclass, field
from pathlib import Path

from ..codec.protocols import BdxOpcode
from ..codec.status_report import BdxStatus
from .messages import BdxError, BlockQuery, BlockQueryWithSkip, ReceiveAccept, TransferControl, TransferInit

__all__ = ["UDP_BLOCK_LIMIT", "BdxSender", "FileSource", "SenderState"]

# The largest block over UDP: what the specification lets a requestor ask for over a non-TCP
# transport (a Matter message could carry 1196 bytes of block; the SDK caps near 1174). A larger
# proposal (a shipping device asks 4096 over UDP) is answered with this.
UDP_BLOCK_LIMIT = 1024


class SenderState(enum.Enum):
    AWAIT_QUERY = "awaiting query"
    AWAIT_EOF_ACK = "awaiting EOF ack"
    DONE = "done"
    FAILED = "failed"


class _SharedFile:
    """One open descriptor of an image file, shared by every transfer of it (3000 transfers once held
    3000 descriptors and starved the control socket and everyone else's downloads at 1024)."""

    def __init__(self, path: Path, key: tuple) -> None:
        self.key = key
        self.fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        self.size = os.fstat(self.fd).st_size
        self.users = 0


_shared: dict[tuple, _SharedFile] = {}
_shared_lock = threading.Lock()


# Bytes read from the image at a time: one pread serves 64 Blocks of 1024 bytes (a system call per
# Block was a tenth of the provider's CPU per Block). Not mmap: an image rewritten in place while
# a transfer reads it would raise SIGBUS there, where pread only reads short.
READ_AHEAD = 64 * 1024

_BLOCK_QUERY = int(BdxOpcode.BLOCK_QUERY)  # (ints: read for every Block, where an enum lookup costs)
_QUERIES = frozenset((_BLOCK_QUERY, int(BdxOpcode.BLOCK_QUERY_WITH_SKIP)))
_COUNTER = struct.Struct("<I")  # a BlockCounter (messages.py's layouts): what a BlockQuery is, what a Block starts with


class FileSource:
    """An image file for one transfer: the same file on disk (device, inode, size and time) is open
    once for all its transfers; one replaced on disk gets a descriptor of its own. Reads are served
    from a window of READ_AHEAD bytes that moves with the transfer."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            info = os.stat(path)
            key = (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)
            with _shared_lock:
                shared = _shared.get(key)
                if shared is None:
                    shared = _shared[key] = _SharedFile(path, key)
                shared.users += 1
        except OSError as exc:
            raise BdxError(f"cannot open {path}: {exc.strerror}", BdxStatus.FILE_DESIGNATOR_UNKNOWN) from None
        self._shared: _SharedFile | None = shared
        self.size = shared.size
        self._window = b""
        self._window_offset = 0

    def read(self, offset: int, size: int) -> bytes:
        start = offset - self._window_offset
        if start >= 0 and start + size <= len(self._window):
            return self._window[start : start + size]
        if self._shared is None:
            raise BdxError(f"{self.path} was closed", BdxStatus.TRANSFER_FAILED_UNKNOWN_ERROR)
        try:
            self._window = os.pread(self._shared.fd, max(size, READ_AHEAD), offset)
            self._window_offset = offset
            return self._window[:size]
        except OSError as exc:
            raise BdxError(f"cannot read {self.path}: {exc.strerror}", BdxStatus.FILE_DESIGNATOR_UNKNOWN) from None

    def close(self) -> None:
        self._window = b""
        shared, self._shared = self._shared, None
        if shared is None:
            return
        with _shared_lock:
            shared.users -= 1
            if shared.users == 0:
                _shared.pop(shared.key, None)
                os.close(shared.fd)


@dataclass
class BdxSender:
    source: FileSource
    block_size: int
    start_offset: int = 0
    length: int = 0  # 0: up to the end of the image
    state: SenderState = SenderState.AWAIT_QUERY
    next_counter: int = 0
    offset: int = 0  # next byte to send, absolute in the image
    bytes_sent: int = 0
    blocks_sent: int = 0
    last_counter: int | None = None
    error: BdxStatus | None = None
    asynchronous: bool = False
    _end: int = field(default=0, repr=False)
    _rejoining: bool = field(default=False, repr=False)  # restored after a restart: the next query says where

    @classmethod
    def accept(cls, init: TransferInit, source: FileSource, *, max_block_size: int) -> tuple[BdxSender, bytes]:
        """Validate a ReceiveInit; return the sender and the ReceiveAccept payload, or raise BdxError.

        The accept names exactly one mode: receiver-drive whenever it is proposed (what the SDK and
        matter.js requestors use), asynchronous only when it is the one mode in common. Any
        proposed BDX version is answered with version 0, the one we speak (the SDK negotiates
        down the same way; the version lives in the low bits of the control byte)."""
        if init.control & TransferControl.RECEIVER_DRIVE:
            asynchronous = False
        elif init.control & TransferControl.ASYNC:
            asynchronous = True
        else:
            raise BdxError("a download is receiver-drive or asynchronous", BdxStatus.TRANSFER_METHOD_NOT_SUPPORTED)
        if init.max_block_size == 0:
            raise BdxError("MaxBlockSize 0", BdxStatus.BAD_MESSAGE_CONTENTS)
        if init.start_offset >= source.size:
            raise BdxError("start offset beyond the image", BdxStatus.START_OFFSET_NOT_SUPPORTED)
        block_size = min(init.max_block_size, max_block_size, UDP_BLOCK_LIMIT)
        remaining = source.size - init.start_offset
        length = min(init.max_length, remaining) if init.max_length else 0
        sender = cls(source, block_size, init.start_offset, length, offset=init.start_offset, asynchronous=asynchronous)
        sender._end = init.start_offset + (length or remaining)
        # Asynchronous: we push Blocks, one as soon as the previous one is acknowledged (MRP allows
        # one reliable message in flight per exchange), and the receiver sends no BlockQuery.
        mode = TransferControl.ASYNC if asynchronous else TransferControl.RECEIVER_DRIVE
        accept = ReceiveAccept(mode, block_size, init.start_offset, length)
        return sender, accept.encode()

    @classmethod
    def restored(
        cls, source: FileSource, *, block_size: int, start_offset: int, end_offset: int, next_counter: int, offset: int
    ) -> BdxSender:
        """A receiver-drive transfer taken up again after a restart, from a checkpoint that may lag
        the transfer: the requestor's next BlockQuery (or BlockAckEOF) names the Block it is at, and
        every Block but the last is ``block_size`` long, so its offset follows from the checkpoint."""
        if not 0 <= start_offset <= offset <= end_offset <= source.size or block_size <= 0:
            raise BdxError("the checkpoint does not fit the image", BdxStatus.TRANSFER_FAILED_UNKNOWN_ERROR)
        sender = cls(
            source,
            block_size,
            start_offset,
            next_counter=next_counter,
            offset=offset,
            bytes_sent=offset - start_offset,
            blocks_sent=next_counter,
        )
        sender._end = end_offset
        sender._rejoining = True
        return sender

    def _rejoin(self, counter: int) -> None:
        """Move to Block ``counter``, which may be behind the checkpoint by one (its Block was being
        answered when the process died) or ahead of it by any number."""
        self._rejoining = False
        offset = self.offset + (counter - self.next_counter) * self.block_size
        if counter < self.next_counter - 1 or not self.start_offset <= offset <= self._end:
            raise BdxError(
                f"BlockQuery {counter} after the restart, the checkpoint was at {self.next_counter}",
                BdxStatus.BAD_BLOCK_COUNTER,
            )
        self.state = SenderState.AWAIT_QUERY
        self.next_counter, self.offset = counter, offset
        self.bytes_sent, self.blocks_sent = offset - self.start_offset, counter

    def _last_counter_from(self) -> int:
        """The counter of the final Block, from where the transfer is."""
        left = self._end - self.offset
        return self.next_counter - 1 + -(-left // self.block_size)  # ceil: the Blocks still to go

    @property
    def total(self) -> int:
        return self._end - self.start_offset

    def on_message(self, opcode: int, payload: bytes) -> tuple[int, bytes] | None:
        """Handle a receiver message; return (opcode, payload) to send, or None. Raises BdxError."""
        state = self.state
        if state is SenderState.DONE or state is SenderState.FAILED:
            raise BdxError("transfer already ended", BdxStatus.UNEXPECTED_MESSAGE)
        if opcode in _QUERIES:
            if self.asynchronous:
                raise BdxError("BlockQuery in an asynchronous transfer", BdxStatus.UNEXPECTED_MESSAGE)
            if state is not SenderState.AWAIT_QUERY:
                raise BdxError("BlockQuery after the last block", BdxStatus.UNEXPECTED_MESSAGE)
            skip = 0
            if opcode == _BLOCK_QUERY:
                # BlockQuery.decode's checks, without building the message: one comes per Block
                counter = _COUNTER.unpack(payload)[0] if len(payload) == 4 else BlockQuery.decode(payload).counter
            else:
                query = BlockQueryWithSkip.decode(payload)
                counter, skip = query.counter, query.bytes_to_skip
            if self._rejoining:
                self._rejoin(counter)
            if counter != self.next_counter:
                raise BdxError(f"BlockQuery {counter}, expected {self.next_counter}", BdxStatus.BAD_BLOCK_COUNTER)
            return self._next_block(counter, skip)
        if opcode == BdxOpcode.BLOCK_ACK:
            return None  # receiver-drive: only resets the idle timer
        if opcode == BdxOpcode.BLOCK_ACK_EOF:
            if self._rejoining:  # the BlockEOF went out before the restart: this is its ack
                self._rejoining = False
                self.state, self.last_counter = SenderState.AWAIT_EOF_ACK, self._last_counter_from()
                self.bytes_sent, self.offset = self._end - self.start_offset, self._end
                self.blocks_sent = self.last_counter + 1
            if self.state != SenderState.AWAIT_EOF_ACK:
                raise BdxError("BlockAckEOF before the last block", BdxStatus.UNEXPECTED_MESSAGE)
            if BlockQuery.decode(payload).counter != self.last_counter:
                raise BdxError("BlockAckEOF for another block", BdxStatus.BAD_BLOCK_COUNTER)
            self.state = SenderState.DONE
            return None
        raise BdxError(f"unexpected BDX message 0x{opcode:02x}", BdxStatus.UNEXPECTED_MESSAGE)

    def push_block(self) -> tuple[int, bytes] | None:
        """Asynchronous mode: the next Block to push, or None once BlockEOF has gone."""
        if not self.asynchronous or self.state != SenderState.AWAIT_QUERY:
            return None
        return self._next_block(self.next_counter, 0)

    def _next_block(self, counter: int, skip: int) -> tuple[int, bytes]:
        self.offset = min(self.offset + skip, self._end)
        size = min(self.block_size, self._end - self.offset)
        data = self.source.read(self.offset, size) if size else b""
        if len(data) != size:
            raise BdxError("the image changed size during the transfer", BdxStatus.TRANSFER_FAILED_UNKNOWN_ERROR)
        self.offset += size
        self.bytes_sent += size
        self.blocks_sent += 1
        self.next_counter = (counter + 1) & 0xFFFF_FFFF
        self.last_counter = counter
        last = self.offset >= self._end
        if last:
            self.state = SenderState.AWAIT_EOF_ACK
        return (BdxOpcode.BLOCK_EOF if last else BdxOpcode.BLOCK), _COUNTER.pack(counter) + data  # Block.encode()

    def withheld(self, block: bytes) -> None:
        """The last Block produced never went out (a fault knob dropped it or ended the transfer
        instead): it no longer counts as sent."""
        self.bytes_sent -= max(0, len(block) - 4)  # the 4-byte counter is not image data
        self.blocks_sent -= 1

    def fail(self, status: BdxStatus) -> None:
        self.state = SenderState.FAILED
        self.error = status

    def close(self) -> None:
        self.source.close()
