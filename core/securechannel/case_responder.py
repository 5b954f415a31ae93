"""CASE, the node's side: answers Sigma1 for any of its fabrics, and resumes sessions it issued
(Core spec 4.14.2; the exchange shape is in :mod:`.case_keys`)."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Iterable

from cryptography.hazmat.primitives.asymmetric import ec

from ..codec.protocols import SecureChannelOpcode
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
from ..session.secure import AuthMode, SecureSession, SessionParameters
from ..session.unsecured import UnsecuredSession
from .case_keys import (
    RESUME1_NONCE,
    RESUME2_NONCE,
    SIGMA2_NONCE,
    SIGMA3_NONCE,
    ResumptionRecord,
    ResumptionStore,
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
from .status import Defer, defer_or_busy, send_status

__all__ = ["CaseResponder"]

log = logging.getLogger(__name__)


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
        defer: Defer | None = None,
    ) -> None:
        self.manager = manager
        # Sigma1 and Sigma3 cost milliseconds of public-key work each. With ``defer`` (the node's
        # defer_slow: one piece per poll, sources served in turn, see admission.py) they are
        # acknowledged at once and worked on after the datagrams already waiting: 200 requestors
        # opening CASE together then wait for their Sigma2 within CASE's response timeout, instead of
        # retransmitting into the queue until MRP gives up. ``defer`` says False when the source's
        # share of the queue is full: the handshake is answered Busy.
        self.defer = defer
        self.fabrics = fabrics
        self.local_parameters = local_parameters or SessionParameters()
        self.on_established = on_established
        self.resumption = resumption or ResumptionStore()
        self.failures = 0
        self.resumed = 0
        self.busy = 0  # handshakes answered Busy: the admission queue was full

    def on_unsolicited(self, exchange: Exchange, message: Message) -> _CaseResponderExchange | None:
        if not isinstance(message.session, UnsecuredSession):
            send_status(exchange, GeneralCode.FAILURE, SecureChannelStatus.INVALID_PARAMETER)
            return None
        handler = _CaseResponderExchange(self)
        if self.defer is not None:
            if not defer_or_busy(self.defer, exchange, message, lambda: handler.on_sigma1(exchange, message)):
                self.busy += 1
                return None
            return handler
        handler.on_sigma1(exchange, message)
        return None if exchange.closing else handler


class _CaseResponderExchange:
    def __init__(self, owner: CaseResponder) -> None:
        self.owner = owner
        self.fabric: Fabric | None = None
        self.local_session_id = 0
        self.peer_session_id = 0
        self.peer_parameters = SessionParameters()
        self.advertised: SessionParameters | None = None  # ours, chosen for the peer's link at Sigma1
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
        manager = self.owner.manager
        self.advertised = manager.links.parameters_for(
            message.session.peer_address, self.owner.local_parameters, manager.now
        )
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
        key = sigma2_key(self.shared, fabric.ipk, responder_random, self.own_eph, self.sigma1)
        self.local_session_id = self.owner.manager.sessions.allocate_id()
        sigma2 = Sigma2(
            responder_random=responder_random,
            responder_session_id=self.local_session_id,
            responder_eph_pub_key=self.own_eph,
            encrypted2=aes_ccm_encrypt(key, SIGMA2_NONCE, tbe.encode(), b""),
            responder_session_params=SessionParameterStruct.ours(self.advertised or self.owner.local_parameters),
        )
        self.sigma2 = sigma2.encode()
        exchange.send(SecureChannelOpcode.CASE_SIGMA2, self.sigma2)

    def _try_resume(self, exchange: Exchange, message: Message, sigma1: Sigma1) -> bool:
        record = self.owner.resumption.take(sigma1.resumption_id)  # type: ignore[arg-type]
        fabric = next((f for f in self.owner.fabrics() if record and f.fabric_index == record.fabric_index), None)
        if record is None or fabric is None:
            return False
        expected = resume_mic(
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
            sigma2_resume_mic=resume_mic(
                record.shared_secret, sigma1.initiator_random, new_id, b"Sigma2_Resume", RESUME2_NONCE
            ),
            responder_session_id=self.local_session_id,
            responder_session_params=SessionParameterStruct.ours(self.advertised or self.owner.local_parameters),
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
        session = NewSession(
            local_session_id=self.local_session_id,
            peer_session_id=self.peer_session_id,
            keys=resumption_keys(record.shared_secret, sigma1.initiator_random, record.resumption_id),
            is_initiator=False,
            auth_mode=AuthMode.CASE,
            local_node_id=self.fabric.node_id,  # type: ignore[union-attr]
            peer_node_id=record.peer_node_id,
            fabric_index=record.fabric_index,
            peer_cats=record.peer_cats,
            peer_parameters=self.peer_parameters,
            peer_address=message.session.peer_address,
            local_parameters=self.advertised,
        ).open(self.owner.manager)
        self.owner.resumption.put(
            ResumptionRecord(new_id, record.shared_secret, record.fabric_index, record.peer_node_id, record.peer_cats)
        )
        self.owner.resumed += 1
        self.local_session_id = 0  # the session holds it now
        exchange.close("CASE resumed")
        if self.owner.on_established:
            self.owner.on_established(session)

    def on_message(self, exchange: Exchange, message: Message) -> None:
        if message.opcode == SecureChannelOpcode.CASE_SIGMA3 and self.owner.defer is not None:
            defer_or_busy(self.owner.defer, exchange, message, lambda: self._on_message(exchange, message), always=True)
            return
        self._on_message(exchange, message)

    def _on_message(self, exchange: Exchange, message: Message) -> None:
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
            key = sigma3_key(self.shared, fabric.ipk, self.sigma1, self.sigma2)
            tbe = Sigma3Tbe.decode(aes_ccm_decrypt(key, SIGMA3_NONCE, sigma3.encrypted3, b""))
            identity = peer_identity(fabric, tbe.initiator_noc, tbe.initiator_icac)
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
        session = NewSession(
            local_session_id=self.local_session_id,
            peer_session_id=self.peer_session_id,
            keys=case_session_keys(self.shared, fabric.ipk, self.sigma1, self.sigma2, bytes(message.payload)),
            is_initiator=False,
            auth_mode=AuthMode.CASE,
            local_node_id=fabric.node_id,
            peer_node_id=identity.node_id,
            fabric_index=fabric.fabric_index,
            peer_cats=identity.cats,
            peer_parameters=self.peer_parameters,
            peer_address=message.session.peer_address,
            local_parameters=self.advertised,
        ).open(self.owner.manager)
        self.owner.resumption.put(
            ResumptionRecord(self.resumption_id, self.shared, fabric.fabric_index, identity.node_id, identity.cats)
        )
        self.local_session_id = 0  # the session holds it now
        send_status(exchange, GeneralCode.SUCCESS, SecureChannelStatus.SESSION_ESTABLISHMENT_SUCCESS)
        exchange.close("CASE established")
        if self.owner.on_established:
            self.owner.on_established(session)

    def released(self) -> None:
        """Give back the session id reserved for a handshake that will not complete (a handshake
        abandoned by its peer, timed out or evicted would otherwise hold one of the 65535 for ever)."""
        if self.local_session_id:
            self.owner.manager.sessions.release_id(self.local_session_id)
            self.local_session_id = 0

    def on_closed(self, exchange: Exchange, reason: str) -> None:
        self.released()
