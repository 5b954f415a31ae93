"""A secured echo service on the "for testing" protocol id: answers each request with its payload.

Used by the transport tests, the secure-channel benchmarks and the requestor client's
connectivity check; it carries no product behaviour.
"""

from __future__ import annotations

from ..codec.protocols import ProtocolId
from .manager import Exchange, Message

__all__ = ["ECHO_PROTOCOL", "ECHO_REQUEST", "ECHO_RESPONSE", "EchoServer"]

ECHO_PROTOCOL = ProtocolId.FOR_TESTING
ECHO_REQUEST = 0x01
ECHO_RESPONSE = 0x02


class EchoServer:
    def __init__(self) -> None:
        self.requests = 0

    def on_unsolicited(self, exchange: Exchange, message: Message) -> None:
        if message.opcode == ECHO_REQUEST:
            self.requests += 1
            exchange.send(ECHO_RESPONSE, message.payload)
        exchange.close("echoed")
