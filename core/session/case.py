"""CASE: Certificate-Authenticated Session Establishment, the Sigma protocol (Core spec 4.14.2).

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

import logging
import secrets
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ec

from ..codec.protocols import ProtocolId, SecureChannelOpcode
from ..codec.schema import SchemaError
from ..codec.status_report import GeneralCode, SecureChannelStatus, StatusReport
from ..codec.tlv import TLVError
from ..crypto.certificates import CertificateError, MatterCertificate, validate_operational_chain
from ..crypto.primitives import (
    CryptoError,
    aes_ccm_decrypt,
    aes_ccm_encrypt,
    ecdh_shared_secret,
    ecdsa_sign_raw,
    ecdsa_verify_raw,
    hkdf_sha256,
    hmac_sha256,
    public_key_bytes,
    sha256,
)
from ..exchange.manager import Exchange, ExchangeManager, Message
from ..fabric.table import Fabric
from .messages import SessionParameterStruct, Sigma1, Sigma2, Sigma2Resume, Sigma2Tbe, Sigma3, Sigma3Tbe, SigmaTbs
from .pase import send_status
from .secure import AuthMode, SecureSession, SessionParameters, derive_session_keys
from .unsecured import UnsecuredSession

__all__ = ["CaseError", "CaseInitiator", "CaseResponder", "ResumptionRecord", "ResumptionStore", "destination_id"]

log = logging.getLogger(__name__)

SIGMA2_NONCE = b"NCASE_Sigma2N"
SIGMA3_NONCE = b"NCASE_Sigma3N"
RESUME1_NONCE = b"NCASE_SigmaS1"
RESUME2_NONCE = b"NCASE_SigmaS2"


class CaseError(RuntimeError):
    pass


def destination_id(ipk: bytes, initiator_random: bytes, root_public_key: bytes, fabric_id: int, node_id: int) -> bytes:
    message = initiator_random + root_public_key + fabric_id.to_bytes(8, "little") + node_id.to_bytes(8, "little")
    return hmac_sha256(ipk, message)


def _s2k(shared: bytes, ipk: bytes, responder_random: bytes, responder_eph: bytes, sigma1: bytes) -> bytes:
    return hkdf_sha256(shared, ipk + responder_random + responder_eph + sha256(sigma1), b"Sigma2", 16)


def _s3k(shared: bytes, ipk: bytes, sigma1: bytes, sigma2: bytes) -> bytes:
    return hkdf_sha256(shared, ipk + sha256(sigma1, sigma2), b"Sigma3", 16)


def _session_keys(shared: bytes, ipk: bytes, sigma1: bytes, sigma2: bytes, sigma3: bytes):
    return derive_session_keys(shared, ipk + sha256(sigma1, sigma2, sigma3))


def _resume_key(shared: bytes, initiator_random: bytes, resumption_id: bytes, info: bytes) -> bytes:
    return hkdf_sha256(shared, initiator_random + resumption_id, info, 16)


def _resume_mic(shared: bytes, initiator_random: bytes, resumption_id: bytes, info: bytes, nonce: bytes) -> bytes:
    """AES-CCM over nothing: the tag alone proves knowledge of the shared secret."""
    return aes_ccm_encrypt(_resume_key(shared, initiator_random, resumption_id, info), nonce, b"", b"")


def _resumption_keys(shared: bytes, initiator_random: bytes, resumption_id: bytes):
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


def _peer_identity(fabric: Fabric, noc: bytes, icac: bytes | None):
    try:
        return validate_operational_chain(
            MatterCertificate.from_tlv(noc),
            MatterCertificate.from_tlv(icac) if icac else None,
            MatterCertificate.from_tlv(fabric.rcac),
        )
    except CertificateError as exc:
        raise CryptoError(f"peer certificate chain rejected: {exc}") from None


class CaseResponder:
    """The node's side: answers Sigma1 for any fabric in ``fabrics()``."""

    def __init__(
        self,
        manager: ExchangeManager,
        fabrics: Callable[[], Iterable[Fabric]],
        *,
        local_parameters: SessionParameters | None = None,
        on_established: Callable[[SecureSession], None] | None = None,
        resumption: ResumptionStore | None = None,
    ) -> None:
        self.manager = manager
        self.fabrics = fabrics
        self.local_parameters = local_parameters or SessionParameters()
        self.on_established = on_established
        self.resumption = resumption or ResumptionStore()
        self.failures = 0
        self.resumed = 0

    def on_unsolicited(self, exchange: Exchange, message: Message) -> _CaseResponderExchange | None:
        if not isinstance(message.session, UnsecuredSession):
            send_status(exchange, GeneralCode.FAILURE, SecureChannelStatus.INVALID_PARAMETER)
            return None
        handler = _CaseResponderExchange(self)
        handler.on_sigma1(exchange, message)
        return None if exchange.closing else handler


class _CaseResponderExchange:
    def __init__(self, owner: CaseResponder) -> None:
        self.owner = owner
        self.fabric: Fabric | None = None
        self.local_session_id = 0
        self.peer_session_id = 0
        self.peer_parameters = SessionParameters()
        self.sigma1 = b""
        self.sigma2 = b""
        self.shared = b""
        self.own_eph = b""
        self.peer_eph = b""
        self.resumption_id = b""
        self.resuming: tuple[ResumptionRecord, Sigma1, bytes] | None = None

    def _fail(self, exchange: Exchange, reason: str, code=SecureChannelStatus.INVALID_PARAMETER) -> None:
        self.owner.failures += 1
        log.info("CASE failed: %s", reason)
        if self.local_session_id:
            self.owner.manager.sessions.release_id(self.local_session_id)
        send_status(exchange, GeneralCode.FAILURE, code)
        exchange.close(reason)

    def on_sigma1(self, exchange: Exchange, message: Message) -> None:
        try:
            sigma1 = Sigma1.decode(message.payload)
        except TLVError as exc:
            self._fail(exchange, f"bad Sigma1: {exc}")
            return
        if (sigma1.resumption_id is None) != (sigma1.initiator_resume_mic is None):
            self._fail(exchange, "Sigma1 has a resumption id without a resume MIC, or the reverse")
            return
        if sigma1.initiator_session_params is not None:
            self.peer_parameters = sigma1.initiator_session_params.to_parameters()
            message.session.peer_parameters = self.peer_parameters
        if sigma1.resumption_id is not None and self._try_resume(exchange, message, sigma1):
            return
        for fabric in self.owner.fabrics():
            expected = destination_id(
                fabric.ipk, sigma1.initiator_random, fabric.root_public_key, fabric.fabric_id, fabric.node_id
            )
            if expected == sigma1.destination_id:
                self.fabric = fabric
                break
        if self.fabric is None:
            self._fail(exchange, "no fabric matches the destination id", SecureChannelStatus.NO_SHARED_TRUST_ROOTS)
            return
        self.sigma1 = bytes(message.payload)
        self.peer_session_id = sigma1.initiator_session_id
        self.peer_eph = sigma1.initiator_eph_pub_key
        eph_key = ec.generate_private_key(ec.SECP256R1())
        self.own_eph = public_key_bytes(eph_key.public_key())
        try:
            self.shared = ecdh_shared_secret(eph_key, self.peer_eph)
        except CryptoError as exc:
            self._fail(exchange, str(exc))
            return
        fabric = self.fabric
        tbs = SigmaTbs(
            sender_noc=fabric.noc,
            sender_icac=fabric.icac,
            sender_eph_pub_key=self.own_eph,
            receiver_eph_pub_key=self.peer_eph,
        )
        self.resumption_id = secrets.token_bytes(16)
        tbe = Sigma2Tbe(
            responder_noc=fabric.noc,
            responder_icac=fabric.icac,
            signature=ecdsa_sign_raw(fabric.operational_key, tbs.encode()),
            resumption_id=self.resumption_id,
        )
        responder_random = secrets.token_bytes(32)
        key = _s2k(self.shared, fabric.ipk, responder_random, self.own_eph, self.sigma1)
        self.local_session_id = self.owner.manager.sessions.allocate_id()
        sigma2 = Sigma2(
            responder_random=responder_random,
            responder_session_id=self.local_session_id,
            responder_eph_pub_key=self.own_eph,
            encrypted2=aes_ccm_encrypt(key, SIGMA2_NONCE, tbe.encode(), b""),
            responder_session_params=SessionParameterStruct.ours(self.owner.local_parameters),
        )
        self.sigma2 = sigma2.encode()
        exchange.send(SecureChannelOpcode.CASE_SIGMA2, self.sigma2)

    def _try_resume(self, exchange: Exchange, message: Message, sigma1: Sigma1) -> bool:
        record = self.owner.resumption.take(sigma1.resumption_id)  # type: ignore[arg-type]
        fabric = next((f for f in self.owner.fabrics() if record and f.fabric_index == record.fabric_index), None)
        if record is None or fabric is None:
            return False
        expected = _resume_mic(
            record.shared_secret, sigma1.initiator_random, record.resumption_id, b"Sigma1_Resume", RESUME1_NONCE
        )
        if expected != sigma1.initiator_resume_mic:
            return False
        new_id = secrets.token_bytes(16)
        self.fabric = fabric
        self.peer_session_id = sigma1.initiator_session_id
        self.local_session_id = self.owner.manager.sessions.allocate_id()
        self.resuming = (record, sigma1, new_id)
        reply = Sigma2Resume(
            resumption_id=new_id,
            sigma2_resume_mic=_resume_mic(
                record.shared_secret, sigma1.initiator_random, new_id, b"Sigma2_Resume", RESUME2_NONCE
            ),
            responder_session_id=self.local_session_id,
            responder_session_params=SessionParameterStruct.ours(self.owner.local_parameters),
        )
        exchange.send(SecureChannelOpcode.CASE_SIGMA2_RESUME, reply.encode())
        return True

    def _finish_resume(self, exchange: Exchange, message: Message) -> None:
        record, sigma1, new_id = self.resuming  # type: ignore[misc]
        try:
            report = StatusReport.decode(message.payload)
        except Exception:
            report = None
        if report is None or not report.is_success:
            self.owner.manager.sessions.release_id(self.local_session_id)
            exchange.close("peer refused resumption")
            return
        session = SecureSession(
            local_session_id=self.local_session_id,
            peer_session_id=self.peer_session_id,
            keys=_resumption_keys(record.shared_secret, sigma1.initiator_random, record.resumption_id),
            is_initiator=False,
            auth_mode=AuthMode.CASE,
            local_node_id=self.fabric.node_id,  # type: ignore[union-attr]
            peer_node_id=record.peer_node_id,
            fabric_index=record.fabric_index,
            peer_cats=record.peer_cats,
            peer_parameters=self.peer_parameters,
            peer_address=message.session.peer_address,
        )
        for evicted in self.owner.manager.sessions.add(session):
            self.owner.manager.drop_session(evicted)
        self.owner.resumption.put(
            ResumptionRecord(new_id, record.shared_secret, record.fabric_index, record.peer_node_id, record.peer_cats)
        )
        self.owner.resumed += 1
        exchange.close("CASE resumed")
        if self.owner.on_established:
            self.owner.on_established(session)

    def on_message(self, exchange: Exchange, message: Message) -> None:
        if message.opcode == SecureChannelOpcode.STATUS_REPORT:
            if self.resuming is not None:
                self._finish_resume(exchange, message)
                return
            if self.local_session_id:
                self.owner.manager.sessions.release_id(self.local_session_id)
            exchange.close("peer aborted CASE")
            return
        if message.opcode != SecureChannelOpcode.CASE_SIGMA3 or self.fabric is None:
            self._fail(exchange, f"unexpected opcode 0x{message.opcode:02x}")
            return
        fabric = self.fabric
        try:
            sigma3 = Sigma3.decode(message.payload)
            key = _s3k(self.shared, fabric.ipk, self.sigma1, self.sigma2)
            tbe = Sigma3Tbe.decode(aes_ccm_decrypt(key, SIGMA3_NONCE, sigma3.encrypted3, b""))
            identity = _peer_identity(fabric, tbe.initiator_noc, tbe.initiator_icac)
            tbs = SigmaTbs(
                sender_noc=tbe.initiator_noc,
                sender_icac=tbe.initiator_icac,
                sender_eph_pub_key=self.peer_eph,
                receiver_eph_pub_key=self.own_eph,
            )
            noc_key = MatterCertificate.from_tlv(tbe.initiator_noc).public_key
            ecdsa_verify_raw(noc_key, tbs.encode(), tbe.signature)
        except (TLVError, SchemaError, CryptoError, CertificateError) as exc:
            self._fail(exchange, f"Sigma3 rejected: {exc}")
            return
        session = SecureSession(
            local_session_id=self.local_session_id,
            peer_session_id=self.peer_session_id,
            keys=_session_keys(self.shared, fabric.ipk, self.sigma1, self.sigma2, bytes(message.payload)),
            is_initiator=False,
            auth_mode=AuthMode.CASE,
            local_node_id=fabric.node_id,
            peer_node_id=identity.node_id,
            fabric_index=fabric.fabric_index,
            peer_cats=identity.cats,
            peer_parameters=self.peer_parameters,
            peer_address=message.session.peer_address,
        )
        for evicted in self.owner.manager.sessions.add(session):
            self.owner.manager.drop_session(evicted)
        self.owner.resumption.put(
            ResumptionRecord(self.resumption_id, self.shared, fabric.fabric_index, identity.node_id, identity.cats)
        )
        send_status(exchange, GeneralCode.SUCCESS, SecureChannelStatus.SESSION_ESTABLISHMENT_SUCCESS)
        exchange.close("CASE established")
        if self.owner.on_established:
            self.owner.on_established(session)

    def on_closed(self, exchange: Exchange, reason: str) -> None:
        pass


class CaseInitiator:
    """Our side as a client of another node on a shared fabric (the requestor client, tests)."""

    def __init__(
        self,
        manager: ExchangeManager,
        fabric: Fabric,
        peer_node_id: int,
        *,
        local_parameters: SessionParameters | None = None,
        on_done: Callable[[SecureSession | None, str], None] | None = None,
        resume: ResumptionRecord | None = None,
    ) -> None:
        self.manager = manager
        self.fabric = fabric
        self.peer_node_id = peer_node_id
        self.resume = resume
        self.resumption: ResumptionRecord | None = None  # what to offer next time
        self.resumed = False
        self.local_parameters = local_parameters or SessionParameters()
        self.on_done = on_done
        self.result: SecureSession | None = None
        self.error: str | None = None
        self._eph_key = ec.generate_private_key(ec.SECP256R1())
        self._own_eph = public_key_bytes(self._eph_key.public_key())
        self._local_session_id = 0
        self._peer_parameters = SessionParameters()
        self._sigma1 = b""
        self._state = "start"

    def start(self, address: tuple) -> Exchange:
        session = self.manager.unsecured.new_initiator(address)
        exchange = self.manager.new_exchange(session, ProtocolId.SECURE_CHANNEL, self)
        self._local_session_id = self.manager.sessions.allocate_id()
        initiator_random = secrets.token_bytes(32)
        self._initiator_random = initiator_random
        fabric = self.fabric
        resume_fields = {}
        if self.resume is not None:
            resume_fields = {
                "resumption_id": self.resume.resumption_id,
                "initiator_resume_mic": _resume_mic(
                    self.resume.shared_secret,
                    initiator_random,
                    self.resume.resumption_id,
                    b"Sigma1_Resume",
                    RESUME1_NONCE,
                ),
            }
        sigma1 = Sigma1(
            initiator_random=initiator_random,
            initiator_session_id=self._local_session_id,
            destination_id=destination_id(
                fabric.ipk, initiator_random, fabric.root_public_key, fabric.fabric_id, self.peer_node_id
            ),
            initiator_eph_pub_key=self._own_eph,
            initiator_session_params=SessionParameterStruct.ours(self.local_parameters),
            **resume_fields,
        )
        self._sigma1 = sigma1.encode()
        self._state = "sigma2"
        exchange.send(SecureChannelOpcode.CASE_SIGMA1, self._sigma1)
        return exchange

    def _finish(self, exchange: Exchange, session: SecureSession | None, error: str) -> None:
        if session is None:
            self.manager.sessions.release_id(self._local_session_id)
        self.result, self.error = session, (error or None)
        self._state = "done"
        exchange.close(error or "CASE established")
        if self.on_done:
            self.on_done(session, error)

    def on_message(self, exchange: Exchange, message: Message) -> None:
        try:
            self._on_message(exchange, message)
        except (TLVError, SchemaError, CryptoError, CertificateError) as exc:
            send_status(exchange, GeneralCode.FAILURE, SecureChannelStatus.INVALID_PARAMETER)
            self._finish(exchange, None, f"CASE failed: {exc}")

    def _on_message(self, exchange: Exchange, message: Message) -> None:
        if message.opcode == SecureChannelOpcode.STATUS_REPORT and self._state != "status":
            self._finish(exchange, None, f"responder refused: {StatusReport.decode(message.payload).describe()}")
            return
        if self._state == "sigma2" and message.opcode == SecureChannelOpcode.CASE_SIGMA2:
            self._on_sigma2(exchange, message)
        elif self._state == "sigma2" and message.opcode == SecureChannelOpcode.CASE_SIGMA2_RESUME:
            self._on_sigma2_resume(exchange, message)
        elif self._state == "status" and message.opcode == SecureChannelOpcode.STATUS_REPORT:
            report = StatusReport.decode(message.payload)
            if not report.is_success:
                self._finish(exchange, None, f"CASE failed: {report.describe()}")
                return
            for evicted in self.manager.sessions.add(self._session):
                self.manager.drop_session(evicted)
            self.resumption = self._next_resumption
            self._finish(exchange, self._session, "")
        else:
            raise CryptoError(f"unexpected opcode 0x{message.opcode:02x}")

    def _on_sigma2(self, exchange: Exchange, message: Message) -> None:
        fabric = self.fabric
        sigma2_bytes = bytes(message.payload)
        sigma2 = Sigma2.decode(sigma2_bytes)
        shared = ecdh_shared_secret(self._eph_key, sigma2.responder_eph_pub_key)
        key = _s2k(shared, fabric.ipk, sigma2.responder_random, sigma2.responder_eph_pub_key, self._sigma1)
        tbe = Sigma2Tbe.decode(aes_ccm_decrypt(key, SIGMA2_NONCE, sigma2.encrypted2, b""))
        identity = _peer_identity(fabric, tbe.responder_noc, tbe.responder_icac)
        if identity.node_id != self.peer_node_id:
            raise CryptoError(f"responder is node {identity.node_id:016X}, not {self.peer_node_id:016X}")
        tbs = SigmaTbs(
            sender_noc=tbe.responder_noc,
            sender_icac=tbe.responder_icac,
            sender_eph_pub_key=sigma2.responder_eph_pub_key,
            receiver_eph_pub_key=self._own_eph,
        )
        ecdsa_verify_raw(MatterCertificate.from_tlv(tbe.responder_noc).public_key, tbs.encode(), tbe.signature)
        if sigma2.responder_session_params is not None:
            self._peer_parameters = sigma2.responder_session_params.to_parameters()
            message.session.peer_parameters = self._peer_parameters
        self._next_resumption = ResumptionRecord(
            tbe.resumption_id, shared, fabric.fabric_index, identity.node_id, identity.cats
        )
        own_tbs = SigmaTbs(
            sender_noc=fabric.noc,
            sender_icac=fabric.icac,
            sender_eph_pub_key=self._own_eph,
            receiver_eph_pub_key=sigma2.responder_eph_pub_key,
        )
        tbe3 = Sigma3Tbe(
            initiator_noc=fabric.noc,
            initiator_icac=fabric.icac,
            signature=ecdsa_sign_raw(fabric.operational_key, own_tbs.encode()),
        )
        key3 = _s3k(shared, fabric.ipk, self._sigma1, sigma2_bytes)
        sigma3_bytes = Sigma3(aes_ccm_encrypt(key3, SIGMA3_NONCE, tbe3.encode(), b"")).encode()
        self._session = SecureSession(
            local_session_id=self._local_session_id,
            peer_session_id=sigma2.responder_session_id,
            keys=_session_keys(shared, fabric.ipk, self._sigma1, sigma2_bytes, sigma3_bytes),
            is_initiator=True,
            auth_mode=AuthMode.CASE,
            local_node_id=fabric.node_id,
            peer_node_id=identity.node_id,
            fabric_index=fabric.fabric_index,
            peer_cats=identity.cats,
            peer_parameters=self._peer_parameters,
            peer_address=message.session.peer_address,
        )
        self._state = "status"
        exchange.send(SecureChannelOpcode.CASE_SIGMA3, sigma3_bytes)

    def _on_sigma2_resume(self, exchange: Exchange, message: Message) -> None:
        if self.resume is None:
            raise CryptoError("Sigma2_Resume without a resumption request")
        reply = Sigma2Resume.decode(message.payload)
        expected = _resume_mic(
            self.resume.shared_secret, self._initiator_random, reply.resumption_id, b"Sigma2_Resume", RESUME2_NONCE
        )
        if expected != reply.sigma2_resume_mic:
            raise CryptoError("Sigma2_Resume MIC does not verify")
        if reply.responder_session_params is not None:
            self._peer_parameters = reply.responder_session_params.to_parameters()
            message.session.peer_parameters = self._peer_parameters
        session = SecureSession(
            local_session_id=self._local_session_id,
            peer_session_id=reply.responder_session_id,
            keys=_resumption_keys(self.resume.shared_secret, self._initiator_random, self.resume.resumption_id),
            is_initiator=True,
            auth_mode=AuthMode.CASE,
            local_node_id=self.fabric.node_id,
            peer_node_id=self.resume.peer_node_id,
            fabric_index=self.fabric.fabric_index,
            peer_cats=self.resume.peer_cats,
            peer_parameters=self._peer_parameters,
            peer_address=message.session.peer_address,
        )
        for evicted in self.manager.sessions.add(session):
            self.manager.drop_session(evicted)
        self.resumption = ResumptionRecord(
            reply.resumption_id,
            self.resume.shared_secret,
            self.fabric.fabric_index,
            self.resume.peer_node_id,
            self.resume.peer_cats,
        )
        self.resumed = True
        send_status(exchange, GeneralCode.SUCCESS, SecureChannelStatus.SESSION_ESTABLISHMENT_SUCCESS)
        self._finish(exchange, session, "")

    def on_closed(self, exchange: Exchange, reason: str) -> None:
        if self.result is None and self.error is None:
            self.error = f"CASE failed: {reason}"
            if self.on_done:
                self.on_done(None, self.error)
