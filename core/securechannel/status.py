"""StatusReports on a secure-channel exchange."""

from __future__ import annotations

from ..codec.protocols import ProtocolId, SecureChannelOpcode
from ..codec.status_report import GeneralCode, SecureChannelStatus, StatusReport
from ..exchange.manager import Exchange

__all__ = ["send_status"]


def send_status(exchange: Exchange, general: GeneralCode, code: SecureChannelStatus, *, reliable: bool = True) -> None:
    report = StatusReport(general, ProtocolId.SECURE_CHANNEL, code)
    exchange.send(SecureChannelOpcode.STATUS_REPORT, report.encode(), reliable=reliable)
