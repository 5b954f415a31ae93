"""PASE, the node's side (the SPAKE2+ verifier): answers a commissioner's PBKDFParamRequest while a
commissioning window is open, and counts failed attempts (Core spec 4.14.1; the exchange shape is
in :mod:`.pase_credentials`)."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable

from ..codec.protocols import SecureChannelOpcode
from ..codec.schema import SchemaError
from ..codec.status_report import GeneralCode, SecureChannelStatus, StatusReport
from ..codec.tlv import TLVError
from ..crypto.primitives import CryptoError, sha256
from ..crypto.spake2p import Spake2pVerifierSession
from ..exchange.manager import Exchange, ExchangeManager, Message
from ..session.secure import AuthMode, SecureSession, SessionParameters, derive_session_keys
from ..session.unsecured import UnsecuredSession
from .messages import (
    Pake1,
    Pake2,
    Pake3,
    PbkdfParameters,
    PbkdfParamRequest,
    PbkdfParamResponse,
    SessionParameterStruct,
)
from .pase_credentials import CONTEXT_PREFIX, PaseCredentials
from .sessions import NewSession
from .status import Defer, defer_or_busy, send_status

__all__ = ["DEFAULT_MAX_FAILED_ATTEMPTS", "PaseResponder"]

log = logging.getLogger(__name__)

DEFAULT_MAX_FAILED_ATTEMPTS = 20


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
        defer: Defer | None = None,
    ) -> None:
        self.manager = manager
        self._credentials = credentials  # None while no commissioning window is open
        self.local_parameters = local_parameters or SessionParameters()
        self.on_established = on_established
        self.on_failed = on_failed
        self.max_failed_attempts = max_failed_attempts
        self.failed_attempts = 0
        self.defer = defer
        self.busy = 0  # requests answered Busy: the admission queue was full

    def on_unsolicited(self, exchange: Exchange, message: Message) -> _PaseResponderExchange | None:
        credentials = self._credentials()
        if not isinstance(message.session, UnsecuredSession):
            send_status(exchange, GeneralCode.FAILURE, SecureChannelStatus.INVALID_PARAMETER)
            return None
        if credentials is None or self.failed_attempts >= self.max_failed_attempts:
            send_status(exchange, GeneralCode.FAILURE, SecureChannelStatus.INVALID_PARAMETER)
            return None
        handler = _PaseResponderExchange(self, credentials)
        if self.defer is not None:  # the verifier's first share is public-key work: in turn, see admission.py
            if not defer_or_busy(self.defer, exchange, message, lambda: handler.on_request(exchange, message)):
                self.busy += 1
                return None
            return handler
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
        session = NewSession(
            self.local_session_id,
            self.peer_session_id,
            derive_session_keys(self.spake.ke, b""),
            is_initiator=False,
            auth_mode=AuthMode.PASE,
            peer_parameters=self.peer_parameters,
            peer_address=message.session.peer_address,
        ).open(self.owner.manager)
        self.local_session_id = 0  # the session holds it now
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
        if self.local_session_id:  # abandoned, timed out or evicted: its reserved id is free again
            self.owner.manager.sessions.release_id(self.local_session_id)
            self.local_session_id = 0
