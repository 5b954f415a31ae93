"""The session table: local session ids, lookup, least-recently-used eviction, fabric removal."""

from __future__ import annotations

import secrets
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterator

from .secure import SecureSession

__all__ = ["DEFAULT_MAX_SESSIONS", "SessionTable"]

# A bench provider serves every requestor at once (100 in `ota-requestor-sim -n 100`), each with
# its own CASE session; a session costs about a kilobyte.
DEFAULT_MAX_SESSIONS = 256


class SessionTable:
    """Secure sessions by local id. When full, a session makes room in this order (the SDK's
    SecureSessionTable eviction has the same spirit): the least recently used idle session of a
    peer that has a newer one, then the least recently used idle session, then the least
    recently used. ``in_use`` says whether a session carries an open exchange."""

    def __init__(
        self, max_sessions: int = DEFAULT_MAX_SESSIONS, in_use: Callable[[SecureSession], bool] = lambda _session: False
    ) -> None:
        self._sessions: OrderedDict[int, SecureSession] = OrderedDict()
        self._reserved: set[int] = set()
        self.max_sessions = max_sessions
        self.in_use = in_use
        self.evicted = 0
        self.on_removed: Callable[[SecureSession], None] | None = None  # evicted, removed, its fabric gone

    def __len__(self) -> int:
        return len(self._sessions)

    def __iter__(self) -> Iterator[SecureSession]:
        return iter(list(self._sessions.values()))

    def allocate_id(self) -> int:
        """A free, non-zero local session id, reserved until added or released."""
        while True:
            candidate = secrets.randbelow(0xFFFF) + 1
            if candidate not in self._sessions and candidate not in self._reserved:
                self._reserved.add(candidate)
                return candidate

    def release_id(self, session_id: int) -> None:
        self._reserved.discard(session_id)

    def add(self, session: SecureSession) -> list[SecureSession]:
        """Add a session; return the sessions evicted (least recently used) to make room."""
        self._reserved.discard(session.local_session_id)
        evicted = []
        while len(self._sessions) >= self.max_sessions:
            victim = self._eviction_candidate()
            del self._sessions[victim.local_session_id]
            evicted.append(victim)
            self.evicted += 1
            if self.on_removed is not None:
                self.on_removed(victim)
        self._sessions[session.local_session_id] = session
        return evicted

    def _eviction_candidate(self) -> SecureSession:
        def peer(s: SecureSession) -> tuple:
            return (s.fabric_index, s.peer_node_id)

        per_peer = Counter(peer(s) for s in self._sessions.values())
        idle = [s for s in self._sessions.values() if not self.in_use(s)]
        for candidate in idle:
            if per_peer[peer(candidate)] > 1:
                return candidate
        return idle[0] if idle else next(iter(self._sessions.values()))

    def get(self, session_id: int) -> SecureSession | None:
        session = self._sessions.get(session_id)
        if session is not None:
            self._sessions.move_to_end(session_id)
        return session

    def remove(self, session: SecureSession) -> None:
        if self._sessions.pop(session.local_session_id, None) is not None and self.on_removed is not None:
            self.on_removed(session)

    def remove_fabric(self, fabric_index: int) -> list[SecureSession]:
        """Drop every session bound to a removed fabric."""
        gone = [s for s in self._sessions.values() if s.fabric_index == fabric_index]
        for session in gone:
            self.remove(session)
        return gone
