"""The IM server's short answers: a StatusResponse, or one and the exchange closed."""

from __future__ import annotations

from ..codec.im_status import ImStatus
from ..codec.protocols import ImOpcode
from ..exchange.manager import Exchange
from .messages import StatusResponse

__all__ = ["refuse", "status_response"]


def status_response(exchange: Exchange, status: ImStatus) -> None:
    exchange.send(ImOpcode.STATUS_RESPONSE, StatusResponse(status).encode())


def refuse(exchange: Exchange, status: ImStatus, reason: str) -> None:
    """Answer with ``status`` and close the exchange (``reason`` is for the log)."""
    status_response(exchange, status)
    exchange.close(reason)
