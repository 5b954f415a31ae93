"""PASE: Passcode-Authenticated Session Establishment (Core spec 4.14.1).

    initiator (commissioner)                 responder (this node)
    PBKDFParamRequest  ------------------->
                       <-------------------  PBKDFParamResponse (iterations, salt)
    Pake1 (pA)         ------------------->
                       <-------------------  Pake2 (pB, cB)
    Pake3 (cA)         ------------------->
                       <-------------------  StatusReport SUCCESS  (or FAILURE / INVALID_PARAMETER)

Context = SHA-256("CHIP PAKE V1 Commissioning" || PBKDFParamRequest || PBKDFParamResponse);
session keys = HKDF(Ke, "", "SessionKeys", 48). Both sides are ExchangeDelegates driven by
the sans-IO exchange manager.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from ..codec.protocols import ProtocolId, SecureChannelOpcode
from ..codec.schema import SchemaError
from ..codec.status_report import GeneralCode, SecureChannelStatus, StatusReport
from ..codec.tlv import TLVError
from ..crypto.primitives import CryptoError, sha256
from ..crypto.spake2p import Spake2pProver, Spake2pVerifier, Spake2pVerifierSession, compute_w0_w1
from ..exchange.manager import Exchange, ExchangeManager, Message
from .messages import (
    Pake1,
    Pake2,
    Pake3,
    PbkdfParameters,
    PbkdfParamRequest,
    PbkdfParamResponse,
    SessionParameterStruct,
)
from .secure import AuthMode, SecureSession, SessionParameters, derive_session_keys
from .unsecured import UnsecuredSession

__all__ = ["PaseCredentials", "PaseError", "PaseInitiator", "PaseResponder"]

log = logging.getLogger(__name__)

CONTEXT_PREFIX = b"CHIP PAKE V1 Commissioning"
DEFAULT_MAX_FAILED_ATTEMPTS = 20


class PaseError(RuntimeError):
    pass


@dataclass(frozen=True)
class PaseCredentials:
    """What the node stores for PASE: the verifier and its PBKDF2 parameters."""

    verifier: Spake2pVerifier
    salt: bytes
    iterations: int

    @classmethod
    def from_passcode(cls, passcode: int, salt: bytes | None = None, iterations: int = 1000) -> PaseCredentials:
        salt = salt if salt is not None else secrets.token_bytes(32)
        return cls(Spake2pVerifier.from_passcode(passcode, salt, iterations), salt, iterations)


def send_status(exchange: Exchange, general: GeneralCode, code: SecureChannelStatus, *, reliable: bool = True) -> None:
    report = StatusReport(general, ProtocolId.SECURE_CHANNEL, code)
    exchange.send(SecureChannelOpcode.STATUS_REPORT, report.encode(), reliable=reliable)


class PaseResponder:
    """The node's side. Register :meth:`on_unsolicited` for PBKDFParamRequest."""

    def __init__(
        self,
        manager: ExchangeManager,
        credentials: Callable[[], PaseCredentials | None],
        *,
        local_parameters: SessionParameters | None = None,
        on_established: Callable[[SecureSession], None] | None = None,
        on_failed: Callable[[str], None] | None = None,
        max_failed_attempts: int = DEFAULT_MAX_FAILED_ATTEMPTS,
    ) -> None:
        self.manager = manager
        self._credentials = credentials  # None while no commissioning window is open
        self.local_parameters = local_parameters or SessionParameters()
        self.on_established = on_established
        self.on_failed = on_failed
        self.max_failed_attempts = max_failed_attempts
        self.failed_attempts = 0

    def on_unsolicited(self, exchange: Exchange, message: Message) -> _PaseResponderExchange | None:
        credentials = self._credentials()
        if not isinstance(message.session, UnsecuredSession):
            send_status(exchange, GeneralCode.FAILURE, SecureChannelStatus.INVALID_PARAMETER)
            return None
        if credentials is None or self.failed_attempts >= self.max_failed_attempts:
            send_status(exchange, GeneralCode.FAILURE, SecureChannelStatus.INVALID_PARAMETER)
            return None
        handler = _PaseResponderExchange(self, credentials)
        handler.on_request(exchange, message)
        return None if exchange.closing else handler

    def note_failure(self, reason: str) -> None:
        self.failed_attempts += 1
        log.info("PASE failed (%d/%d): %s", self.failed_attempts, self.max_failed_attempts, reason)
        if self.on_failed:
            self.on_failed(reason)


class _PaseResponderExchange:
    def __init__(self, owner: PaseResponder, credentials: PaseCredentials) -> None:
        self.owner = owner
        self.credentials = credentials
        self.local_session_id = 0
        self.peer_session_id = 0
        self.peer_parameters = SessionParameters()
        self.spake: Spake2pVerifierSession | None = None
        self.expected = SecureChannelOpcode.PBKDF_PARAM_REQUEST

    def _fail(self, exchange: Exchange, reason: str) -> None:
        if self.local_session_id:
            self.owner.manager.sessions.release_id(self.local_session_id)
        self.owner.note_failure(reason)
        send_status(exchange, GeneralCode.FAILURE, SecureChannelStatus.INVALID_PARAMETER)
        exchange.close(reason)

    def on_request(self, exchange: Exchange, message: Message) -> None:
        if message.opcode != SecureChannelOpcode.PBKDF_PARAM_REQUEST:
            self._fail(exchange, f"unexpected opcode 0x{message.opcode:02x}")
            return
        try:
            request = PbkdfParamRequest.decode(message.payload)
        except TLVError as exc:
            self._fail(exchange, f"bad PBKDFParamRequest: {exc}")
            return
        if request.passcode_id != 0:
            self._fail(exchange, "passcode id must be 0")
            return
        if request.initiator_session_params is not None:
            self.peer_parameters = request.initiator_session_params.to_parameters()
            message.session.peer_parameters = self.peer_parameters
        self.peer_session_id = request.initiator_session_id
        self.local_session_id = self.owner.manager.sessions.allocate_id()
        response = PbkdfParamResponse(
            initiator_random=request.initiator_random,
            responder_random=secrets.token_bytes(32),
            responder_session_id=self.local_session_id,
            pbkdf_parameters=None
            if request.has_pbkdf_parameters
            else PbkdfParameters(self.credentials.iterations, self.credentials.salt),
            responder_session_params=SessionParameterStruct.ours(self.owner.local_parameters),
        )
        response_bytes = response.encode()
        context = sha256(CONTEXT_PREFIX, message.payload, response_bytes)
        self.spake = Spake2pVerifierSession(context, self.credentials.verifier)
        self.expected = SecureChannelOpcode.PASE_PAKE1
        exchange.send(SecureChannelOpcode.PBKDF_PARAM_RESPONSE, response_bytes)

    def on_message(self, exchange: Exchange, message: Message) -> None:
        if message.opcode == SecureChannelOpcode.STATUS_REPORT:
            self._abort(exchange, message)
            return
        if message.opcode != self.expected or self.spake is None:
            self._fail(exchange, f"unexpected opcode 0x{message.opcode:02x}")
            return
        try:
            if message.opcode == SecureChannelOpcode.PASE_PAKE1:
                pake1 = Pake1.decode(message.payload)
                pb, cb = self.spake.process_prover_share(pake1.pa)
                self.expected = SecureChannelOpcode.PASE_PAKE3
                exchange.send(SecureChannelOpcode.PASE_PAKE2, Pake2(pb, cb).encode())
                return
            pake3 = Pake3.decode(message.payload)
            self.spake.verify_prover_confirmation(pake3.ca)
        except (TLVError, SchemaError) as exc:
            self._fail(exchange, f"malformed message: {exc}")
            return
        except CryptoError as exc:
            self._fail(exchange, str(exc))
            return
        session = SecureSession(
            local_session_id=self.local_session_id,
            peer_session_id=self.peer_session_id,
            keys=derive_session_keys(self.spake.ke, b""),
            is_initiator=False,
            auth_mode=AuthMode.PASE,
            peer_parameters=self.peer_parameters,
            peer_address=message.session.peer_address,
        )
        for evicted in self.owner.manager.sessions.add(session):
            self.owner.manager.drop_session(evicted)
        send_status(exchange, GeneralCode.SUCCESS, SecureChannelStatus.SESSION_ESTABLISHMENT_SUCCESS)
        exchange.close("PASE established")
        self.owner.failed_attempts = 0
        if self.owner.on_established:
            self.owner.on_established(session)

    def _abort(self, exchange: Exchange, message: Message) -> None:
        try:
            detail = StatusReport.decode(message.payload).describe()
        except Exception:
            detail = "malformed StatusReport"
        if self.local_session_id:
            self.owner.manager.sessions.release_id(self.local_session_id)
        if self.expected == SecureChannelOpcode.PASE_PAKE3:
            # The prover rejected our Pake2: it holds a different passcode. That is a failed attempt.
            self.owner.note_failure(f"peer aborted after Pake2: {detail}")
        exchange.close(f"peer aborted: {detail}")

    def on_closed(self, exchange: Exchange, reason: str) -> None:
        pass


class PaseInitiator:
    """The commissioner's side, for the requestor client and for tests."""

    def __init__(
        self,
        manager: ExchangeManager,
        passcode: int,
        *,
        local_parameters: SessionParameters | None = None,
        on_done: Callable[[SecureSession | None, str], None] | None = None,
    ) -> None:
        self.manager = manager
        self.passcode = passcode
        self.local_parameters = local_parameters or SessionParameters()
        self.on_done = on_done
        self.result: SecureSession | None = None
        self.error: str | None = None
        self._request_bytes = b""
        self._local_session_id = 0
        self._peer_session_id = 0
        self._prover: Spake2pProver | None = None
        self._peer_parameters = SessionParameters()
        self._expected = SecureChannelOpcode.PBKDF_PARAM_RESPONSE

    def start(self, address: tuple) -> Exchange:
        session = self.manager.unsecured.new_initiator(address)
        exchange = self.manager.new_exchange(session, ProtocolId.SECURE_CHANNEL, self)
        self._local_session_id = self.manager.sessions.allocate_id()
        request = PbkdfParamRequest(
            initiator_random=secrets.token_bytes(32),
            initiator_session_id=self._local_session_id,
            passcode_id=0,
            has_pbkdf_parameters=False,
            initiator_session_params=SessionParameterStruct.ours(self.local_parameters),
        )
        self._request_bytes = request.encode()
        exchange.send(SecureChannelOpcode.PBKDF_PARAM_REQUEST, self._request_bytes)
        return exchange

    def _finish(self, exchange: Exchange, session: SecureSession | None, error: str) -> None:
        if session is None:
            self.manager.sessions.release_id(self._local_session_id)
        self.result, self.error = session, (error or None)
        exchange.close(error or "PASE established")
        if self.on_done:
            self.on_done(session, error)

    def on_message(self, exchange: Exchange, message: Message) -> None:
        try:
            self._on_message(exchange, message)
        except (TLVError, SchemaError, CryptoError) as exc:
            send_status(exchange, GeneralCode.FAILURE, SecureChannelStatus.INVALID_PARAMETER)
            self._finish(exchange, None, f"PASE failed: {exc}")

    def _on_message(self, exchange: Exchange, message: Message) -> None:
        opcode = message.opcode
        if opcode == SecureChannelOpcode.STATUS_REPORT and self._expected != SecureChannelOpcode.STATUS_REPORT:
            self._finish(exchange, None, f"responder refused: {StatusReport.decode(message.payload).describe()}")
            return
        if opcode != self._expected:
            raise CryptoError(f"unexpected opcode 0x{opcode:02x}")
        if opcode == SecureChannelOpcode.PBKDF_PARAM_RESPONSE:
            response = PbkdfParamResponse.decode(message.payload)
            if response.pbkdf_parameters is None:
                raise CryptoError("PBKDFParamResponse without PBKDF parameters")
            if response.responder_session_params is not None:
                self._peer_parameters = response.responder_session_params.to_parameters()
                message.session.peer_parameters = self._peer_parameters
            self._peer_session_id = response.responder_session_id
            context = sha256(CONTEXT_PREFIX, self._request_bytes, message.payload)
            params = response.pbkdf_parameters
            w0, w1 = compute_w0_w1(self.passcode, params.salt, params.iterations)
            self._prover = Spake2pProver(context, w0, w1)
            self._expected = SecureChannelOpcode.PASE_PAKE2
            exchange.send(SecureChannelOpcode.PASE_PAKE1, Pake1(self._prover.share).encode())
        elif opcode == SecureChannelOpcode.PASE_PAKE2:
            pake2 = Pake2.decode(message.payload)
            ca = self._prover.process_verifier_share(pake2.pb, pake2.cb)  # type: ignore[union-attr]
            self._expected = SecureChannelOpcode.STATUS_REPORT
            exchange.send(SecureChannelOpcode.PASE_PAKE3, Pake3(ca).encode())
        else:
            report = StatusReport.decode(message.payload)
            if not report.is_success:
                self._finish(exchange, None, f"PASE failed: {report.describe()}")
                return
            session = SecureSession(
                local_session_id=self._local_session_id,
                peer_session_id=self._peer_session_id,
                keys=derive_session_keys(self._prover.ke, b""),  # type: ignore[union-attr]
                is_initiator=True,
                auth_mode=AuthMode.PASE,
                peer_parameters=self._peer_parameters,
                peer_address=message.session.peer_address,
            )
            for evicted in self.manager.sessions.add(session):
                self.manager.drop_session(evicted)
            self._finish(exchange, session, "")

    def on_closed(self, exchange: Exchange, reason: str) -> None:
        if self.result is None and self.error is None:
            self.error = f"PASE failed: {reason}"
            if self.on_done:
                self.on_done(None, self.error)
