"""Secure unicast sessions: AES-CCM-128 message protection (Core spec 4.8).

Nonce (13 bytes) = Security Flags (1) || Message Counter (4, LE) || Source Node ID (8, LE),
where the source node id is the *sender's* operational node id (0 for PASE sessions).
The additional authenticated data is the whole message header; the MIC (16 bytes) follows
the ciphertext.
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass, field
from functools import cached_property

from ..codec.message import MessageHeader, secure_unicast_header
from ..crypto.primitives import AEAD_MIC_LENGTH, CcmKey, CryptoError, hkdf_sha256
from .counters import LocalCounter, ReceiveWindow

__all__ = [
    "AuthMode",
    "SecureSession",
    "SessionKeys",
    "SessionParameters",
    "build_nonce",
    "derive_session_keys",
]

UNSPECIFIED_NODE_ID = 0


class AuthMode(enum.IntEnum):
    """Access-control auth modes (the values match the ACL cluster's enum)."""

    PASE = 1
    CASE = 2
    GROUP = 3


@dataclass(frozen=True)
class SessionKeys:
    i2r: bytes
    r2i: bytes
    attestation_challenge: bytes


def derive_session_keys(secret: bytes, salt: bytes, info: bytes = b"SessionKeys") -> SessionKeys:
    """I2RKey || R2IKey || AttestationChallenge = HKDF-SHA256(secret, salt, "SessionKeys", 48)."""
    okm = hkdf_sha256(secret, salt, info, 48)
    return SessionKeys(i2r=okm[:16], r2i=okm[16:32], attestation_challenge=okm[32:])


@dataclass(frozen=True)
class SessionParameters:
    """The peer's MRP parameters (session-parameter struct, tags 1..3), in milliseconds."""

    idle_interval_ms: int = 500
    active_interval_ms: int = 300
    active_threshold_ms: int = 4000


_NONCE = struct.Struct("<BIQ")


def build_nonce(security_flags: int, counter: int, source_node_id: int) -> bytes:
    return _NONCE.pack(security_flags, counter, source_node_id)


@dataclass(eq=False)
class SecureSession:
    """One end of an established PASE or CASE session."""

    local_session_id: int
    peer_session_id: int
    keys: SessionKeys
    is_initiator: bool
    auth_mode: AuthMode
    local_node_id: int = UNSPECIFIED_NODE_ID
    peer_node_id: int = UNSPECIFIED_NODE_ID
    fabric_index: int = 0
    peer_cats: tuple[int, ...] = ()
    peer_parameters: SessionParameters = field(default_factory=SessionParameters)
    local_parameters: SessionParameters | None = None  # what our handshake message advertised (None: defaults)
    peer_address: tuple[str, int] | None = None
    counter: LocalCounter = field(default_factory=LocalCounter)
    window: ReceiveWindow = field(default_factory=lambda: ReceiveWindow(rollover=False, initial=0))
    last_peer_activity: float = 0.0
    open_exchanges: int = 0  # kept by the exchange manager: a session with one is in use

    @property
    def encrypt_key(self) -> bytes:
        return self.keys.i2r if self.is_initiator else self.keys.r2i

    @property
    def decrypt_key(self) -> bytes:
        return self.keys.r2i if self.is_initiator else self.keys.i2r

    @cached_property
    def _sealing(self) -> CcmKey:
        return CcmKey(self.encrypt_key)

    @cached_property
    def _opening(self) -> CcmKey:
        return CcmKey(self.decrypt_key)

    def seal(self, payload: bytes, *, control: bool = False) -> bytes:
        """Encrypt ``payload`` (protocol header + application payload) into a datagram."""
        counter = self.counter.next()
        header = secure_unicast_header(self.peer_session_id, counter, control)
        nonce = _NONCE.pack(header[3], counter, self.local_node_id)  # header[3]: the security flags
        return header + self._sealing.encrypt(nonce, payload, header)

    def open(self, header: MessageHeader, datagram: bytes, payload_offset: int) -> bytes:
        """Decrypt and authenticate; raises CryptoError. Counter checks are the caller's."""
        if len(datagram) - payload_offset < AEAD_MIC_LENGTH:
            raise CryptoError("message shorter than its MIC")
        nonce = _NONCE.pack(datagram[3], header.message_counter, self.peer_node_id)  # [3]: the security flags
        return self._opening.decrypt(nonce, datagram[payload_offset:], datagram[:payload_offset])
