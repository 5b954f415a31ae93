"""The Secure Channel protocol handler: routes unsolicited session-establishment messages."""

from __future__ import annotations

import logging

from ..codec.protocols import SecureChannelOpcode
from ..codec.status_report import GeneralCode, SecureChannelStatus
from ..exchange.manager import Exchange, ExchangeDelegate, Message, ProtocolHandler
from .status import send_status

__all__ = ["SecureChannelServer"]

log = logging.getLogger(__name__)


class SecureChannelServer:
    """PBKDFParamRequest goes to PASE, Sigma1 to CASE; anything else opening an exchange is refused."""

    def __init__(self, pase: ProtocolHandler | None = None, case: ProtocolHandler | None = None) -> None:
        self.pase = pase
        self.case = case

    def on_unsolicited(self, exchange: Exchange, message: Message) -> ExchangeDelegate | None:
        opcode = message.opcode
        if opcode == SecureChannelOpcode.PBKDF_PARAM_REQUEST and self.pase is not None:
            return self.pase.on_unsolicited(exchange, message)
        if opcode == SecureChannelOpcode.CASE_SIGMA1 and self.case is not None:
            return self.case.on_unsolicited(exchange, message)
        if opcode in (SecureChannelOpcode.STATUS_REPORT, SecureChannelOpcode.STANDALONE_ACK):
            return None
        log.debug("refusing secure-channel opcode 0x%02x", opcode)
        send_status(exchange, GeneralCode.FAILURE, SecureChannelStatus.INVALID_PARAMETER, reliable=False)
        return None
