"""BDX on the exchange layer: each ReceiveInit opens a transfer, many may run at once.

Who may download what is decided by ``authorize`` (the OTA provider binds a designator to
the requestor it was offered to); errors go back as a StatusReport with the BDX protocol
code. An idle transfer is released after ``idle_timeout`` seconds, so a requestor that
stops asking cannot hold a transfer forever.

The server's timers (idle release, paced and delayed Blocks) are deadlines on the clock it is
given, run by :meth:`BdxServer.poll` (see ``core/timers.py``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..codec.protocols import BdxOpcode, ProtocolId, SecureChannelOpcode
from ..codec.status_report import BdxStatus, GeneralCode, StatusReport
from ..exchange.manager import Exchange, Message
from ..node_ids import Peer
from ..session.secure import SecureSession
from ..timers import Clock, Deadlines
from .checkpoint import TransferCheckpoints, TransferRecord
from .faults import Fault, FaultKind
from .messages import BdxError, TransferInit
from .outcome import RUNNING, Outcome, TransferEnd, TransferStep
from .sender import BdxSender, FileSource, SenderState

__all__ = ["DEFAULT_IDLE_TIMEOUT", "BdxServer", "FaultHook", "Transfer", "TransferListener"]

log = logging.getLogger(__name__)

DEFAULT_IDLE_TIMEOUT = 300.0  # seconds; the spec asks for at least five minutes
MAX_TRANSFERS = 512  # running at once; past it a ReceiveInit is answered ResponderBusy
# Receiver drive: how long a Block whose retransmissions all went unacknowledged waits for the
# requestor's next BlockQuery before the transfer is given up. Its BlockQuery may have been lost as
# often: matter.js's requestor retransmits it with 1.5 s more per try towards a peer it does not
# know, over 9 s in all, and its BDX allows a peer 30 s (protocol/MessageExchange.ts,
# BDX_PEER_RESPONSE_BUDGET); we wait as long. The idle release (five minutes) still bounds a transfer.
BLOCK_PATIENCE = 30.0


Authorize = Callable[[SecureSession, bytes], Path]  # raises BdxError to refuse


@dataclass(eq=False)
class Transfer:
    id: int
    session: SecureSession
    designator: bytes
    sender: BdxSender
    started: float = 0.0  # on the server's clock
    finished: float | None = None
    end: TransferEnd = RUNNING  # how it ended (Outcome.RUNNING until it does)
    exchange: Exchange | None = field(default=None, repr=False)
    paused: bool = False
    pacing: float | None = None  # seconds before each Block; None: the server's setting
    faults: list[str] = field(default_factory=list)  # faults injected, "corrupt block 3": the history keeps them
    exchange_id: int = 0
    resumed: int = 0  # provider restarts this transfer has survived
    suspended: bool = False  # restored after a restart; the requestor has not asked since
    proposed_block_size: int = 0  # what the requestor's ReceiveInit asked for (0: not known, restored)
    start_offset_given: bool = False  # its ReceiveInit carried a StartOffset (the STARTOFS bit)
    clock: Clock = field(kw_only=True, repr=False)  # the server's: the node's one clock
    _held: tuple[int, bytes] | None = field(default=None, repr=False)  # the Block waiting for resume

    @property
    def seconds(self) -> float:
        """How long it ran (or has been running)."""
        return (self.finished or self.clock()) - self.started

    @property
    def peer(self) -> Peer:
        return Peer(self.session.fabric_index, self.session.peer_node_id)

    @property
    def running(self) -> bool:
        return self.end.running

    @property
    def retransmissions(self) -> int:
        return self.exchange.retransmissions if self.exchange is not None else 0

    @property
    def duplicates(self) -> int:
        return self.exchange.duplicates if self.exchange is not None else 0


# Told of each transfer's start, resumption after a restart, and end (its ``end`` says how).
TransferListener = Callable[[TransferStep, "Transfer"], None]
# For debugging requestors: given a transfer and the Block counter about to go out, the fault to
# inject into it, or None.
FaultHook = Callable[["Transfer", int], Fault | None]

# Read for every message of a transfer: plain ints, not enum lookups.
_SECURE_CHANNEL, _STATUS_REPORT = int(ProtocolId.SECURE_CHANNEL), int(SecureChannelOpcode.STATUS_REPORT)
_BLOCK_OPCODES = frozenset((int(BdxOpcode.BLOCK), int(BdxOpcode.BLOCK_EOF)))


class _TransferExchange:
    def __init__(self, server: BdxServer, transfer: Transfer) -> None:
        self.server = server
        self.transfer = transfer
        # The manager's hook for an acknowledged message: only an asynchronous transfer streams on
        # it; a receiver-drive one (nearly all) is not called for every Block's ack.
        self.on_acked = self._stream_next if transfer.sender.asynchronous else None

    def on_message(self, exchange: Exchange, message: Message) -> None:
        self.server._on_transfer_message(self.transfer, exchange, message)

    def _stream_next(self, exchange: Exchange) -> None:
        self.server._on_acked(self.transfer, exchange)

    def on_closed(self, exchange: Exchange, reason: str) -> None:
        if self.transfer.running:
            self.server._end(self.transfer, _closed(self.transfer, exchange, reason))


def _closed(transfer: Transfer, exchange: Exchange, reason: str) -> TransferEnd:
    """How a transfer ended when its exchange closed under it."""
    if exchange.unacknowledged:
        return TransferEnd(
            Outcome.UNACKNOWLEDGED, block=transfer.sender.last_counter, sends=exchange.retransmissions + 1
        )
    return TransferEnd(Outcome.CLOSED, reason=reason)


def _requestor_ended(payload: bytes) -> TransferEnd:
    """The receiver's StatusReport, as the values it carries."""
    try:
        report = StatusReport.decode(payload)
    except ValueError:  # malformed: it ended it, with nothing readable
        return TransferEnd(Outcome.REQUESTOR_ENDED)
    if report.protocol_id != ProtocolId.BDX:
        return TransferEnd(
            Outcome.REQUESTOR_ENDED,
            status=report.protocol_code,
            status_protocol=report.protocol_id,
            reason=report.describe(),
        )
    return TransferEnd(Outcome.REQUESTOR_ENDED, status=report.protocol_code)


class BdxServer:
    def __init__(
        self,
        authorize: Authorize,
        *,
        max_block_size: int = 1024,
        idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
        listener: TransferListener | None = None,
        pacing: float = 0.0,
        faults: FaultHook | None = None,
        clock: Clock,  # the node's clock, required: deadlines and transfer times are on it
        store: TransferCheckpoints | None = None,  # where running transfers are checkpointed, to survive a crash
        max_transfers: int = MAX_TRANSFERS,
    ) -> None:
        self.authorize = authorize
        self.max_block_size = max_block_size
        self.idle_timeout = idle_timeout
        self.listener = listener
        self.pacing = pacing  # seconds between a BlockQuery and its Block, to emulate a slow link
        self.faults = faults
        self.clock = clock
        self.store = store
        self.transfers: dict[int, Transfer] = {}
        self.max_transfers = max_transfers
        self.refused_busy = 0  # ReceiveInits answered ResponderBusy: max_transfers were running
        self._suspended: dict[tuple[int, int], Transfer] = {}  # (local session id, exchange id): restored
        # Numbered on from the state's last one: "#5" names one transfer in a state directory.
        self._next_id = store.last_number() + 1 if store is not None else 1
        # ("idle", transfer id): its release; ("send", n): a paced or delayed reply in self._sends.
        self._deadlines: Deadlines[tuple[str, int]] = Deadlines()
        self._sends: dict[int, tuple[Transfer, Exchange, tuple[int, bytes]]] = {}
        self._send_numbers = 0

    def _tell(self, step: TransferStep, transfer: Transfer) -> None:
        if self.listener:
            self.listener(step, transfer)

    @staticmethod
    def _abort(exchange: Exchange, status: BdxStatus) -> None:
        report = StatusReport(GeneralCode.FAILURE, ProtocolId.BDX, status)
        # An abort may come while a Block still awaits its ack (operator abort, shutdown); MRP
        # allows one reliable message per exchange, so the report then goes unreliably.
        reliable = exchange.retransmit is None
        exchange.send(
            SecureChannelOpcode.STATUS_REPORT, report.encode(), reliable=reliable, protocol_id=ProtocolId.SECURE_CHANNEL
        )
        exchange.close(f"BDX aborted: {status.name}")

    def on_unsolicited(self, exchange: Exchange, message: Message) -> _TransferExchange | None:
        if not isinstance(message.session, SecureSession):
            return None  # BDX runs only on secure sessions
        if message.opcode != BdxOpcode.RECEIVE_INIT:
            restored = self._suspended.pop((message.session.local_session_id, exchange.exchange_id), None)
            if restored is not None:
                return self._take_up(restored, exchange, message)
            self._abort(exchange, BdxStatus.UNEXPECTED_MESSAGE)
            return None
        source = None
        try:
            init = TransferInit.decode(message.payload)
            path = self.authorize(message.session, init.file_designator)
            self._replace_running(message.session, init.file_designator)
            if sum(1 for t in self.transfers.values() if not t.suspended) >= self.max_transfers:
                self.refused_busy += 1
                raise BdxError(f"{self.max_transfers} transfers are running", BdxStatus.RESPONDER_BUSY)
            source = FileSource(path)
            sender, accept = BdxSender.accept(init, source, max_block_size=self.max_block_size)
        except BdxError as exc:
            log.info("BDX ReceiveInit refused: %s", exc)
            if source is not None:
                source.close()
            self._abort(exchange, exc.status)
            return None
        transfer = Transfer(
            self._next_id,
            message.session,
            init.file_designator,
            sender,
            exchange=exchange,
            exchange_id=exchange.exchange_id,
            started=self.clock(),
            proposed_block_size=init.max_block_size,
            start_offset_given=init.start_offset_given,
            clock=self.clock,
        )
        before = self._suspended_for(transfer)
        if before is None:
            self._next_id += 1
            if self.store is not None:
                self.store.numbered(transfer.id)
        else:  # the requestor gave up on the old exchange and starts again: still the same download
            transfer.id, transfer.resumed, transfer.faults = before.id, before.resumed + 1, before.faults
            transfer.started = before.started
        self.transfers[transfer.id] = transfer
        if not sender.asynchronous:  # receiver drive: the requestor says where it is
            exchange.patience = BLOCK_PATIENCE
            if self.store is not None:
                self.store.begin(self._record(transfer))
        exchange.send(BdxOpcode.RECEIVE_ACCEPT, accept)
        self._arm_timer(transfer)
        self._tell(TransferStep.STARTED if before is None else TransferStep.RESUMED, transfer)
        return _TransferExchange(self, transfer)

    def _replace_running(self, session: SecureSession, designator: bytes) -> None:
        """One running transfer per requestor and image: a new ReceiveInit from the same requestor for
        the same image means it gave up on the old one (its timer ran out, it restarted), so the old
        one ends now instead of holding its place until the idle timeout."""
        peer = Peer(session.fabric_index, session.peer_node_id)
        for old in list(self.transfers.values()):
            if not old.suspended and not old.resumed and (old.peer, old.designator) == (peer, designator):
                if old.exchange is not None and not old.exchange.closing:
                    old.exchange.close("replaced by a new ReceiveInit")
                self._end(old, TransferEnd(Outcome.REPLACED))

    def _suspended_for(self, transfer: Transfer) -> Transfer | None:
        """A transfer of the previous run for the same requestor and image, which this ReceiveInit
        replaces: the old exchange died with the old process (or the requestor gave up on it while
        we were down), so the requestor opened a new one, perhaps with a StartOffset where it
        stopped. The old one leaves the table quietly; its number and history carry over."""
        for old in list(self.transfers.values()):
            if not (old.suspended or old.resumed) or (old.peer, old.designator) != (transfer.peer, transfer.designator):
                continue
            self._suspended.pop((old.session.local_session_id, old.exchange_id), None)
            self._deadlines.cancel(("idle", old.id))
            old.end = TransferEnd(Outcome.REPLACED)  # before the close, so its exchange's end does not end it
            if old.exchange is not None and not old.exchange.closing:
                old.exchange.close("replaced by a new ReceiveInit")
            old.sender.close()
            del self.transfers[old.id]
            return old
        return None

    # ------------------------------------------------------------------ surviving a restart

    @staticmethod
    def _record(transfer: Transfer) -> TransferRecord:
        sender = transfer.sender
        return TransferRecord(
            transfer.id,
            transfer.session.local_session_id,
            transfer.exchange_id,
            transfer.designator,
            str(sender.source.path),
            sender.block_size,
            sender.start_offset,
            sender.start_offset + sender.total,
            sender.next_counter,
            sender.offset,
            transfer.seconds,
            transfer.resumed,
            tuple(transfer.faults),
        )

    def checkpoint(self) -> None:
        """Write where every running receiver-drive transfer is (one transaction)."""
        if self.store is None:
            return
        self.store.checkpoint(
            [
                (t.id, t.sender.next_counter, t.sender.offset, t.seconds)
                for t in self.transfers.values()
                if not t.suspended and not t.sender.asynchronous
            ]
        )

    def restore(self, records: list[TransferRecord], session_for: Callable[[int], SecureSession | None]) -> int:
        """Take up the transfers the previous process was running: each waits, in the table, for its
        requestor's next message on the same session and exchange (or for the idle timeout).
        Returns how many were restored; the rest (no session, no image) are dropped."""
        restored = 0
        for record in records:
            self._next_id = max(self._next_id, record.id + 1)
            session = session_for(record.local_session_id)
            try:
                if session is None:
                    raise BdxError("its session was not kept", BdxStatus.TRANSFER_FAILED_UNKNOWN_ERROR)
                sender = BdxSender.restored(
                    FileSource(Path(record.image_path)),
                    block_size=record.block_size,
                    start_offset=record.start_offset,
                    end_offset=record.end_offset,
                    next_counter=record.next_counter,
                    offset=record.offset,
                )
            except BdxError as exc:
                log.info("BDX transfer %d not restored: %s", record.id, exc)
                if self.store is not None:
                    self.store.end(record.id)
                continue
            transfer = Transfer(
                record.id,
                session,
                record.designator,
                sender,
                exchange_id=record.exchange_id,
                started=self.clock() - record.seconds,
                faults=list(record.faults),
                resumed=record.resumed,
                suspended=True,
                clock=self.clock,
            )
            self.transfers[transfer.id] = transfer
            self._suspended[(session.local_session_id, record.exchange_id)] = transfer
            self._arm_timer(transfer)
            restored += 1
        return restored

    def _take_up(self, transfer: Transfer, exchange: Exchange, message: Message) -> _TransferExchange | None:
        """The requestor of a restored transfer asked again: the same transfer goes on."""
        transfer.exchange, transfer.suspended = exchange, False
        exchange.patience = BLOCK_PATIENCE
        transfer.resumed += 1
        log.info("BDX transfer %d resumed after a restart", transfer.id)
        if self.store is not None:
            self.store.begin(self._record(transfer))
        self._tell(TransferStep.RESUMED, transfer)
        self._on_transfer_message(transfer, exchange, message)
        return _TransferExchange(self, transfer) if transfer.running else None

    # ------------------------------------------------------------------ timers

    def next_deadline(self) -> float | None:
        return self._deadlines.next()

    def poll(self, now: float) -> None:
        """Release the idle transfers and send the paced Blocks that are due."""
        for kind, number in self._deadlines.pop_due(now):
            if kind == "send":
                self._send_paced(*self._sends.pop(number))
            elif (transfer := self.transfers.get(number)) is not None and not transfer.paused:
                self._idle(transfer, transfer.exchange)

    def _arm_timer(self, transfer: Transfer) -> None:
        """Each message moves the transfer's idle release on, to between the idle timeout and 1%
        more after the last one (moved only when it would come too soon, not at every Block)."""
        if transfer.paused or not transfer.running:
            return
        key = ("idle", transfer.id)
        release = self.clock() + self.idle_timeout
        armed = self._deadlines.get(key)
        if armed is None or armed < release:
            self._deadlines.set(key, release + self.idle_timeout / 100)

    def _send_later(self, delay: float, transfer: Transfer, exchange: Exchange, reply: tuple[int, bytes]) -> None:
        self._send_numbers += 1
        self._sends[self._send_numbers] = (transfer, exchange, reply)
        self._deadlines.set(("send", self._send_numbers), self.clock() + delay)

    def _idle(self, transfer: Transfer, exchange: Exchange | None) -> None:
        if not transfer.running:
            return
        log.info("BDX transfer %d idle for %.0f s: released", transfer.id, self.idle_timeout)
        transfer.sender.fail(BdxStatus.TRANSFER_FAILED_UNKNOWN_ERROR)
        if transfer.suspended:
            self._suspended.pop((transfer.session.local_session_id, transfer.exchange_id), None)
            self._end(transfer, TransferEnd(Outcome.NOT_RESUMED, seconds=self.idle_timeout))
            return
        self._end(transfer, TransferEnd(Outcome.IDLE, block=transfer.sender.last_counter, seconds=self.idle_timeout))
        if exchange is not None and not exchange.closing:
            self._abort(exchange, BdxStatus.TRANSFER_FAILED_UNKNOWN_ERROR)

    def _on_transfer_message(self, transfer: Transfer, exchange: Exchange, message: Message) -> None:
        protocol_header = message.payload_header
        if protocol_header.protocol_id == _SECURE_CHANNEL and protocol_header.opcode == _STATUS_REPORT:
            transfer.sender.fail(BdxStatus.UNKNOWN)
            self._end(transfer, _requestor_ended(message.payload))
            exchange.close("receiver aborted")
            return
        try:
            reply = transfer.sender.on_message(protocol_header.opcode, message.payload)
        except BdxError as exc:
            transfer.sender.fail(exc.status)
            self._end(transfer, TransferEnd(Outcome.PROTOCOL_ERROR, status=int(exc.status)))
            self._abort(exchange, exc.status)
            return
        if reply is not None:
            self._deliver(transfer, exchange, reply)
        if transfer.sender.state == SenderState.DONE:
            self._end(transfer, TransferEnd(Outcome.COMPLETE))
            exchange.close("transfer complete")
            return
        self._arm_timer(transfer)

    def _on_acked(self, transfer: Transfer, exchange: Exchange) -> None:
        """Asynchronous mode: the previous Block (or the ReceiveAccept) arrived; push the next."""
        if not transfer.running or transfer._held is not None:
            return
        reply = transfer.sender.push_block()
        if reply is not None:
            self._deliver(transfer, exchange, reply)
            self._arm_timer(transfer)

    def _deliver(self, transfer: Transfer, exchange: Exchange, reply: tuple[int, bytes]) -> None:
        """Send a reply, through the fault knobs, a pause and the pacing."""
        if self.faults is not None and reply[0] in _BLOCK_OPCODES:
            faulted = self._inject_fault(transfer, exchange, reply)
            if faulted is None:
                return
            reply = faulted
        pacing = self.pacing if transfer.pacing is None else transfer.pacing
        if transfer.paused:
            transfer._held = reply
        elif pacing > 0:
            self._send_later(pacing, transfer, exchange, reply)
        else:
            self._send(transfer, exchange, reply)

    def _send(self, transfer: Transfer, exchange: Exchange, reply: tuple[int, bytes]) -> None:
        if exchange.retransmit is not None and not transfer.sender.asynchronous:
            # The requestor asked for the next Block, so it has the last one; only its ack was lost
            # (or came from a previous life of ours, after a restart): stop sending that one.
            exchange.supersede()
        exchange.send(*reply)

    def abort(
        self,
        transfer_id: int,
        status: BdxStatus = BdxStatus.TRANSFER_FAILED_UNKNOWN_ERROR,
        outcome: Outcome = Outcome.ABORTED,
        *,
        block: int | None = None,
    ) -> bool:
        """End a transfer now with a StatusReport to the requestor; False if it is not running.
        ``outcome``: who ended it (an operator, a fault knob at ``block``, the provider's shutdown)."""
        transfer = self.transfers.get(transfer_id)
        if transfer is None:
            return False
        transfer.sender.fail(status)
        self._end(transfer, TransferEnd(outcome, status=int(status), block=block))
        if transfer.exchange is not None and not transfer.exchange.closing:
            self._abort(transfer.exchange, status)
        return True

    def abort_all(self) -> None:
        """The provider is shutting down: every transfer ends with a StatusReport."""
        for transfer_id in list(self.transfers):
            self.abort(transfer_id, outcome=Outcome.SHUT_DOWN)

    def _send_paced(self, transfer: Transfer, exchange: Exchange, reply: tuple[int, bytes]) -> None:
        if not transfer.running or exchange.closing:
            return
        if transfer.paused:
            transfer._held = reply
            return
        self._send(transfer, exchange, reply)

    def _inject_fault(
        self, transfer: Transfer, exchange: Exchange, reply: tuple[int, bytes]
    ) -> tuple[int, bytes] | None:
        assert self.faults is not None
        counter = transfer.sender.last_counter  # the Block's own, as it was just made
        assert counter is not None
        fault = self.faults(transfer, counter)
        if fault is None:
            return reply
        log.info("BDX transfer %d: fault %s on block %d", transfer.id, fault.kind.value, counter)
        transfer.faults.append(f"{fault.kind.value} block {counter}")
        match fault.kind:
            case FaultKind.CORRUPT if len(reply[1]) > 4:
                data = bytearray(reply[1])
                data[4 + (len(data) - 4) // 2] ^= 0xFF
                return reply[0], bytes(data)
            case FaultKind.DELAY:
                self._send_later(fault.seconds, transfer, exchange, reply)
                self._arm_timer(transfer)
                return None
            case FaultKind.DROP:
                transfer.sender.withheld(reply[1])
                self._arm_timer(transfer)  # the requestor waits; the idle timer will release it
                return None
            case FaultKind.END:
                transfer.sender.withheld(reply[1])
                self.abort(transfer.id, fault.status, Outcome.FAULT_ENDED, block=counter)
                return None
        return reply

    def pause(self, transfer_id: int) -> bool:
        """Hold the next Block until :meth:`resume`; the idle timer stops meanwhile (the wait is ours)."""
        transfer = self.transfers.get(transfer_id)
        if transfer is None:
            return False
        transfer.paused = True
        self._deadlines.cancel(("idle", transfer.id))
        return True

    def resume(self, transfer_id: int) -> bool:
        transfer = self.transfers.get(transfer_id)
        if transfer is None or transfer.exchange is None:
            return False
        transfer.paused = False
        held, transfer._held = transfer._held, None
        if held is not None and not transfer.exchange.closing:
            self._send(transfer, transfer.exchange, held)
        self._arm_timer(transfer)
        return True

    def throttle(self, transfer_id: int, seconds_per_block: float | None) -> bool:
        """Space this transfer's Blocks; None returns it to the server's pacing."""
        transfer = self.transfers.get(transfer_id)
        if transfer is None:
            return False
        transfer.pacing = seconds_per_block
        return True

    def _end(self, transfer: Transfer, end: TransferEnd) -> None:
        if not transfer.running:
            return
        transfer.end = end
        transfer.finished = self.clock()
        self._deadlines.cancel(("idle", transfer.id))
        transfer.sender.close()
        self.transfers.pop(transfer.id, None)
        if self.store is not None:
            self.store.end(transfer.id)
        self._tell(TransferStep.ENDED, transfer)
