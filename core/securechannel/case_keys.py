"""CASE, what both roles share (Core spec 4.14.2): the destination id, the Sigma key derivations,
and the resumption records.

    initiator                                   responder
    Sigma1 (random, session id, destination id, ephemeral key)  -->
                <--  Sigma2 (random, session id, ephemeral key, encrypted2 = {NOC, ICAC, sig, resumption id})
    Sigma3 (encrypted3 = {NOC, ICAC, sig})                      -->
                <--  StatusReport SUCCESS

The responder finds the fabric whose IPK, root key, fabric id and our node id produce the
initiator's destination id; the initiator's NOC chain must validate against that fabric's
root. Session keys = HKDF(ECDH secret, IPK || SHA-256(Sigma1 || Sigma2 || Sigma3),
"SessionKeys", 48).

Resumption: a Sigma1 carrying a resumption id we issued (and a valid Sigma1 resume MIC)
is answered with Sigma2_Resume; the initiator then confirms with a StatusReport and both
derive keys from the earlier shared secret with "SessionResumptionKeys". An unknown id or
a bad MIC falls back to the full exchange.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass

from ..crypto.certificates import CertificateError, MatterCertificate, validate_operational_chain
from ..crypto.primitives import CryptoError, aes_ccm_encrypt, hkdf_sha256, hmac_sha256, sha256
from ..fabric.table import Fabric
from ..session.secure import derive_session_keys

__all__ = [
    "RESUME1_NONCE",
    "RESUME2_NONCE",
    "SIGMA2_NONCE",
    "SIGMA3_NONCE",
    "CaseError",
    "ResumptionRecord",
    "ResumptionStore",
    "case_session_keys",
    "destination_id",
    "peer_identity",
    "resume_mic",
    "resumption_keys",
    "sigma2_key",
    "sigma3_key",
]

SIGMA2_NONCE = b"NCASE_Sigma2N"
SIGMA3_NONCE = b"NCASE_Sigma3N"
RESUME1_NONCE = b"NCASE_SigmaS1"
RESUME2_NONCE = b"NCASE_SigmaS2"


class CaseError(RuntimeError):
    pass


def destination_id(ipk: bytes, initiator_random: bytes, root_public_key: bytes, fabric_id: int, node_id: int) -> bytes:
    message = initiator_random + root_public_key + fabric_id.to_bytes(8, "little") + node_id.to_bytes(8, "little")
    return hmac_sha256(ipk, message)


def sigma2_key(shared: bytes, ipk: bytes, responder_random: bytes, responder_eph: bytes, sigma1: bytes) -> bytes:
    return hkdf_sha256(shared, ipk + responder_random + responder_eph + sha256(sigma1), b"Sigma2", 16)


def sigma3_key(shared: bytes, ipk: bytes, sigma1: bytes, sigma2: bytes) -> bytes:
    return hkdf_sha256(shared, ipk + sha256(sigma1, sigma2), b"Sigma3", 16)


def case_session_keys(shared: bytes, ipk: bytes, sigma1: bytes, sigma2: bytes, sigma3: bytes):
    return derive_session_keys(shared, ipk + sha256(sigma1, sigma2, sigma3))


def _resume_key(shared: bytes, initiator_random: bytes, resumption_id: bytes, info: bytes) -> bytes:
    return hkdf_sha256(shared, initiator_random + resumption_id, info, 16)


def resume_mic(shared: bytes, initiator_random: bytes, resumption_id: bytes, info: bytes, nonce: bytes) -> bytes:
    """AES-CCM over nothing: the tag alone proves knowledge of the shared secret."""
    return aes_ccm_encrypt(_resume_key(shared, initiator_random, resumption_id, info), nonce, b"", b"")


def resumption_keys(shared: bytes, initiator_random: bytes, resumption_id: bytes):
    return derive_session_keys(shared, initiator_random + resumption_id, b"SessionResumptionKeys")


@dataclass(frozen=True)
class ResumptionRecord:
    resumption_id: bytes
    shared_secret: bytes
    fabric_index: int
    peer_node_id: int
    peer_cats: tuple[int, ...] = ()


class ResumptionStore:
    """Recently established CASE sessions that may be resumed, by resumption id (bounded, LRU)."""

    def __init__(self, capacity: int = 64) -> None:
        self._records: OrderedDict[bytes, ResumptionRecord] = OrderedDict()
        self.capacity = capacity

    def put(self, record: ResumptionRecord) -> None:
        peer = (record.fabric_index, record.peer_node_id)
        stale = [key for key, old in self._records.items() if (old.fabric_index, old.peer_node_id) == peer]
        for key in stale:  # one record per peer: the newest
            del self._records[key]
        self._records[record.resumption_id] = record
        while len(self._records) > self.capacity:
            self._records.popitem(last=False)

    def take(self, resumption_id: bytes) -> ResumptionRecord | None:
        return self._records.pop(resumption_id, None)

    def remove_fabric(self, fabric_index: int) -> None:
        for key in [k for k, r in self._records.items() if r.fabric_index == fabric_index]:
            del self._records[key]


def peer_identity(fabric: Fabric, noc: bytes, icac: bytes | None):
    try:
        return validate_operational_chain(
            MatterCertificate.from_tlv(noc),
            MatterCertificate.from_tlv(icac) if icac else None,
            MatterCertificate.from_tlv(fabric.rcac),
        )
    except CertificateError as exc:
        raise CryptoError(f"peer certificate chain rejected: {exc}") from None
