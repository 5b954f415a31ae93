"""Unsecured sessions: the unencrypted channel that carries PASE and CASE establishment.

An initiator picks a random ephemeral node id and sends it as the source node id; the
responder answers with it as the destination node id (Core spec 4.13.2.1).
"""

from __future__ import annotations

import secrets
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from ..codec.message import MessageHeader
from .counters import ReceiveWindow
from .secure import SessionParameters

__all__ = ["DEFAULT_MAX_UNSECURED_SESSIONS", "UnsecuredSession", "UnsecuredSessionLimit", "UnsecuredSessions"]

# Enough for a bench of 100+ requestors opening CASE at once; an idle entry costs a few hundred bytes.
DEFAULT_MAX_UNSECURED_SESSIONS = 512
STALE_SECONDS = 5.0  # a handshake whose peer said nothing for this long may make room for a new one
SCAN_LIMIT = 32  # sessions looked at for one that may make room


def _host(session: UnsecuredSession) -> object:
    """The peer's host (its address without the port): the unit a flood is counted in."""
    return session.peer_address[0] if session.peer_address else None


class UnsecuredSessionLimit(RuntimeError):
    """Every unsecured session carries a handshake in progress: no room for another one."""


@dataclass(eq=False)
class UnsecuredSession:
    ephemeral_node_id: int  # the initiator's ephemeral id (ours when we initiate)
    is_initiator: bool
    peer_address: tuple[str, int] | None
    window: ReceiveWindow = field(default_factory=lambda: ReceiveWindow(rollover=True))
    peer_parameters: SessionParameters = field(default_factory=SessionParameters)
    local_parameters: SessionParameters | None = None  # a handshake keeps the spec's ack timing
    last_peer_activity: float = 0.0
    open_exchanges: int = 0  # kept by the exchange manager: a session with one carries a handshake
    awaiting_us: int = 0  # steps of its handshake queued for our public-key work: never stale meanwhile
    key: tuple = field(default=(), repr=False)  # its key in UnsecuredSessions

    def header(self, counter: int) -> bytes:
        if self.is_initiator:
            return MessageHeader(message_counter=counter, source_node_id=self.ephemeral_node_id).encode()
        return MessageHeader(message_counter=counter, destination_node_id=self.ephemeral_node_id).encode()


class UnsecuredSessions:
    """Bounded set of unsecured sessions, least recently active first.

    One host may hold at most a quarter of them, so a flood from a few hosts (Sigma1s asking for
    hour-long retransmission intervals, PBKDFParamRequests never followed by Pake1) never fills the
    table for the others. When a host is at its share, or the table is full, a session makes room
    only if it is idle (its handshake is over) or stale (no message from its peer for STALE_SECONDS):
    a handshake that makes progress is never evicted, so a burst of 1000 real requestors from one
    host is served in turn instead of evicting one another. Otherwise the new session is refused
    (``None``) and the exchange manager answers the peer Busy without keeping any state. When the
    table is full the stale handshake to go is the oldest of the host holding the most sessions.
    ``on_evict`` fails an evicted handshake's exchanges. Established sessions live elsewhere and are
    never touched.
    """

    def __init__(
        self,
        max_sessions: int = DEFAULT_MAX_UNSECURED_SESSIONS,
        on_evict: Callable[[UnsecuredSession], None] = lambda _session: None,
    ) -> None:
        self._sessions: OrderedDict[tuple, UnsecuredSession] = OrderedDict()
        self.max_sessions = max_sessions
        self.max_per_host = max(1, max_sessions // 4)
        self.on_evict = on_evict
        self.refused = 0
        self.evicted_handshakes = 0
        self._per_host: Counter[object] = Counter()  # responder sessions per peer host

    def __len__(self) -> int:
        return len(self._sessions)

    def _store(self, key: tuple, session: UnsecuredSession, now: float) -> UnsecuredSession | None:
        host = None if session.is_initiator else _host(session)
        if host is not None and self._per_host[host] >= self.max_per_host:
            victim = self._replaceable(now, host)
        elif len(self._sessions) >= self.max_sessions:
            busiest = self._per_host.most_common(1)[0][0] if self._per_host else None
            victim = self._replaceable(now, busiest)
        else:
            victim = ()
        if victim is None:
            self.refused += 1
            return None
        if victim:
            evicted = self._forget(victim)
            if evicted.open_exchanges:
                self.evicted_handshakes += 1
                self.on_evict(evicted)
        self._sessions[key] = session
        session.key = key
        if host is not None:
            self._per_host[host] += 1
        return session

    def _replaceable(self, now: float, host: object) -> tuple | None:
        """The key of the least recently active session that may make room: one of ``host`` (None:
        any peer's) that is idle or stale. Only the oldest SCAN_LIMIT are looked at: the ones
        further on are younger still."""
        looked = 0
        for key, session in self._sessions.items():
            if session.is_initiator or (host is not None and _host(session) != host):
                continue
            if not session.open_exchanges or (
                not session.awaiting_us and now - session.last_peer_activity >= STALE_SECONDS
            ):
                return key
            looked += 1
            if looked >= SCAN_LIMIT:
                break
        return None

    def _forget(self, key: tuple) -> UnsecuredSession:
        session = self._sessions.pop(key)
        if not session.is_initiator:
            host = _host(session)
            self._per_host[host] -= 1
            if self._per_host[host] <= 0:
                del self._per_host[host]
        return session

    def for_incoming(
        self, header: MessageHeader, address: tuple[str, int], now: float = 0.0
    ) -> UnsecuredSession | None:
        """The session an incoming unsecured message belongs to (creating a responder session);
        None when there is no room for a new one (see the class)."""
        if header.source_node_id is not None and header.destination_node_id is None:
            key = ("responder", address, header.source_node_id)
            session = self._sessions.get(key)
            if session is None:
                fresh = UnsecuredSession(header.source_node_id, False, address, last_peer_activity=now)
                session = self._store(key, fresh, now)
                if session is None:
                    return None
            self._sessions.move_to_end(key)
            return session
        if header.destination_node_id is not None and header.source_node_id is None:
            session = self._sessions.get(("initiator", header.destination_node_id))
            if session is not None:
                session.peer_address = address
            return session
        return None

    def new_initiator(self, address: tuple[str, int]) -> UnsecuredSession:
        node_id = secrets.randbits(64) or 1
        session = self._store(("initiator", node_id), UnsecuredSession(node_id, True, address), 0.0)
        if session is None:
            raise UnsecuredSessionLimit(f"{self.max_sessions} session handshakes already in progress")
        return session

    def remove(self, session: UnsecuredSession) -> None:
        if self._sessions.get(session.key) is session:
            self._forget(session.key)
