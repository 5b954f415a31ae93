"""The ledger's image checksums: ``otaChecksumType`` is an IANA Named Information hash algorithm id
(RFC 6920), the registry the OTA image header's ImageDigestType uses too (:class:`DigestType`), and
the checksum is the digest of the whole ``.ota`` file, truncated for the sha-256-N ids. Every id the
ledger defines is checked (matter.js knows 1, 7, 8 and 10 only)."""

from __future__ import annotations

from collections.abc import Iterable

from ..ota.image import DigestType

__all__ = ["ALGORITHMS", "ChecksumError", "ImageDigest"]

ALGORITHMS = tuple(int(digest_type) for digest_type in DigestType)


class ChecksumError(ValueError):
    """The image is not what the ledger published, or its checksum cannot be checked."""


class ImageDigest:
    """Feeds the image as it downloads; :meth:`check` compares with the ledger's checksum."""

    def __init__(self, algorithm_id: int) -> None:
        try:
            self.digest_type = DigestType(algorithm_id)
        except ValueError:
            raise ChecksumError(f"checksum type {algorithm_id} is not one the ledger defines (1-12)") from None
        self._hash = self.digest_type.new_hash()

    def update(self, chunk: bytes) -> None:
        self._hash.update(chunk)

    def digest(self) -> bytes:
        return self._hash.digest()

    def check(self, expected: bytes) -> None:
        size = self.digest_type.digest_size
        if len(expected) != size:
            raise ChecksumError(
                f"the ledger's checksum has {len(expected)} bytes; type {int(self.digest_type)} has {size}"
            )
        if self.digest() != expected:
            raise ChecksumError("the image's checksum is not the one published on the ledger")

    @classmethod
    def check_chunks(cls, algorithm_id: int, chunks: Iterable[bytes], expected: bytes) -> None:
        """The digest of ``chunks`` against the ledger's ``expected``; ChecksumError if they differ."""
        digest = cls(algorithm_id)
        for chunk in chunks:
            digest.update(chunk)
        digest.check(expected)

    @classmethod
    def of(cls, algorithm_id: int, chunks: Iterable[bytes]) -> bytes:
        digest = cls(algorithm_id)
        for chunk in chunks:
            digest.update(chunk)
        return digest.digest()
