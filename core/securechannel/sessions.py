"""The one place a handshake's outcome becomes a :class:`SecureSession`: what PASE or CASE agreed
(ids, keys, who the peer is) is collected as a value, then opened into the manager's table."""

from __future__ import annotations

from dataclasses import dataclass

from ..exchange.manager import ExchangeManager
from ..session.secure import UNSPECIFIED_NODE_ID, AuthMode, SecureSession, SessionKeys, SessionParameters

__all__ = ["NewSession"]


@dataclass(frozen=True)
class NewSession:
    """An agreed session, not yet in use (CASE's initiator holds it until the responder's StatusReport)."""

    local_session_id: int
    peer_session_id: int
    keys: SessionKeys
    is_initiator: bool
    auth_mode: AuthMode
    peer_parameters: SessionParameters
    peer_address: tuple | None
    local_node_id: int = UNSPECIFIED_NODE_ID
    peer_node_id: int = UNSPECIFIED_NODE_ID
    fabric_index: int = 0
    peer_cats: tuple[int, ...] = ()
    local_parameters: SessionParameters | None = None  # what our handshake advertised, when not the defaults

    def open(self, manager: ExchangeManager) -> SecureSession:
        session = SecureSession(
            local_session_id=self.local_session_id,
            peer_session_id=self.peer_session_id,
            keys=self.keys,
            is_initiator=self.is_initiator,
            auth_mode=self.auth_mode,
            local_node_id=self.local_node_id,
            peer_node_id=self.peer_node_id,
            fabric_index=self.fabric_index,
            peer_cats=self.peer_cats,
            peer_parameters=self.peer_parameters,
            peer_address=self.peer_address,
            local_parameters=self.local_parameters,
        )
        manager.add_session(session)
        return session
