"""A BDX receiver written from the spec tables (receiver-drive, as the SDK's OTA requestor does),
to test the sender without reusing its code."""

from __future__ import annotations

import struct

from ota_provider.core.codec.protocols import ProtocolId
from ota_provider.core.codec.status_report import StatusReport

RECEIVE_INIT, RECEIVE_ACCEPT, BLOCK_QUERY, BLOCK, BLOCK_EOF, BLOCK_ACK, BLOCK_ACK_EOF, QUERY_WITH_SKIP = (
    0x04,
    0x05,
    0x10,
    0x11,
    0x12,
    0x13,
    0x14,
    0x15,
)
STATUS_REPORT = 0x40


class SpecReceiver:
    """Drives one download; ``data`` holds what arrived, ``status`` a StatusReport if one came."""

    def __init__(
        self,
        manager,
        session,
        designator: bytes,
        *,
        max_block=1024,
        start_offset=0,
        skip_at=None,
        bad_counter_at=None,
        asynchronous=False,
        transfer_control=None,
    ):
        self.data = bytearray()
        self.asked_for = 0  # the Block counter of the last BlockQuery (receiver-drive)
        self.unasked: list[int] = []  # Blocks that came with another counter: an SDK receiver aborts on one
        self.accept = None
        self.status = None
        self.done = False
        self.closed_reason = None
        self.skip_at = skip_at
        self.bad_counter_at = bad_counter_at
        self.asynchronous = asynchronous
        self.exchange = manager.new_exchange(session, ProtocolId.BDX, self)
        rc = 0x02 if start_offset else 0x00
        tc = 0x40 | 0x10 if asynchronous else 0x20  # async (the sender pushes) or synchronous receiver-drive
        if transfer_control is not None:  # the proposal byte as a peer sends it: version in bits 0-3
            tc = transfer_control
        body = struct.pack("<BBH", tc, rc, max_block)
        if start_offset:
            body += struct.pack("<I", start_offset)
        body += struct.pack("<H", len(designator)) + designator
        self.exchange.send(RECEIVE_INIT, body)

    def on_message(self, exchange, message):
        if message.protocol_id == ProtocolId.SECURE_CHANNEL and message.opcode == STATUS_REPORT:
            self.status = StatusReport.decode(message.payload)
            exchange.close("status")
            return
        if message.opcode == RECEIVE_ACCEPT:
            tc, rc, block = struct.unpack_from("<BBH", message.payload)
            pos, offset, length = 4, 0, 0
            size = 8 if rc & 0x10 else 4
            if rc & 0x02:
                offset = int.from_bytes(message.payload[pos : pos + size], "little")
                pos += size
            if rc & 0x01:
                length = int.from_bytes(message.payload[pos : pos + size], "little")
            self.accept = (tc, block, offset, length)
            if not self.asynchronous:
                self._query(exchange, 0)
        elif message.opcode in (BLOCK, BLOCK_EOF):
            counter = struct.unpack_from("<I", message.payload)[0]
            if not self.asynchronous and counter != self.asked_for:
                self.unasked.append(counter)
                return
            self.data += message.payload[4:]
            if message.opcode == BLOCK_EOF:
                exchange.send(BLOCK_ACK_EOF, struct.pack("<I", counter))
                self.done = True
                exchange.close("done")
            elif self.asynchronous:
                # BlockAck is optional here; sent when the exchange is free, it carries the MRP ack
                # at once instead of after the standalone-ack delay.
                if exchange.retransmit is None:
                    exchange.send(BLOCK_ACK, struct.pack("<I", counter))
            else:
                self._query(exchange, counter + 1)

    def _query(self, exchange, counter):
        self.asked_for = counter
        if self.bad_counter_at is not None and counter == self.bad_counter_at:
            counter += 5
        if self.skip_at is not None and counter == self.skip_at[0]:
            exchange.send(QUERY_WITH_SKIP, struct.pack("<IQ", counter, self.skip_at[1]))
        else:
            exchange.send(BLOCK_QUERY, struct.pack("<I", counter))

    def on_closed(self, exchange, reason):
        self.closed_reason = reason
