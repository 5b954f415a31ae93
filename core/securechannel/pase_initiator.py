"""PASE, the commissioner's side (the SPAKE2+ prover): the bench's commissioner, the requestor
client and tests (Core spec 4.14.1; the exchange shape is in :mod:`.pase_credentials`)."""

from __future__ import annotations

import secrets
from collections.abc import Callable

from ..codec.protocols import ProtocolId, SecureChannelOpcode
from ..codec.schema import SchemaError
from ..codec.status_report import GeneralCode, SecureChannelStatus, StatusReport
from ..codec.tlv import TLVError
from ..crypto.primitives import CryptoError, sha256
from ..crypto.spake2p import Spake2pProver, compute_w0_w1
from ..exchange.manager import Exchange, ExchangeManager, Message
from ..session.secure import AuthMode, SecureSession, SessionParameters, derive_session_keys
from .messages import Pake1, Pake2, Pake3, PbkdfParamRequest, PbkdfParamResponse, SessionParameterStruct
from .pase_credentials import CONTEXT_PREFIX
from .sessions import NewSession
from .status import busy_wait, send_status

__all__ = ["PaseInitiator"]


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
        self.busy_wait: float | None = None  # seconds, when the responder answered Busy
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
            report = StatusReport.decode(message.payload)
            self.busy_wait = busy_wait(report)  # the caller may try again after that long
            self._finish(exchange, None, f"responder refused: {report.describe()}")
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
            session = NewSession(
                self._local_session_id,
                self._peer_session_id,
                derive_session_keys(self._prover.ke, b""),  # type: ignore[union-attr]
                is_initiator=True,
                auth_mode=AuthMode.PASE,
                peer_parameters=self._peer_parameters,
                peer_address=message.session.peer_address,
            ).open(self.manager)
            self._finish(exchange, session, "")

    def on_closed(self, exchange: Exchange, reason: str) -> None:
        if self.result is None and self.error is None:
            self.error = f"PASE failed: {reason}"
            if self.on_done:
                self.on_done(None, self.error)
