"""The ledger's approved PAA roots (``/dcl/pki/root-certificates``, then each root's
``/dcl/pki/certificates/{subject}/{subjectKeyId}``), checked as matter.js's ``DclClient`` checks
them: schema version 0, and the answer about the subject and key id that were asked for. Sans-IO:
decoded JSON in, certificates out."""

from __future__ import annotations

import urllib.parse
from dataclasses import dataclass

from cryptography import x509

from .ledger import LedgerError

__all__ = [
    "ROOTS_PATH",
    "LedgerRoot",
    "all_certificates_path",
    "certificate_path",
    "parse_certificates_by_key_id",
    "parse_root_certificates",
    "parse_root_list",
]

ROOTS_PATH = "/dcl/pki/root-certificates"


@dataclass(frozen=True)
class LedgerRoot:
    ledger: str  # MainNet, TestNet, or the host
    certificate: x509.Certificate

    @property
    def subject(self) -> str:
        return self.certificate.subject.rfc4514_string()


def _schema_zero(body: object, key: str) -> dict:
    inner = body.get(key) if isinstance(body, dict) else None
    if not isinstance(inner, dict) or inner.get("schemaVersion", 0) != 0:
        raise LedgerError(f"the ledger's {key} is missing or of an unknown schema")
    return inner


def parse_root_list(answer: object) -> list[tuple[str, str]]:
    """(subject, subjectKeyId) of each approved root, as the ledger spells them."""
    certs = _schema_zero(answer, "approvedRootCertificates").get("certs", [])
    if not isinstance(certs, list):
        raise LedgerError("the ledger's approvedRootCertificates.certs is not a list")
    return [
        (item["subject"], item["subjectKeyId"])
        for item in certs
        if isinstance(item, dict) and isinstance(item.get("subject"), str) and isinstance(item.get("subjectKeyId"), str)
    ]


def certificate_path(subject: str, subject_key_id: str) -> str:
    quote = lambda text: urllib.parse.quote(text, safe="")  # noqa: E731 (as encodeURIComponent)
    return f"/dcl/pki/certificates/{quote(subject)}/{quote(subject_key_id)}"


def parse_root_certificates(answer: object, subject: str, subject_key_id: str) -> list[x509.Certificate]:
    """The root certificates of one approved entry; an entry about another subject is refused."""
    body = _schema_zero(answer, "approvedCertificates")
    if body.get("subject") != subject or body.get("subjectKeyId") != subject_key_id:
        raise LedgerError(f"the ledger answered about another certificate than {subject_key_id}")
    roots = []
    for item in body.get("certs", []) if isinstance(body.get("certs"), list) else []:
        pem = item.get("pemCert") if isinstance(item, dict) else None
        if not isinstance(pem, str) or (isinstance(item, dict) and item.get("isRoot") is False):
            continue
        try:
            roots.append(x509.load_pem_x509_certificate(pem.encode()))
        except ValueError as exc:
            raise LedgerError(f"the ledger's certificate {subject_key_id} is not PEM ({exc})") from None
    return roots


def colon_hex(key_id: bytes) -> str:
    """A key id as the ledger writes it: upper-case hex bytes joined by colons."""
    return ":".join(f"{byte:02X}" for byte in key_id)


def all_certificates_path(key_id: bytes) -> str:
    return "/dcl/pki/all-certificates?subjectKeyId=" + urllib.parse.quote(colon_hex(key_id), safe="")


def parse_certificates_by_key_id(answer: object, key_id: bytes) -> list[x509.Certificate]:
    """The certificates of ``/dcl/pki/all-certificates?subjectKeyId=`` whose key id is the one asked
    for (a certificate with another could not have signed what we check)."""
    groups = answer.get("certificates") if isinstance(answer, dict) else None
    if not isinstance(groups, list):
        raise LedgerError("the ledger's all-certificates answer has no certificates list")
    found = []
    for group in groups:
        certs = group.get("certs") if isinstance(group, dict) else None
        for item in certs if isinstance(certs, list) else ():
            pem = item.get("pemCert") if isinstance(item, dict) else None
            if not isinstance(pem, str):
                continue
            try:
                certificate = x509.load_pem_x509_certificate(pem.encode())
                own = certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
            except (ValueError, x509.ExtensionNotFound):
                continue
            if own == key_id:
                found.append(certificate)
    return found
