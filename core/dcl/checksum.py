"""The ledger's image checksums: ``otaChecksumType`` is an IANA Named Information hash algorithm id
(RFC 6920), and the checksum is the digest of the whole ``.ota`` file, truncated for the sha-256-N
ids. Every id the ledger defines is checked (matter.js knows 1, 7, 8 and 10 only)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

__all__ = ["ALGORITHMS", "ChecksumError", "ImageDigest"]

# id -> (hashlib name, digest bytes kept)
ALGORITHMS: dict[int, tuple[str, int]] = {
    1: ("sha256", 32),
    2: ("sha256", 16),  # sha-256-128
    3: ("sha256", 15),  # sha-256-120
    4: ("sha256", 12),  # sha-256-96
    5: ("sha256", 8),  # sha-256-64
    6: ("sha256", 4),  # sha-256-32
    7: ("sha384", 48),
    8: ("sha512", 64),
    9: ("sha3_224", 28),
    10: ("sha3_256", 32),
    11: ("sha3_384", 48),
    12: ("sha3_512", 64),
}


class ChecksumError(ValueError):
    """The image is not what the ledger published, or its checksum cannot be checked."""


class ImageDigest:
    """Feeds the image as it downloads; :meth:`check` compares with the ledger's checksum."""

    def __init__(self, algorithm_id: int) -> None:
        known = ALGORITHMS.get(algorithm_id)
        if known is None:
            raise ChecksumError(f"checksum type {algorithm_id} is not one the ledger defines (1-12)")
        self.algorithm_id = algorithm_id
        self._hash = hashlib.new(known[0])
        self._keep = known[1]

    def update(self, chunk: bytes) -> None:
        self._hash.update(chunk)

    def digest(self) -> bytes:
        return self._hash.digest()[: self._keep]

    def check(self, expected: bytes) -> None:
        if len(expected) != self._keep:
            raise ChecksumError(
                f"the ledger's checksum has {len(expected)} bytes; type {self.algorithm_id} has {self._keep}"
            )
        if self.digest() != expected:
            raise ChecksumError("the image's checksum is not the one published on the ledger")

    @classmethod
    def of(cls, algorithm_id: int, chunks: Iterable[bytes]) -> bytes:
        digest = cls(algorithm_id)
        for chunk in chunks:
            digest.update(chunk)
        return digest.digest()
