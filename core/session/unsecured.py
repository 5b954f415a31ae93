"""Unsecured sessions: the unencrypted channel that carries PASE and CASE establishment.

An initiator picks a random ephemeral node id and sends it as the source node id; the
responder answers with it as the destination node id (Core spec 4.13.2.1).
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass, field

from ..codec.message import MessageHeader
from .counters import ReceiveWindow
from .secure import SessionParameters

__all__ = ["UnsecuredSession", "UnsecuredSessions"]


@dataclass(eq=False)
class UnsecuredSession:
    ephemeral_node_id: int  # the initiator's ephemeral id (ours when we initiate)
    is_initiator: bool
    peer_address: tuple[str, int] | None
    window: ReceiveWindow = field(default_factory=lambda: ReceiveWindow(rollover=True))
    peer_parameters: SessionParameters = field(default_factory=SessionParameters)
    last_activity: float = field(default_factory=time.monotonic)
    last_peer_activity: float = 0.0

    def header(self, counter: int) -> bytes:
        if self.is_initiator:
            return MessageHeader(message_counter=counter, source_node_id=self.ephemeral_node_id).encode()
        return MessageHeader(message_counter=counter, destination_node_id=self.ephemeral_node_id).encode()


class UnsecuredSessions:
    """Bounded set of unsecured sessions; the oldest is dropped when full."""

    def __init__(self, max_sessions: int = 16) -> None:
        self._sessions: OrderedDict[tuple, UnsecuredSession] = OrderedDict()
        self.max_sessions = max_sessions

    def _store(self, key: tuple, session: UnsecuredSession) -> UnsecuredSession:
        while len(self._sessions) >= self.max_sessions:
            self._sessions.popitem(last=False)
        self._sessions[key] = session
        return session

    def for_incoming(self, header: MessageHeader, address: tuple[str, int]) -> UnsecuredSession | None:
        """The session an incoming unsecured message belongs to (creating a responder session)."""
        if header.source_node_id is not None and header.destination_node_id is None:
            key = ("responder", address, header.source_node_id)
            session = self._sessions.get(key)
            if session is None:
                session = self._store(key, UnsecuredSession(header.source_node_id, False, address))
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
        return self._store(("initiator", node_id), UnsecuredSession(node_id, True, address))

    def remove(self, session: UnsecuredSession) -> None:
        for key, value in list(self._sessions.items()):
            if value is session:
                del self._sessions[key]
