"""Two exchange managers on a simulated network with fixed session keys, and what they received."""

from __future__ import annotations

import random

from ota_provider.core.exchange.echo import EchoServer
from ota_provider.core.exchange.manager import ExchangeManager
from ota_provider.core.session.secure import AuthMode, SecureSession, SessionKeys
from tests.exchange.simnet import SimNet

A, B = ("a", 1), ("b", 2)


KEYS = SessionKeys(bytes(range(16)), bytes(range(16, 32)), bytes(16))


def paired(loss=0.0, seed=1, addresses=(A, B)):
    """Two managers sharing a secure session (keys preset, as after PASE); every RNG seeded."""
    net = SimNet(loss=loss, seed=seed)
    address_a, address_b = addresses
    a = net.add(address_a, ExchangeManager(rng=random.Random(seed + 100)))
    b = net.add(address_b, ExchangeManager(rng=random.Random(seed + 200)))
    sa = SecureSession(11, 22, KEYS, True, AuthMode.PASE, peer_address=address_b)
    sb = SecureSession(22, 11, KEYS, False, AuthMode.PASE, peer_address=address_a)
    a.sessions.add(sa)
    b.sessions.add(sb)
    return net, a, b, sa, sb


class RecordingEcho(EchoServer):
    def __init__(self):
        super().__init__()
        self.payloads = []

    def on_unsolicited(self, exchange, message):
        self.payloads.append(message.payload)
        return super().on_unsolicited(exchange, message)


class Collector:
    def __init__(self):
        self.messages = []
        self.closed = []

    def on_message(self, exchange, message):
        self.messages.append(message.payload)
        exchange.close()

    def on_closed(self, exchange, reason):
        self.closed.append(reason)
