"""StatusReports on a secure-channel exchange."""

from __future__ import annotations

from collections.abc import Callable

from ..codec.protocols import ProtocolId, SecureChannelOpcode
from ..codec.status_report import GeneralCode, SecureChannelStatus, StatusReport
from ..exchange.manager import Exchange, Message
from ..session.unsecured import UnsecuredSession
from .admission import BUSY_WAIT_MS, source_of

__all__ = ["Defer", "busy_wait", "defer_or_busy", "send_busy", "send_status"]

Defer = Callable[..., bool]  # (source host, work, always=False) -> queued; see admission.py


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
    exchange.send(SecureChannelOpcode.STATUS_REPORT, StatusReport.busy(wait_ms).encode(), reliable=False)


def defer_or_busy(
    defer: Defer, exchange: Exchange, message: Message, step: Callable[[], None], *, always: bool = False
) -> bool:
    """Queue a handshake step's public-key work for its turn and acknowledge the message now (so the
    peer does not retransmit while it waits); when the queue is full, answer Busy. False: Busy.
    ``always``: a later step of a handshake under way, queued whatever the bounds."""
    session = exchange.session
    unsecured = session if isinstance(session, UnsecuredSession) else None  # not stale while its step waits for us

    def work() -> None:
        if unsecured is not None:
            unsecured.awaiting_us -= 1
        if not exchange.closing:  # timed out or aborted while it waited
            step()

    if not defer(source_of(message), work, always=always):
        send_busy(exchange, BUSY_WAIT_MS)
        return False
    if unsecured is not None:
        unsecured.awaiting_us += 1
    exchange.acknowledge()
    return True


def busy_wait(report: StatusReport) -> float | None:
    """The seconds a Busy answer asks the initiator to wait before trying again, or None if the
    report is not Busy (Core spec 4.11.1.4: the minimum wait, milliseconds, in the protocol data)."""
    wait_ms = report.busy_wait_ms
    return None if wait_ms is None else max(wait_ms, 100) / 1000  # never a tight loop, whatever it asked
