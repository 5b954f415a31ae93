"""SPAKE2+ over P-256 with SHA-256, HKDF and HMAC, as Matter profiles it (Core spec 3.10,
draft-bar-cfrg-spake2plus-01). Sans-IO: the PASE layer feeds shares in and takes shares out.

Roles: the commissioner is the *prover* (knows the passcode: w0, w1); the node is the
*verifier* (stores only w0 and L = w1·G, the 97-byte "verifier").
"""

from __future__ import annotations

import functools
import hmac
import secrets
import struct
from dataclasses import dataclass

from .p256 import N, Point, PointError, base_mul, decode_point
from .primitives import CryptoError, hkdf_sha256, hmac_sha256, pbkdf2_sha256, sha256

__all__ = [
    "MAX_ITERATIONS",
    "MIN_ITERATIONS",
    "SPAKE2P_M",
    "SPAKE2P_N",
    "Spake2pProver",
    "Spake2pVerifier",
    "Spake2pVerifierSession",
    "compute_w0_w1",
]

SPAKE2P_M = decode_point(bytes.fromhex("02886e2f97ace46e55ba9dd7242579f2993b64e16ef3dcab95afd497333d8fa12f"))
SPAKE2P_N = decode_point(bytes.fromhex("03d8bbd6c639c62937b04d997f38c3770719c629d7014d49a24b4f98baa1292b49"))

MIN_ITERATIONS, MAX_ITERATIONS = 1000, 100_000
MIN_SALT, MAX_SALT = 16, 32
_WS_LENGTH = 40  # bytes of PBKDF2 output per scalar, reduced mod n


def compute_w0_w1(passcode: int, salt: bytes, iterations: int) -> tuple[int, int]:
    """w0, w1 from the passcode (as 4 little-endian bytes), per the PBKDF2 parameters."""
    if not MIN_ITERATIONS <= iterations <= MAX_ITERATIONS:
        raise CryptoError(f"PBKDF2 iterations {iterations} outside {MIN_ITERATIONS}..{MAX_ITERATIONS}")
    if not MIN_SALT <= len(salt) <= MAX_SALT:
        raise CryptoError(f"PBKDF2 salt of {len(salt)} bytes outside {MIN_SALT}..{MAX_SALT}")
    ws = pbkdf2_sha256(struct.pack("<I", passcode), salt, iterations, 2 * _WS_LENGTH)
    return int.from_bytes(ws[:_WS_LENGTH], "big") % N, int.from_bytes(ws[_WS_LENGTH:], "big") % N


@dataclass(frozen=True)
class Spake2pVerifier:
    """What the node stores instead of the passcode: w0 and L = w1·G."""

    w0: int
    L: Point

    @classmethod
    def from_passcode(cls, passcode: int, salt: bytes, iterations: int) -> Spake2pVerifier:
        w0, w1 = compute_w0_w1(passcode, salt, iterations)
        return cls(w0, base_mul(w1))

    @functools.cached_property
    def w0_n(self) -> Point:
        """w0·N, the blinding of every pB this verifier sends: computed once, not per PBKDFParamRequest
        (the pure-Python multiplication was most of what each one cost before the peer proved
        anything; ``benchmarks/bench_secure_channel.py`` measures it)."""
        return SPAKE2P_N * self.w0

    @functools.cached_property
    def w0_m(self) -> Point:
        """w0·M, taken off every pA received."""
        return SPAKE2P_M * self.w0

    def to_bytes(self) -> bytes:
        """The SDK's serialized verifier: w0 (32 bytes, big-endian) || L (65 bytes)."""
        return self.w0.to_bytes(32, "big") + self.L.encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> Spake2pVerifier:
        if len(data) != 97:
            raise CryptoError(f"a SPAKE2+ verifier is 97 bytes, not {len(data)}")
        try:
            return cls(int.from_bytes(data[:32], "big"), decode_point(data[32:]))
        except PointError as exc:
            raise CryptoError(f"invalid SPAKE2+ verifier: {exc}") from None


@dataclass(frozen=True)
class _Keys:
    ka: bytes
    ke: bytes
    kca: bytes
    kcb: bytes


def _derive_keys(
    context: bytes, ids: tuple[bytes, bytes], x_share: Point, y_share: Point, z: Point, v: Point, w0: int
) -> _Keys:
    transcript = b""
    for part in (
        context,
        ids[0],
        ids[1],
        SPAKE2P_M.encode(),
        SPAKE2P_N.encode(),
        x_share.encode(),
        y_share.encode(),
        z.encode(),
        v.encode(),
        w0.to_bytes(32, "big"),
    ):
        transcript += struct.pack("<Q", len(part)) + part
    digest = sha256(transcript)
    ka, ke = digest[:16], digest[16:]
    confirmation = hkdf_sha256(ka, b"", b"ConfirmationKeys", 32)
    return _Keys(ka=ka, ke=ke, kca=confirmation[:16], kcb=confirmation[16:])


def _peer_share(data: bytes) -> Point:
    try:
        point = decode_point(data)
    except PointError as exc:
        raise CryptoError(f"invalid SPAKE2+ share: {exc}") from None
    if point.is_infinity:
        raise CryptoError("SPAKE2+ share is the identity")
    return point


def _random_scalar() -> int:
    return secrets.randbelow(N - 1) + 1


class Spake2pProver:
    """The commissioner's side: knows w0 and w1."""

    def __init__(
        self,
        context: bytes,
        w0: int,
        w1: int,
        *,
        x: int | None = None,
        prover_identity: bytes = b"",
        verifier_identity: bytes = b"",
    ) -> None:
        self._context = context
        self._w0, self._w1 = w0, w1
        self._x = _random_scalar() if x is None else x
        self._ids = (prover_identity, verifier_identity)
        self._X = base_mul(self._x) + SPAKE2P_M * w0
        self._keys: _Keys | None = None
        self._Y: Point | None = None

    @property
    def share(self) -> bytes:
        """pA = X, sent in Pake1."""
        return self._X.encode()

    def process_verifier_share(self, y_share: bytes, verifier_confirmation: bytes) -> bytes:
        """Check cB from Pake2 and return cA for Pake3; raises CryptoError on a wrong passcode."""
        y_point = _peer_share(y_share)
        unblinded = y_point - SPAKE2P_N * self._w0
        z, v = unblinded * self._x, unblinded * self._w1
        self._keys = _derive_keys(self._context, self._ids, self._X, y_point, z, v, self._w0)
        expected = hmac_sha256(self._keys.kcb, self._X.encode())
        if not hmac.compare_digest(expected, verifier_confirmation):
            raise CryptoError("SPAKE2+ confirmation from the verifier does not match")
        self._Y = y_point
        return hmac_sha256(self._keys.kca, y_point.encode())

    @property
    def ke(self) -> bytes:
        if self._keys is None or self._Y is None:
            raise CryptoError("SPAKE2+ exchange is not complete")
        return self._keys.ke


class Spake2pVerifierSession:
    """The node's side: holds the stored verifier (w0, L)."""

    def __init__(
        self,
        context: bytes,
        verifier: Spake2pVerifier,
        *,
        y: int | None = None,
        prover_identity: bytes = b"",
        verifier_identity: bytes = b"",
    ) -> None:
        self._context = context
        self._verifier = verifier
        self._y = _random_scalar() if y is None else y
        self._ids = (prover_identity, verifier_identity)
        self._Y = base_mul(self._y) + verifier.w0_n
        self._keys: _Keys | None = None
        self._confirmed = False

    def process_prover_share(self, x_share: bytes) -> tuple[bytes, bytes]:
        """Take pA from Pake1; return (pB, cB) for Pake2."""
        x_point = _peer_share(x_share)
        unblinded = x_point - self._verifier.w0_m
        z, v = unblinded * self._y, self._verifier.L * self._y
        self._keys = _derive_keys(self._context, self._ids, x_point, self._Y, z, v, self._verifier.w0)
        self._expected_ca = hmac_sha256(self._keys.kca, self._Y.encode())
        return self._Y.encode(), hmac_sha256(self._keys.kcb, x_point.encode())

    def verify_prover_confirmation(self, prover_confirmation: bytes) -> None:
        """Check cA from Pake3; raises CryptoError if the prover used another passcode."""
        if self._keys is None or not hmac.compare_digest(self._expected_ca, prover_confirmation):
            raise CryptoError("SPAKE2+ confirmation from the prover does not match")
        self._confirmed = True

    @property
    def ke(self) -> bytes:
        if self._keys is None or not self._confirmed:
            raise CryptoError("SPAKE2+ exchange is not confirmed")
        return self._keys.ke
