"""Thin, typed wrappers over ``cryptography`` for the primitives Matter uses (Core spec 3.x)."""

from __future__ import annotations

import hashlib
import hmac

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature
from cryptography.hazmat.primitives.ciphers.aead import AESCCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

__all__ = [
    "AEAD_MIC_LENGTH",
    "CryptoError",
    "aes_ccm_decrypt",
    "aes_ccm_encrypt",
    "ecdh_shared_secret",
    "ecdsa_sign_raw",
    "ecdsa_verify_raw",
    "hkdf_sha256",
    "hmac_sha256",
    "pbkdf2_sha256",
    "public_key_bytes",
    "public_key_from_bytes",
    "sha256",
]

AEAD_MIC_LENGTH = 16


class CryptoError(ValueError):
    """A failed integrity or signature check, or an unusable key."""


def sha256(*parts: bytes) -> bytes:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(part)
    return digest.digest()


def hmac_sha256(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


def hkdf_sha256(ikm: bytes, salt: bytes, info: bytes, length: int) -> bytes:
    # An empty salt means "no salt" (RFC 5869: a string of HashLen zeros), which cryptography spells None.
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt or None, info=info).derive(ikm)


def pbkdf2_sha256(password: bytes, salt: bytes, iterations: int, length: int) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", password, salt, iterations, length)


def aes_ccm_encrypt(key: bytes, nonce: bytes, plaintext: bytes, aad: bytes, tag_length: int = AEAD_MIC_LENGTH) -> bytes:
    """Ciphertext followed by the MIC."""
    return AESCCM(key, tag_length=tag_length).encrypt(nonce, plaintext, aad)


def aes_ccm_decrypt(
    key: bytes, nonce: bytes, ciphertext: bytes, aad: bytes, tag_length: int = AEAD_MIC_LENGTH
) -> bytes:
    try:
        return AESCCM(key, tag_length=tag_length).decrypt(nonce, ciphertext, aad)
    except (InvalidTag, ValueError) as exc:
        raise CryptoError("message integrity check failed") from exc


class CcmKey:
    """AES-CCM under one key with Matter's 16-byte MIC, the cipher made once: a session seals or
    opens every message with the same key."""

    __slots__ = ("_aead",)

    def __init__(self, key: bytes) -> None:
        self._aead = AESCCM(key, tag_length=AEAD_MIC_LENGTH)

    def encrypt(self, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
        return self._aead.encrypt(nonce, plaintext, aad)

    def decrypt(self, nonce: bytes, ciphertext: bytes, aad: bytes) -> bytes:
        try:
            return self._aead.decrypt(nonce, ciphertext, aad)
        except (InvalidTag, ValueError) as exc:
            raise CryptoError("message integrity check failed") from exc


def public_key_bytes(key: ec.EllipticCurvePublicKey) -> bytes:
    """SEC1 uncompressed (65 bytes), the form Matter carries on the wire."""
    return key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)


def public_key_from_bytes(data: bytes) -> ec.EllipticCurvePublicKey:
    try:
        return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), bytes(data))
    except ValueError as exc:
        raise CryptoError(f"invalid P-256 public key: {exc}") from None


def ecdh_shared_secret(private_key: ec.EllipticCurvePrivateKey, peer_public: bytes) -> bytes:
    return private_key.exchange(ec.ECDH(), public_key_from_bytes(peer_public))


def ecdsa_sign_raw(private_key: ec.EllipticCurvePrivateKey, message: bytes) -> bytes:
    """ECDSA-SHA256 signature as Matter carries it: r || s, 32 bytes each."""
    r, s = decode_dss_signature(private_key.sign(message, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


def ecdsa_verify_raw(public_key: ec.EllipticCurvePublicKey | bytes, message: bytes, signature: bytes) -> None:
    """Raise :class:`CryptoError` unless ``signature`` (r || s) is valid for ``message``."""
    if isinstance(public_key, bytes | bytearray):
        public_key = public_key_from_bytes(public_key)
    if len(signature) != 64:
        raise CryptoError(f"raw ECDSA signature must be 64 bytes, not {len(signature)}")
    der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
    try:
        public_key.verify(der, message, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise CryptoError("signature verification failed") from None
