"""CASE, our side as a client of another node on a shared fabric: the bench's commissioner, the
requestor client, tests (Core spec 4.14.2; the exchange shape is in :mod:`.case_keys`)."""

from __future__ import annotations

import enum
import secrets
from collections.abc import Callable

from cryptography.hazmat.primitives.asymmetric import ec

from ..codec.protocols import ProtocolId, SecureChannelOpcode
from ..codec.schema import SchemaError
from ..codec.status_report import GeneralCode, SecureChannelStatus, StatusReport
from ..codec.tlv import TLVError
from ..crypto.certificates import CertificateError, MatterCertificate
from ..crypto.primitives import (
    CryptoError,
    aes_ccm_decrypt,
    aes_ccm_encrypt,
    ecdh_shared_secret,
    ecdsa_sign_raw,
    ecdsa_verify_raw,
    public_key_bytes,
)
from ..exchange.manager import Exchange, ExchangeManager, Message
from ..fabric.table import Fabric
from ..node_ids import node_text
from ..session.secure import AuthMode, SecureSession, SessionParameters
from .case_keys import (
    RESUME1_NONCE,
    RESUME2_NONCE,
    SIGMA2_NONCE,
    SIGMA3_NONCE,
    ResumptionRecord,
    case_session_keys,
    destination_id,
    peer_identity,
    resume_mic,
    resumption_keys,
    sigma2_key,
    sigma3_key,
)
from .messages import SessionParameterStruct, Sigma1, Sigma2, Sigma2Resume, Sigma2Tbe, Sigma3, Sigma3Tbe, SigmaTbs
from .sessions import NewSession
from .status import busy_wait, send_status

__all__ = ["CaseInitiator"]


class _Step(enum.Enum):
    START = "start"
    SIGMA2 = "waiting for Sigma2"
    STATUS = "waiting for the StatusReport"
    DONE = "done"


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
        self.busy_wait: float | None = None  # seconds, when the responder answered Busy
        self._eph_key = ec.generate_private_key(ec.SECP256R1())
        self._own_eph = public_key_bytes(self._eph_key.public_key())
        self._local_session_id = 0
        self._peer_parameters = SessionParameters()
        self._advertised: SessionParameters | None = None  # ours, chosen for the peer's link at Sigma1
        self._sigma1 = b""
        self._step = _Step.START

    def start(self, address: tuple) -> Exchange:
        session = self.manager.unsecured.new_initiator(address)
        exchange = self.manager.new_exchange(session, ProtocolId.SECURE_CHANNEL, self)
        self._local_session_id = self.manager.sessions.allocate_id()
        advertised = self.manager.links.parameters_for(address, self.local_parameters, self.manager.now)
        self._advertised = advertised
        initiator_random = secrets.token_bytes(32)
        self._initiator_random = initiator_random
        fabric = self.fabric
        resume_fields = {}
        if self.resume is not None:
            resume_fields = {
                "resumption_id": self.resume.resumption_id,
                "initiator_resume_mic": resume_mic(
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
            initiator_session_params=SessionParameterStruct.ours(advertised),
            **resume_fields,
        )
        self._sigma1 = sigma1.encode()
        self._step = _Step.SIGMA2
        exchange.send(SecureChannelOpcode.CASE_SIGMA1, self._sigma1)
        return exchange

    def _finish(self, exchange: Exchange, session: SecureSession | None, error: str) -> None:
        if session is None:
            self.manager.sessions.release_id(self._local_session_id)
        self.result, self.error = session, (error or None)
        self._step = _Step.DONE
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
        if message.opcode == SecureChannelOpcode.STATUS_REPORT and self._step != _Step.STATUS:
            report = StatusReport.decode(message.payload)
            self.busy_wait = busy_wait(report)  # the caller may try again after that long
            self._finish(exchange, None, f"responder refused: {report.describe()}")
            return
        if self._step == _Step.SIGMA2 and message.opcode == SecureChannelOpcode.CASE_SIGMA2:
            self._on_sigma2(exchange, message)
        elif self._step == _Step.SIGMA2 and message.opcode == SecureChannelOpcode.CASE_SIGMA2_RESUME:
            self._on_sigma2_resume(exchange, message)
        elif self._step == _Step.STATUS and message.opcode == SecureChannelOpcode.STATUS_REPORT:
            report = StatusReport.decode(message.payload)
            if not report.is_success:
                self.busy_wait = busy_wait(report)
                self._finish(exchange, None, f"CASE failed: {report.describe()}")
                return
            session = self._session.open(self.manager)
            self.resumption = self._next_resumption
            self._finish(exchange, session, "")
        else:
            raise CryptoError(f"unexpected opcode 0x{message.opcode:02x}")

    def _on_sigma2(self, exchange: Exchange, message: Message) -> None:
        fabric = self.fabric
        sigma2_bytes = bytes(message.payload)
        sigma2 = Sigma2.decode(sigma2_bytes)
        shared = ecdh_shared_secret(self._eph_key, sigma2.responder_eph_pub_key)
        key = sigma2_key(shared, fabric.ipk, sigma2.responder_random, sigma2.responder_eph_pub_key, self._sigma1)
        tbe = Sigma2Tbe.decode(aes_ccm_decrypt(key, SIGMA2_NONCE, sigma2.encrypted2, b""))
        identity = peer_identity(fabric, tbe.responder_noc, tbe.responder_icac)
        if identity.node_id != self.peer_node_id:
            raise CryptoError(f"responder is node {node_text(identity.node_id)}, not {node_text(self.peer_node_id)}")
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
        key3 = sigma3_key(shared, fabric.ipk, self._sigma1, sigma2_bytes)
        sigma3_bytes = Sigma3(aes_ccm_encrypt(key3, SIGMA3_NONCE, tbe3.encode(), b"")).encode()
        self._session = NewSession(
            local_session_id=self._local_session_id,
            peer_session_id=sigma2.responder_session_id,
            keys=case_session_keys(shared, fabric.ipk, self._sigma1, sigma2_bytes, sigma3_bytes),
            is_initiator=True,
            auth_mode=AuthMode.CASE,
            local_node_id=fabric.node_id,
            peer_node_id=identity.node_id,
            fabric_index=fabric.fabric_index,
            peer_cats=identity.cats,
            peer_parameters=self._peer_parameters,
            peer_address=message.session.peer_address,
            local_parameters=self._advertised,
        )
        self._step = _Step.STATUS
        exchange.send(SecureChannelOpcode.CASE_SIGMA3, sigma3_bytes)

    def _on_sigma2_resume(self, exchange: Exchange, message: Message) -> None:
        if self.resume is None:
            raise CryptoError("Sigma2_Resume without a resumption request")
        reply = Sigma2Resume.decode(message.payload)
        expected = resume_mic(
            self.resume.shared_secret, self._initiator_random, reply.resumption_id, b"Sigma2_Resume", RESUME2_NONCE
        )
        if expected != reply.sigma2_resume_mic:
            raise CryptoError("Sigma2_Resume MIC does not verify")
        if reply.responder_session_params is not None:
            self._peer_parameters = reply.responder_session_params.to_parameters()
            message.session.peer_parameters = self._peer_parameters
        session = NewSession(
            local_session_id=self._local_session_id,
            peer_session_id=reply.responder_session_id,
            keys=resumption_keys(self.resume.shared_secret, self._initiator_random, self.resume.resumption_id),
            is_initiator=True,
            auth_mode=AuthMode.CASE,
            local_node_id=self.fabric.node_id,
            peer_node_id=self.resume.peer_node_id,
            fabric_index=self.fabric.fabric_index,
            peer_cats=self.resume.peer_cats,
            peer_parameters=self._peer_parameters,
            peer_address=message.session.peer_address,
            local_parameters=self._advertised,
        ).open(self.manager)
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
