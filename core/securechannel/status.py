"""StatusReports on a secure-channel exchange."""

from __future__ import annotations

from ..codec.protocols import ProtocolId, SecureChannelOpcode
from ..codec.status_report import GeneralCode, SecureChannelStatus, StatusReport
from ..exchange.manager import Exchange

__all__ = ["send_busy", "send_status"]


def send_status(exchange: Exchange, general: GeneralCode, code: SecureChannelStatus, *, reliable: bool = True) -> None:
    """Answer on ``exchange``. A peer's message on the exchange shows that our last one arrived even if
    its ack did not (a Sigma3 answers our Sigma2), so our unacknowledged message is superseded rather
    than left to clash with the answer."""
    if reliable and exchange.retransmit is not None:
        exchange.supersede()
    report = StatusReport(general, ProtocolId.SECURE_CHANNEL, code)
    exchange.send(SecureChannelOpcode.STATUS_REPORT, report.encode(), reliable=reliable)


def send_busy(exchange: Exchange, wait_ms: int) -> None:
    """Busy with the minimum time to wait before trying again (Core spec 4.11.1.4), unreliable: it costs
    the responder no retransmission state, and an initiator that misses it retransmits its request."""
    report = StatusReport(GeneralCode.BUSY, ProtocolId.SECURE_CHANNEL, SecureChannelStatus.BUSY,
                          wait_ms.to_bytes(2, "little"))  # fmt: skip
    exchange.send(SecureChannelOpcode.STATUS_REPORT, report.encode(), reliable=False)
