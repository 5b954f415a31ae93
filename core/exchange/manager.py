"""Exchanges and MRP as a sans-IO state machine (Core spec 4.10, 4.12).

The manager takes datagrams and the current time in, and queues datagrams out; it never
touches a socket or a clock. :mod:`.driver` connects it to asyncio and UDP.

Receive path for every datagram: parse the message header; find the session (unsecured by
node ids and address, secure by local session id); decrypt and authenticate; check the
counter window; parse the protocol header; process the piggybacked ack; drop duplicates
(acking them again if they asked for it); find or create the exchange; deliver. Anything
malformed or unauthenticated is dropped and counted in :attr:`ExchangeManager.drops`, never
raised.
"""

from __future__ import annotations

import logging
import math
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

from ..codec.message import MessageError, MessageHeader, PayloadHeader, SessionType, payload_header_bytes
from ..codec.protocols import ProtocolId, SecureChannelOpcode
from ..codec.status_report import StatusReport
from ..crypto.primitives import CryptoError
from ..session.counters import CounterExhausted, LocalCounter
from ..session.secure import SecureSession
from ..session.table import SessionTable
from ..session.unsecured import UnsecuredSession, UnsecuredSessions
from ..timers import Deadlines
from ..transport.addresses import is_ble
from .link import LinkEstimates
from .mrp import MrpConfig, retransmit_delay

__all__ = [
    "Address",
    "Exchange",
    "ExchangeDelegate",
    "ExchangeError",
    "ExchangeManager",
    "Message",
    "Outgoing",
    "ProtocolHandler",
]

log = logging.getLogger(__name__)

BUSY_WAIT_MS = 500  # what a Busy answer asks an initiator to wait before it tries again

# How long a handshake a peer opened may wait for the peer's next message (after our PBKDFParamResponse,
# Pake2, Sigma2): past it the exchange is failed and its unsecured session freed. The SDK's responders
# wait its "high processing time" of 30 s for the next step; twice that is left here.
HANDSHAKE_STEP_SECONDS = 60.0

Address = tuple  # (host, port) or (host, port, flowinfo, scope_id) for IPv6
Session = SecureSession | UnsecuredSession


class ExchangeError(RuntimeError):
    """Misuse of an exchange (sending on a closed one, two reliable messages in flight)."""


# Both made once per datagram: tuples, which build several times faster than frozen dataclasses.
class Outgoing(NamedTuple):
    address: Address
    data: bytes


class Message(NamedTuple):
    """A message delivered to an exchange."""

    session: Session
    header: MessageHeader
    payload_header: PayloadHeader
    payload: bytes

    @property
    def protocol_id(self) -> int:
        return self.payload_header.protocol_id

    @property
    def opcode(self) -> int:
        return self.payload_header.opcode


class ExchangeDelegate(Protocol):
    def on_message(self, exchange: Exchange, message: Message) -> None: ...

    def on_closed(self, exchange: Exchange, reason: str) -> None: ...


class ProtocolHandler(Protocol):
    """Receives the first message of exchanges that a peer opens for one protocol."""

    def on_unsolicited(self, exchange: Exchange, message: Message) -> ExchangeDelegate | None:
        """Handle the message; return the delegate for the rest of the exchange (or None to close)."""


@dataclass(frozen=True)
class Traced:
    """One message as the trace sees it (the session is read, never kept)."""

    direction: str  # "in" or "out"
    at: float
    session: Any
    counter: int
    header: PayloadHeader | None  # None: a retransmission of the message with ``counter``
    payload: bytes
    duplicate: bool = False
    retransmission: int = 0
    exchange_id: int = 0


@dataclass(slots=True)  # one per reliable message sent
class _Retransmit:
    datagram: bytes
    counter: int
    sends: int
    due: float
    acks: int | None = None  # the peer's message counter this one acknowledges (piggybacked)
    sent_at: float = 0.0  # its first transmission: the round trip, if it is acknowledged before a second


@dataclass(eq=False)
class Exchange:
    manager: ExchangeManager
    session: Session
    exchange_id: int
    is_initiator: bool
    protocol_id: int
    delegate: ExchangeDelegate | None = None
    pending_ack: int | None = None
    ack_due: float = 0.0
    retransmit: _Retransmit | None = None
    closing: bool = False
    closed: bool = False
    close_reason: str = ""  # in words, for logs
    unacknowledged: bool = False  # it failed because a message of ours was never acknowledged
    user_data: dict = field(default_factory=dict)
    retransmissions: int = 0  # our messages sent again (lost, or their ack was)
    duplicates: int = 0  # the peer's messages received again (our ack, or our answer, was lost)
    # failed if the peer's next message has not come by then: a handshake step a peer opened, or
    # the end of our patience (below)
    expires: float | None = None
    # Seconds to wait for the peer once our message's retransmissions are spent, before failing the
    # exchange (0: fail at once). BDX sets it: a requestor whose BlockQuery was lost keeps sending
    # it on its own, slower, timer, and its next BlockQuery acknowledges our Block.
    patience: float = 0.0
    waiting_since: float | None = None  # the retransmissions ran out then; waiting for the peer

    @property
    def key(self) -> tuple:
        return (id(self.session), self.exchange_id, self.is_initiator)

    def send(self, opcode: int, payload: bytes = b"", *, reliable: bool = True, protocol_id: int | None = None) -> None:
        # SECURE_CHANNEL is protocol 0, so test for None rather than falsiness
        protocol = self.protocol_id if protocol_id is None else protocol_id
        self.manager._send_on_exchange(self, protocol, opcode, payload, reliable)

    def close(self, reason: str = "closed") -> None:
        """Close once any owed ack is sent; an unacknowledged message keeps being retransmitted."""
        self.manager._close_exchange(self, reason)

    def supersede(self) -> None:
        """Stop retransmitting our unacknowledged message: the peer has shown it got it although
        its ack never came (a BlockQuery for the next Block says the last Block arrived)."""
        self.retransmit = None

    def acknowledge(self) -> None:
        """Send the ack owed for the message being handled now, ahead of an answer that will take
        a while, so the peer stops retransmitting it."""
        if self.pending_ack is not None:
            self.manager._flush_ack(self)


class ExchangeManager:
    def __init__(
        self,
        sessions: SessionTable | None = None,
        *,
        config: MrpConfig | None = None,
        unencrypted_counter: LocalCounter | None = None,
        rng: random.Random | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.sessions = sessions or SessionTable(in_use=self._has_exchanges)
        self.unsecured = UnsecuredSessions(on_evict=self._evicted)
        self.config = config or MrpConfig()
        self.unencrypted_counter = unencrypted_counter or LocalCounter(wraps=True)
        self._rng = rng or random.Random()
        self.clock = clock  # None: sans-IO, the time is what receive() and poll() were last given
        self._handlers: dict[int, ProtocolHandler] = {}
        self._exchanges: dict[tuple, Exchange] = {}
        # exchange key -> when it next needs the poll (its ack, retransmission or handshake deadline):
        # poll() and next_deadline() touch only those, not every open exchange (a flood holds hundreds).
        self._due: Deadlines[tuple] = Deadlines()
        self._outgoing: list[Outgoing] = []
        self._now = 0.0
        self.drops: Counter[str] = Counter()
        self.delivered = 0
        self.delivered_secure = 0  # on established sessions: the work unauthenticated handshakes must not starve
        self.busy_without_state = 0  # handshakes answered Busy because the unsecured table had no room
        self.retransmissions = 0
        self.links = LinkEstimates()  # round trips per peer address, for the intervals handshakes advertise
        # Sees every message in (after decryption) and out (before encryption), for --trace.
        self.tracer: Callable[[Traced], None] | None = None

    # ------------------------------------------------------------------ setup

    @property
    def now(self) -> float:
        """The driver's clock when it has one; otherwise the time of the last receive/poll."""
        return self.clock() if self.clock is not None else self._now

    def register(self, protocol_id: int, handler: ProtocolHandler) -> None:
        self._handlers[protocol_id] = handler

    def take_outgoing(self) -> list[Outgoing]:
        out, self._outgoing = self._outgoing, []
        return out

    @property
    def exchanges(self) -> list[Exchange]:
        return list(self._exchanges.values())

    # ------------------------------------------------------------------ receive

    def receive(self, data: bytes, address: Address, now: float) -> None:
        self._now = now
        try:
            self._receive(data, address)
        except (MessageError, CryptoError) as exc:  # defensive: every decoder error is a drop
            self._drop("malformed", exc)

    def _drop(self, reason: str, detail: object = "") -> None:
        self.drops[reason] += 1
        log.debug("dropped datagram: %s %s", reason, detail)

    def _receive(self, data: bytes, address: Address) -> None:
        try:
            header, offset = MessageHeader.decode(data)
        except MessageError as exc:
            self._drop("malformed header", exc)
            return
        session: Session | None
        if header.session_type == SessionType.GROUP:
            self._drop("group message")
            return
        if header.session_id == 0:
            session = self.unsecured.for_incoming(header, address, self.now)
            if session is None:
                self._drop("no unsecured session")
                self._busy_without_state(header, data[offset:], address)
                return
            payload = data[offset:]
        else:
            session = self.sessions.get(header.session_id)
            if session is None:
                self._drop("unknown session")
                return
            try:
                payload = session.open(header, data, offset)
            except CryptoError:
                self._drop("bad MIC")
                return
        duplicate = session.window.is_duplicate(header.message_counter)
        try:
            payload_header, app_offset = PayloadHeader.decode(payload)
        except MessageError as exc:
            self._drop("malformed protocol header", exc)
            return
        session.peer_address = address
        session.last_peer_activity = self._now  # (receive's time: the clock is read once per datagram)
        # The peer set I when *it* initiated; then we are the responder (Exchange.key's third part).
        key = (id(session), payload_header.exchange_id, not payload_header.initiator)
        exchange = self._exchanges.get(key)
        acked = None
        if exchange is not None and payload_header.ack_counter is not None:
            acked = self._process_ack(session, exchange, payload_header.ack_counter)
            if exchange.closed:  # the ack was all it waited for: a new message finds no exchange
                exchange = None
        if duplicate:
            self._duplicate(Message(session, header, payload_header, payload[app_offset:]), exchange)
            self._notify_acked(acked)
            return
        session.window.commit(header.message_counter)
        if self.tracer is not None:
            self._trace("in", session, header.message_counter, payload_header, payload[app_offset:])
        if (
            payload_header.protocol_id == ProtocolId.SECURE_CHANNEL
            and payload_header.opcode == SecureChannelOpcode.STANDALONE_ACK
        ):
            self._notify_acked(acked)
            return
        self._dispatch(Message(session, header, payload_header, payload[app_offset:]), key, exchange)
        self._notify_acked(acked)

    def _duplicate(self, message: Message, exchange: Exchange | None) -> None:
        """A message received before: counted, and acknowledged again if it asks (our answer, which
        carried the ack, is sent again rather than a standalone ack)."""
        self.drops["duplicate"] += 1
        header, payload_header = message.header, message.payload_header
        if self.tracer is not None:
            self._trace("in", message.session, header.message_counter, payload_header, message.payload, duplicate=True)
        if exchange is not None:
            exchange.duplicates += 1
        if payload_header.needs_ack and not self._resend_answer(exchange, header.message_counter):
            self._send_standalone_ack(message.session, payload_header, header.message_counter)

    def _busy_without_state(self, header: MessageHeader, payload: bytes, address: Address) -> None:
        """No room for the session a peer's PBKDFParamRequest or Sigma1 would open: answer Busy with
        the time to wait, acknowledging the request, and keep nothing (Core spec 4.11.1.4). The
        peer tries again after the wait instead of retransmitting into a full table until its
        MRP gives up (a burst of 1000 handshakes from one host once failed that way)."""
        try:
            request, _ = PayloadHeader.decode(payload)
        except MessageError:
            return
        if (
            request.protocol_id != ProtocolId.SECURE_CHANNEL
            or not request.initiator
            or header.source_node_id is None
            or request.opcode not in (SecureChannelOpcode.PBKDF_PARAM_REQUEST, SecureChannelOpcode.CASE_SIGMA1)
        ):
            return
        answer = PayloadHeader(
            exchange_id=request.exchange_id,
            protocol_id=ProtocolId.SECURE_CHANNEL,
            opcode=SecureChannelOpcode.STATUS_REPORT,
            initiator=False,
            needs_ack=False,
            ack_counter=header.message_counter if request.needs_ack else None,
        )
        busy = StatusReport.busy(BUSY_WAIT_MS)
        out = MessageHeader(message_counter=self.unencrypted_counter.next(), destination_node_id=header.source_node_id)
        self.busy_without_state += 1
        self._outgoing.append(Outgoing(address, out.encode() + answer.encode() + busy.encode()))

    def _trace(
        self,
        direction: str,
        session: Session,
        counter: int,
        header: PayloadHeader,
        payload: bytes,
        *,
        duplicate: bool = False,
    ) -> None:
        assert self.tracer is not None
        try:
            self.tracer(
                Traced(direction, self.now, session, counter, header, payload, duplicate, 0, header.exchange_id)
            )
        except Exception:  # a trace never costs a message
            log.exception("the trace could not take a message")

    def _process_ack(self, session: Session, exchange: Exchange, ack_counter: int) -> Exchange | None:
        entry = exchange.retransmit
        if entry is not None and entry.counter == ack_counter:
            exchange.retransmit = None
            if entry.sends == 1 and isinstance(session, SecureSession):  # Karn's rule; no handshake work in it
                self.links.sample(session.peer_address, self._now - entry.sent_at, self._now)
            self._maybe_forget(exchange)
            return exchange
        return None

    def _notify_acked(self, exchange: Exchange | None) -> None:
        """Optional delegate hook: protocols that stream (asynchronous BDX) send the next reliable
        message once the previous one is acknowledged. Called after the carrying message is
        dispatched, so what the hook sends piggybacks the ack that message is owed."""
        on_acked = getattr(exchange.delegate, "on_acked", None) if exchange is not None else None
        if on_acked is not None and not exchange.closing:  # type: ignore[union-attr]
            try:
                on_acked(exchange)
            except Exception:
                self._handler_failed(exchange)  # type: ignore[arg-type]

    def _dispatch(self, message: Message, key: tuple, exchange: Exchange | None) -> None:
        """Deliver to ``exchange`` (the one under ``key``), or to a new one if the peer opens it."""
        ph = message.payload_header
        if exchange is None:
            handler = self._handlers.get(ph.protocol_id) if ph.initiator else None
            if handler is None:
                self._drop("no exchange" if not ph.initiator else "no handler")
                if ph.needs_ack:
                    self._send_standalone_ack(message.session, ph, message.header.message_counter)
                return
            exchange = Exchange(self, message.session, ph.exchange_id, False, ph.protocol_id)
            self._add_exchange(key, exchange)
            self._note_received(exchange, message)
            self.delivered += 1
            if isinstance(message.session, SecureSession):
                self.delivered_secure += 1
            try:
                exchange.delegate = handler.on_unsolicited(exchange, message)
            except Exception:  # a protocol handler bug must not take the receive path down
                self._handler_failed(exchange)
                return
            if exchange.delegate is None and not exchange.closed:
                exchange.close("handled")
            self._schedule_if_open(exchange)
            return
        if exchange.closing:
            self._drop("exchange closing")
            if ph.needs_ack:
                self._send_standalone_ack(message.session, ph, message.header.message_counter)
            return
        self._note_received(exchange, message)
        self.delivered += 1
        if isinstance(message.session, SecureSession):
            self.delivered_secure += 1
        if exchange.delegate is not None:
            try:
                exchange.delegate.on_message(exchange, message)
            except Exception:
                self._handler_failed(exchange)
        self._schedule_if_open(exchange)

    def _schedule_if_open(self, exchange: Exchange) -> None:
        """After a delivery: the ack owed, if the handler sent no answer to carry it, and a handshake
        step's deadline need the timer. (An answer sent scheduled the exchange already, so most
        messages skip this.)"""
        if (exchange.pending_ack is not None or exchange.expires is not None) and not exchange.closed:
            self._schedule(exchange)

    def _handler_failed(self, exchange: Exchange) -> None:
        log.exception("handler error on exchange %d (protocol 0x%04x)", exchange.exchange_id, exchange.protocol_id)
        self.drops["handler error"] += 1
        if not exchange.closing:
            exchange.close("handler error")

    def _note_received(self, exchange: Exchange, message: Message) -> None:
        if not exchange.is_initiator and isinstance(exchange.session, UnsecuredSession):
            exchange.expires = self._now + HANDSHAKE_STEP_SECONDS
        elif exchange.waiting_since is not None:  # the peer came back within our patience
            exchange.waiting_since = exchange.expires = None
        if message.payload_header.needs_ack:
            if exchange.pending_ack is not None:  # never leave an older message unacknowledged
                self._send_standalone_ack(exchange.session, message.payload_header, exchange.pending_ack)
            exchange.pending_ack = message.header.message_counter
            exchange.ack_due = self._now + self._ack_delay(exchange.session)
        # Scheduled after delivery (_schedule_if_open), when the handler has or has not answered.

    # ------------------------------------------------------------------ send

    def new_exchange(self, session: Session, protocol_id: int, delegate: ExchangeDelegate | None = None) -> Exchange:
        while True:
            exchange_id = self._rng.randrange(0x10000)
            key = (id(session), exchange_id, True)
            if key not in self._exchanges:
                break
        exchange = Exchange(self, session, exchange_id, True, protocol_id, delegate)
        self._add_exchange(key, exchange)
        return exchange

    def _add_exchange(self, key: tuple, exchange: Exchange) -> None:
        self._exchanges[key] = exchange
        exchange.session.open_exchanges += 1

    def _seal(self, session: Session, payload: bytes) -> tuple[bytes, int]:
        if isinstance(session, SecureSession):
            counter = session.counter.peek
            return session.seal(payload), counter
        counter = self.unencrypted_counter.next()
        return session.header(counter) + payload, counter

    def _transmit(self, session: Session, datagram: bytes) -> None:
        if session.peer_address is None:
            self._drop("no peer address")
            return
        self._outgoing.append(Outgoing(session.peer_address, datagram))

    def _send_on_exchange(
        self, exchange: Exchange, protocol_id: int, opcode: int, payload: bytes, reliable: bool
    ) -> None:
        if exchange.closed or exchange.closing:
            raise ExchangeError("exchange is closed")
        session = exchange.session
        if reliable:
            if is_ble(session.peer_address):
                reliable = False  # BTP acknowledges and retransmits itself: MRP is for UDP only
            elif exchange.retransmit is not None:
                raise ExchangeError("a reliable message is already awaiting its acknowledgement on this exchange")
        ack = exchange.pending_ack
        exchange.pending_ack = None
        header = payload_header_bytes(exchange.exchange_id, protocol_id, opcode, exchange.is_initiator, reliable, ack)
        try:
            datagram, counter = self._seal(session, header + payload)
        except CounterExhausted:
            self._fail_exchange(exchange, "message counter exhausted")
            return
        if reliable:
            now = self.now
            exchange.retransmit = _Retransmit(datagram, counter, 1, now + self._delay(session, 0, now), ack, now)
            self._schedule(exchange)
        if self.tracer is not None:
            ph = PayloadHeader(exchange.exchange_id, protocol_id, opcode, exchange.is_initiator, reliable, ack)
            self._trace("out", session, counter, ph, payload)
        self._transmit(session, datagram)

    def _send_standalone_ack(self, session: Session, peer_header: PayloadHeader, counter: int) -> None:
        ph = PayloadHeader(
            exchange_id=peer_header.exchange_id,
            protocol_id=ProtocolId.SECURE_CHANNEL,
            opcode=SecureChannelOpcode.STANDALONE_ACK,
            initiator=not peer_header.initiator,
            needs_ack=False,
            ack_counter=counter,
        )
        try:
            datagram, sent_counter = self._seal(session, ph.encode())
        except CounterExhausted:
            return
        if self.tracer is not None:
            self._trace("out", session, sent_counter, ph, b"")
        self._transmit(session, datagram)

    def _ack_delay(self, session: Session) -> float:
        """How long an ack may wait for a message to ride on: the spec's 200 ms at most, and less
        than half the active interval we advertised on the session, so the peer's retransmission
        timer (at least 1.1 times that interval) never fires for a message we received."""
        local = session.local_parameters
        if local is None:
            return self.config.standalone_ack_timeout
        return min(self.config.standalone_ack_timeout, local.active_interval_ms / 2000)

    def _delay(self, session: Session, retransmissions: int, now: float) -> float:
        peer = session.peer_parameters
        active = (now - session.last_peer_activity) * 1000 < peer.active_threshold_ms
        return retransmit_delay(self.config, peer, retransmissions, peer_active=active, rng=self._rng)

    # ------------------------------------------------------------------ timers and closing

    def poll(self, now: float) -> None:
        """Run every timer that is due: standalone acks, retransmissions and handshake deadlines."""
        self._now = now
        for key in self._due.pop_due(now):
            exchange = self._exchanges.get(key)
            if exchange is None or exchange.closed:
                continue
            if exchange.waiting_since is not None and exchange.expires is not None and exchange.expires <= now:
                exchange.unacknowledged = True
                self._fail_exchange(exchange, "no acknowledgement after retransmissions")
                continue
            if exchange.expires is not None and exchange.expires <= now:
                self.drops["handshake timed out"] += 1
                exchange.retransmit = None
                exchange.pending_ack = None
                self._fail_exchange(exchange, "the peer's next handshake message never came")
                continue
            if exchange.pending_ack is not None and exchange.ack_due <= now:
                self._flush_ack(exchange)
            entry = exchange.retransmit
            if entry is not None and entry.due <= now:
                if entry.sends >= self.config.max_transmissions:
                    if exchange.patience and not exchange.closing:
                        # Kept, never sent on a timer again: a duplicate from the peer still gets it.
                        entry.due = math.inf
                        exchange.waiting_since, exchange.expires = now, now + exchange.patience
                        self._schedule(exchange)
                        continue
                    exchange.retransmit = None
                    if exchange.expires is not None and not exchange.closing:
                        # A handshake step we answered: a peer starved of CPU may still send its next
                        # step late (a Sigma3 after our Sigma2's retransmissions ran out was answered
                        # INVALID_PARAMETER as unsolicited, and CASE failed). It waits for its deadline.
                        self._schedule(exchange)
                        continue
                    exchange.unacknowledged = True
                    self._fail_exchange(exchange, "no acknowledgement after retransmissions")
                    continue
                self._retransmit(exchange, entry)
            self._maybe_forget(exchange)
            if not exchange.closed:
                self._schedule(exchange)

    def _schedule(self, exchange: Exchange) -> None:
        """Note when the exchange next needs the poll. An entry left early by an ack that came since
        is harmless: the poll finds nothing due and schedules the exchange again."""
        due = exchange.expires
        if exchange.pending_ack is not None and (due is None or exchange.ack_due < due):
            due = exchange.ack_due
        if exchange.retransmit is not None and (due is None or exchange.retransmit.due < due):
            due = exchange.retransmit.due
        if due is not None:
            self._due.set(exchange.key, due)
        else:
            self._due.cancel(exchange.key)

    def _retransmit(self, exchange: Exchange, entry: _Retransmit, *, timed: bool = True) -> None:
        """Send ``entry`` again; ``timed``: and schedule the next time (not once the budget is spent)."""
        self.retransmissions += 1
        exchange.retransmissions += 1
        if timed:
            now = self.now
            entry.due = now + self._delay(exchange.session, entry.sends, now)
            entry.sends += 1
        if self.tracer is not None:
            self.tracer(
                Traced(
                    "out",
                    self.now,
                    exchange.session,
                    entry.counter,
                    None,
                    b"",
                    False,
                    entry.sends - 1,
                    exchange.exchange_id,
                )
            )
        self._transmit(exchange.session, entry.datagram)

    def _resend_answer(self, exchange: Exchange | None, counter: int) -> bool:
        """The peer sent ``counter`` again, so it never got our answer, which carried the ack for
        it (a lost BDX Block, say): send that answer again now rather than when our own timer
        fires. It is the same message, so one is still all that is in flight on the exchange, and
        it counts against the same retransmission budget."""
        entry = exchange.retransmit if exchange is not None else None
        if entry is None or entry.acks != counter:
            return False
        if entry.sends >= self.config.max_transmissions:
            if exchange.waiting_since is None:  # type: ignore[union-attr]
                return False
            # Our timer is spent but the peer is still there, without our answer: one more copy.
            self._retransmit(exchange, entry, timed=False)  # type: ignore[arg-type]
            return True
        self._retransmit(exchange, entry)  # type: ignore[arg-type]
        return True

    def next_deadline(self) -> float | None:
        return self._due.next()

    def _flush_ack(self, exchange: Exchange) -> None:
        counter, exchange.pending_ack = exchange.pending_ack, None
        ph = PayloadHeader(
            exchange_id=exchange.exchange_id,
            protocol_id=exchange.protocol_id,
            opcode=0,
            initiator=not exchange.is_initiator,
        )
        self._send_standalone_ack(exchange.session, ph, counter)  # type: ignore[arg-type]

    def _close_exchange(self, exchange: Exchange, reason: str) -> None:
        if exchange.closing:
            return
        exchange.closing = True
        exchange.close_reason = reason
        if exchange.pending_ack is not None:
            self._flush_ack(exchange)
        self._maybe_forget(exchange)

    def _fail_exchange(self, exchange: Exchange, reason: str) -> None:
        exchange.closing = True
        exchange.close_reason = reason
        self._forget(exchange)

    def _maybe_forget(self, exchange: Exchange) -> None:
        if exchange.closing and exchange.retransmit is None and exchange.pending_ack is None:
            self._forget(exchange)

    def _forget(self, exchange: Exchange) -> None:
        if exchange.closed:
            return
        exchange.closed = True
        self._due.cancel(exchange.key)
        if self._exchanges.pop(exchange.key, None) is not None:
            session = exchange.session
            session.open_exchanges -= 1
            if isinstance(session, UnsecuredSession) and not session.is_initiator and not session.open_exchanges:
                # The handshake a peer opened is over (established, refused or timed out): its
                # unsecured session has nothing more to carry, and the table keeps only live ones.
                self.unsecured.remove(session)
        if exchange.delegate is not None:
            exchange.delegate.on_closed(exchange, exchange.close_reason)

    def _has_exchanges(self, session: Session) -> bool:
        return session.open_exchanges > 0

    def add_session(self, session: SecureSession) -> None:
        """Install a newly established session; the least recently used ones evicted to make room
        are dropped with their exchanges."""
        for evicted in self.sessions.add(session):
            self.drop_session(evicted)

    def _evicted(self, session: UnsecuredSession) -> None:
        """A stale handshake made room for a new one: its peer is told Busy (it tries again after
        the wait, rather than waiting for an answer that will never come), then it is dropped."""
        for exchange in [e for e in self._exchanges.values() if e.session is session and not e.is_initiator]:
            if not exchange.closing:
                exchange.retransmit = None
                busy = StatusReport.busy(BUSY_WAIT_MS).encode()
                exchange.send(
                    SecureChannelOpcode.STATUS_REPORT, busy, reliable=False, protocol_id=ProtocolId.SECURE_CHANNEL
                )
        self.drop_session(session)

    def drop_session(self, session: Session) -> None:
        """Forget a session and fail its exchanges (fabric removed, session evicted)."""
        for exchange in list(self._exchanges.values()):
            if exchange.session is session:
                exchange.retransmit = None
                exchange.pending_ack = None
                self._fail_exchange(exchange, "session closed")
        if isinstance(session, SecureSession):
            self.sessions.remove(session)
        else:
            self.unsecured.remove(session)
