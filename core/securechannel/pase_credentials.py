"""What both PASE roles share: the verifier a node stores, and the transcript's context prefix.

    initiator (commissioner)                 responder (the node)
    PBKDFParamRequest  ------------------->
                       <-------------------  PBKDFParamResponse (iterations, salt)
    Pake1 (pA)         ------------------->
                       <-------------------  Pake2 (pB, cB)
    Pake3 (cA)         ------------------->
                       <-------------------  StatusReport SUCCESS  (or FAILURE / INVALID_PARAMETER)

Context = SHA-256("CHIP PAKE V1 Commissioning" || PBKDFParamRequest || PBKDFParamResponse);
session keys = HKDF(Ke, "", "SessionKeys", 48) (Core spec 4.14.1).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from ..crypto.spake2p import Spake2pVerifier

__all__ = ["CONTEXT_PREFIX", "PaseCredentials"]

CONTEXT_PREFIX = b"CHIP PAKE V1 Commissioning"


@dataclass(frozen=True)
class PaseCredentials:
    """What the node stores for PASE: the verifier and its PBKDF2 parameters."""

    verifier: Spake2pVerifier
    salt: bytes
    iterations: int

    @classmethod
    def from_passcode(cls, passcode: int, salt: bytes | None = None, iterations: int = 1000) -> PaseCredentials:
        salt = salt if salt is not None else secrets.token_bytes(32)
        return cls(Spake2pVerifier.from_passcode(passcode, salt, iterations), salt, iterations)
