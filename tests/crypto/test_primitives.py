"""HKDF, AES-CCM and ECDSA wrappers against published vectors (RFC 5869; SDK AES_CCM_128_test_vectors.h)."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from ota_provider.core.crypto.primitives import (
    CryptoError,
    aes_ccm_decrypt,
    aes_ccm_encrypt,
    ecdh_shared_secret,
    ecdsa_sign_raw,
    ecdsa_verify_raw,
    hkdf_sha256,
    public_key_bytes,
)


def test_hkdf_rfc5869_case_1():
    okm = hkdf_sha256(bytes([0x0B] * 22), bytes(range(13)), bytes(range(0xF0, 0xFA)), 42)
    assert okm.hex() == ("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865")


def test_hkdf_rfc5869_case_3_empty_salt_and_info():
    okm = hkdf_sha256(bytes([0x0B] * 22), b"", b"", 42)
    assert okm.hex() == ("8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8")


# (key, nonce, plaintext, aad, ciphertext, tag) from the SDK's AES-CCM-128 vectors with 16-byte tags.
CCM_VECTORS = [
    ("04e1af8f15e2164edb2dfdfea2c48bcf", "75c7c123b39b8a7e", "ee", "", "74", "355e2743b6793694ca78d6d9c8dc146c"),
    (
        "04e1af8f15e2164edb2dfdfea2c48bcf",
        "5659397e06028b149d0b2b2b",
        "cd",
        "",
        "f5",
        "9f5cd74a8360c776e7167de2dbefac98",
    ),
]


@pytest.mark.parametrize(("key", "nonce", "pt", "aad", "ct", "tag"), CCM_VECTORS)
def test_aes_ccm_vectors(key, nonce, pt, aad, ct, tag):
    key, nonce, pt, aad = bytes.fromhex(key), bytes.fromhex(nonce), bytes.fromhex(pt), bytes.fromhex(aad)
    sealed = aes_ccm_encrypt(key, nonce, pt, aad)
    assert sealed.hex() == ct + tag
    assert aes_ccm_decrypt(key, nonce, sealed, aad) == pt


def test_aes_ccm_rejects_tampering():
    key, nonce = bytes(16), bytes(13)
    sealed = bytearray(aes_ccm_encrypt(key, nonce, b"hello", b"header"))
    with pytest.raises(CryptoError):
        aes_ccm_decrypt(key, nonce, bytes(sealed), b"other header")
    sealed[0] ^= 1
    with pytest.raises(CryptoError):
        aes_ccm_decrypt(key, nonce, bytes(sealed), b"header")
    with pytest.raises(CryptoError):
        aes_ccm_decrypt(key, nonce, b"short", b"header")


def test_raw_ecdsa_and_ecdh():
    key = ec.generate_private_key(ec.SECP256R1())
    signature = ecdsa_sign_raw(key, b"message")
    assert len(signature) == 64
    ecdsa_verify_raw(key.public_key(), b"message", signature)
    ecdsa_verify_raw(public_key_bytes(key.public_key()), b"message", signature)
    with pytest.raises(CryptoError):
        ecdsa_verify_raw(key.public_key(), b"other", signature)
    with pytest.raises(CryptoError):
        ecdsa_verify_raw(key.public_key(), b"message", signature[:63])
    peer = ec.generate_private_key(ec.SECP256R1())
    assert ecdh_shared_secret(key, public_key_bytes(peer.public_key())) == ecdh_shared_secret(
        peer, public_key_bytes(key.public_key())
    )
    with pytest.raises(CryptoError):
        ecdh_shared_secret(key, b"\x04" + bytes(64))
