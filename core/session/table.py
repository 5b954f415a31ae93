"""The session table: local session ids, lookup, least-recently-used eviction, fabric removal."""

from __future__ import annotations

import secrets
from collections import OrderedDict
from collections.abc import Iterator

from .secure import SecureSession

__all__ = ["DEFAULT_MAX_SESSIONS", "SessionTable"]

DEFAULT_MAX_SESSIONS = 64


class SessionTable:
    def __init__(self, max_sessions: int = DEFAULT_MAX_SESSIONS) -> None:
        self._sessions: OrderedDict[int, SecureSession] = OrderedDict()
        self._reserved: set[int] = set()
        self.max_sessions = max_sessions
        self.evicted = 0

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
            _, oldest = self._sessions.popitem(last=False)
            evicted.append(oldest)
            self.evicted += 1
        self._sessions[session.local_session_id] = session
        return evicted

    def get(self, session_id: int) -> SecureSession | None:
        session = self._sessions.get(session_id)
        if session is not None:
            self._sessions.move_to_end(session_id)
        return session

    def remove(self, session: SecureSession) -> None:
        self._sessions.pop(session.local_session_id, None)

    def remove_fabric(self, fabric_index: int) -> list[SecureSession]:
        """Drop every session bound to a removed fabric."""
        gone = [s for s in self._sessions.values() if s.fabric_index == fabric_index]
        for session in gone:
            self.remove(session)
        return gone
