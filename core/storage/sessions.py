"""CASE sessions that outlive the process, so a provider killed mid-download keeps talking to the
requestor on the session the requestor still has (Matter sessions are not meant to survive a
reboot; a requestor whose session is gone on our side retries on it into silence, every datagram
dropped as "unknown session", until its BDX timeout).

What is kept, in the state database (owner-only, like the operational keys beside it): the
session's ids, keys, peer and parameters; the outgoing message counter, reserved in blocks as the
global counter is (a restart resumes past the reservation, so no counter is ever sent twice); and a
checkpoint of the peer's counter, so a restored session still refuses replays of what came before
the checkpoint. The checkpoint is one behind the largest counter seen, so the message being
answered when the process died (a BlockQuery whose Block never left) is taken again when the
requestor retransmits it; what came after the last checkpoint can be replayed once, which costs
nothing worse than answering a retransmitted request twice.
"""

from __future__ import annotations

import json
import logging

from ..session.counters import ReceiveWindow
from ..session.secure import AuthMode, SecureSession, SessionKeys, SessionParameters
from .counters import PersistentCounter
from .database import Database

__all__ = ["SessionStore"]

log = logging.getLogger(__name__)

COUNTER_STEP = 1024  # outgoing counter values reserved per database write


def _counter_name(local_session_id: int) -> str:
    return f"session {local_session_id}"


class SessionStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._kept: dict[int, int] = {}  # local session id -> the peer counter last written

    def keep(self, session: SecureSession) -> None:
        """Persist a newly established CASE session; its counter becomes a persistent one."""
        if session.auth_mode != AuthMode.CASE:
            return  # PASE lives for commissioning only; a restart ends it on both sides anyway
        session.counter = PersistentCounter(
            self.db, _counter_name(session.local_session_id), step=COUNTER_STEP, wraps=False, start=session.counter.peek
        )
        peer = self._peer_checkpoint(session)
        keys = session.keys
        with self.db.transaction() as cursor:
            cursor.execute(
                "INSERT OR REPLACE INTO sessions (local_session_id, peer_session_id, auth_mode, is_initiator,"
                " fabric_index, local_node_id, peer_node_id, peer_cats, keys, peer_parameters, peer_address,"
                " peer_counter, local_parameters) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    session.local_session_id,
                    session.peer_session_id,
                    int(session.auth_mode),
                    int(session.is_initiator),
                    session.fabric_index,
                    session.local_node_id,
                    session.peer_node_id,
                    json.dumps(session.peer_cats),
                    keys.i2r + keys.r2i + keys.attestation_challenge,
                    _parameters_json(session.peer_parameters),
                    json.dumps(list(session.peer_address)) if session.peer_address else None,
                    peer,
                    _parameters_json(session.local_parameters) if session.local_parameters else None,
                ),
            )
        self._kept[session.local_session_id] = peer

    def forget(self, session: SecureSession) -> None:
        if self._kept.pop(session.local_session_id, None) is None:
            return
        with self.db.transaction() as cursor:
            cursor.execute("DELETE FROM sessions WHERE local_session_id = ?", (session.local_session_id,))
            cursor.execute("DELETE FROM counters WHERE name = ?", (_counter_name(session.local_session_id),))

    def checkpoint(self, sessions: list[SecureSession]) -> int:
        """Write the peer counter of every kept session that moved since; one transaction. Returns
        how many were written."""
        moved = [
            (peer, s.local_session_id)
            for s in sessions
            if s.local_session_id in self._kept and (peer := self._peer_checkpoint(s)) != self._kept[s.local_session_id]
        ]
        if not moved:
            return 0
        with self.db.transaction() as cursor:
            cursor.executemany("UPDATE sessions SET peer_counter = ? WHERE local_session_id = ?", moved)
        for peer, local_id in moved:
            self._kept[local_id] = peer
        return len(moved)

    @staticmethod
    def _peer_checkpoint(session: SecureSession) -> int:
        seen = session.window.max_counter
        return max(0, (seen or 0) - 1)

    def load(self) -> list[SecureSession]:
        """The sessions kept by the previous run, ready to be installed in the session table."""
        sessions = []
        for row in self.db.query(
            "SELECT local_session_id, peer_session_id, auth_mode, is_initiator, fabric_index, local_node_id,"
            " peer_node_id, peer_cats, keys, peer_parameters, peer_address, peer_counter,"
            " local_parameters FROM sessions"
        ):
            local_id, peer_id, mode, initiator, fabric, local_node, peer_node, cats, keys, params, address = row[:11]
            peer, local_params = row[11:]
            try:
                session = SecureSession(
                    local_session_id=local_id,
                    peer_session_id=peer_id,
                    keys=SessionKeys(keys[:16], keys[16:32], keys[32:48]),
                    is_initiator=bool(initiator),
                    auth_mode=AuthMode(mode),
                    local_node_id=local_node,
                    peer_node_id=peer_node,
                    fabric_index=fabric,
                    peer_cats=tuple(json.loads(cats)),
                    peer_parameters=SessionParameters(*json.loads(params)),
                    local_parameters=SessionParameters(*json.loads(local_params)) if local_params else None,
                    peer_address=tuple(json.loads(address)) if address else None,
                    window=ReceiveWindow(rollover=False, initial=peer),
                )
            except (ValueError, TypeError) as exc:  # a damaged row costs that session, not the start
                log.warning("kept session %s not restored: %s", local_id, exc)
                continue
            session.counter = PersistentCounter(self.db, _counter_name(local_id), step=COUNTER_STEP, wraps=False)
            self._kept[local_id] = peer
            sessions.append(session)
        return sessions


def _parameters_json(parameters: SessionParameters) -> str:
    return json.dumps([parameters.idle_interval_ms, parameters.active_interval_ms, parameters.active_threshold_ms])
