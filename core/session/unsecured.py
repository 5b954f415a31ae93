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
    last_peer_activity: float = 0.0
    open_exchanges: int = 0  # kept by the exchange manager: a session with one carries a handshake
    key: tuple = field(default=(), repr=False)  # its key in UnsecuredSessions

    def header(self, counter: int) -> bytes:
        if self.is_initiator:
            return MessageHeader(message_counter=counter, source_node_id=self.ephemeral_node_id).encode()
        return MessageHeader(message_counter=counter, destination_node_id=self.ephemeral_node_id).encode()


class UnsecuredSessions:
    """Bounded set of unsecured sessions, least recently active first.

    When full, the least recently active session makes room if it carries no open exchange;
    otherwise the least recently active session of the host holding the most sessions is evicted
    (``on_evict`` fails its exchanges). So a flood of handshakes that are never finished (a Sigma1
    asking for hour-long retransmission intervals, a PBKDFParamRequest never followed by Pake1)
    from one host slows new handshakes but never locks them out until restart, and never pushes out
    the handshake of another host while it holds more. Only when every session is one we opened
    ourselves is a new one refused. Established sessions live elsewhere and are never touched. A
    burst of real requestors (200 opening CASE at once) fits without evicting anyone.
    """

    def __init__(
        self,
        max_sessions: int = DEFAULT_MAX_UNSECURED_SESSIONS,
        on_evict: Callable[[UnsecuredSession], None] = lambda _session: None,
    ) -> None:
        self._sessions: OrderedDict[tuple, UnsecuredSession] = OrderedDict()
        self.max_sessions = max_sessions
        self.on_evict = on_evict
        self.refused = 0
        self.evicted_handshakes = 0
        self._per_host: Counter[object] = Counter()  # responder sessions per peer host

    def __len__(self) -> int:
        return len(self._sessions)

    def _store(self, key: tuple, session: UnsecuredSession) -> UnsecuredSession | None:
        if len(self._sessions) >= self.max_sessions:
            oldest_key, oldest = next(iter(self._sessions.items()))
            if not oldest.open_exchanges:  # the least recently active one is idle: it goes
                self._forget(oldest_key)
            else:
                victim = self._busiest_hosts_oldest()
                if victim is None:
                    self.refused += 1
                    return None
                evicted = self._forget(victim)
                self.evicted_handshakes += 1
                self.on_evict(evicted)
        self._sessions[key] = session
        session.key = key
        if not session.is_initiator:
            self._per_host[_host(session)] += 1
        return session

    def _busiest_hosts_oldest(self) -> tuple | None:
        if not self._per_host:
            return None
        busiest = self._per_host.most_common(1)[0][0]
        return next((k for k, s in self._sessions.items() if not s.is_initiator and _host(s) == busiest), None)

    def _forget(self, key: tuple) -> UnsecuredSession:
        session = self._sessions.pop(key)
        if not session.is_initiator:
            host = _host(session)
            self._per_host[host] -= 1
            if self._per_host[host] <= 0:
                del self._per_host[host]
        return session

    def for_incoming(self, header: MessageHeader, address: tuple[str, int]) -> UnsecuredSession | None:
        """The session an incoming unsecured message belongs to (creating a responder session)."""
        if header.source_node_id is not None and header.destination_node_id is None:
            key = ("responder", address, header.source_node_id)
            session = self._sessions.get(key)
            if session is None:
                session = self._store(key, UnsecuredSession(header.source_node_id, False, address))
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
        session = self._store(("initiator", node_id), UnsecuredSession(node_id, True, address))
        if session is None:
            raise UnsecuredSessionLimit(f"{self.max_sessions} session handshakes already in progress")
        return session

    def remove(self, session: UnsecuredSession) -> None:
        if self._sessions.get(session.key) is session:
            self._forget(session.key)
