"""Revocation of device attestation certificates, as the ledger publishes it: each issuer (a PAA for
its PAIs, a PAI for its DACs) may have revocation distribution points (``/dcl/pki/revocation-points/
{issuerSubjectKeyID}``), each a CRL at ``dataURL`` signed by ``crlSignerCertificate``. Sans-IO: the
answers and the CRL's bytes in, the serial numbers revoked out (matter.js ``DclClient``'s
``fetchRevocationDistributionPointsByIssuer`` for the shapes)."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec

from .checksum import ChecksumError, ImageDigest
from .ledger import LedgerError

__all__ = ["RevocationPoint", "key_id_text", "parse_points", "points_path", "revoked_serials"]

MAX_CRL_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class RevocationPoint:
    issuer_key_id: str  # upper-case hex, no colons
    is_paa: bool  # True: the CRL lists PAIs revoked by a PAA
    data_url: str
    signer_pem: str
    digest: bytes = b""
    digest_type: int = 0


def key_id_text(key_id: bytes) -> str:
    return key_id.hex().upper()


def _normal(text: str) -> str:
    return text.replace(":", "").upper()


def points_path(issuer_key_id: bytes) -> str:
    return f"/dcl/pki/revocation-points/{key_id_text(issuer_key_id)}"


def parse_points(answer: object, issuer_key_id: bytes) -> list[RevocationPoint]:
    """The CRL points of one issuer; an entry for another issuer, or not a CRL, is left out."""
    body = answer.get("pkiRevocationDistributionPointsByIssuerSubjectKeyID") if isinstance(answer, dict) else None
    raw = body.get("points") if isinstance(body, dict) else None
    if not isinstance(raw, list):
        raise LedgerError("the ledger's revocation points answer has no points list")
    points = []
    for item in raw:
        if not isinstance(item, dict) or item.get("revocationType", 1) != 1:
            continue
        issuer, url, signer = item.get("issuerSubjectKeyID"), item.get("dataURL"), item.get("crlSignerCertificate")
        if not (isinstance(issuer, str) and isinstance(url, str) and isinstance(signer, str)):
            continue
        if _normal(issuer) != key_id_text(issuer_key_id) or not url.lower().startswith(("https://", "http://")):
            continue
        digest_text = item.get("dataDigest") or ""
        try:
            digest = base64.b64decode(digest_text, validate=True) if isinstance(digest_text, str) else b""
        except (binascii.Error, ValueError):
            digest = b""
        digest_type = item.get("dataDigestType") or 0
        points.append(
            RevocationPoint(
                key_id_text(issuer_key_id),
                bool(item.get("isPAA")),
                url,
                signer,
                digest,
                digest_type if isinstance(digest_type, int) else 0,
            )
        )
    return points


def revoked_serials(point: RevocationPoint, crl_bytes: bytes) -> set[int]:
    """The serial numbers the CRL at ``point`` revokes, once its digest (when the ledger gives one)
    and its signature by the point's signer check out; LedgerError otherwise."""
    if len(crl_bytes) > MAX_CRL_BYTES:
        raise LedgerError(f"the CRL at {point.data_url} is larger than {MAX_CRL_BYTES} bytes")
    if point.digest and point.digest_type:
        try:
            ImageDigest.check_chunks(point.digest_type, (crl_bytes,), point.digest)
        except ChecksumError as exc:
            raise LedgerError(f"the CRL at {point.data_url}: {exc}") from None
    try:
        crl = (
            x509.load_pem_x509_crl(crl_bytes)
            if crl_bytes.lstrip().startswith(b"-----")
            else x509.load_der_x509_crl(crl_bytes)
        )
        signer = x509.load_pem_x509_certificate(point.signer_pem.encode())
    except ValueError as exc:
        raise LedgerError(f"the CRL at {point.data_url} or its signer cannot be read ({exc})") from None
    key = signer.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise LedgerError(f"the CRL signer of {point.data_url} has no P-256 key")
    try:
        if not crl.is_signature_valid(key):
            raise InvalidSignature
    except (InvalidSignature, TypeError):
        raise LedgerError(f"the CRL at {point.data_url} is not signed by its signer on the ledger") from None
    return {revoked.serial_number for revoked in crl}
