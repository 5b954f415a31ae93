#!/usr/bin/env python3
"""Session establishment and secured round-trip figures.

* PASE and CASE handshake time, in process (sans-IO, no network): the responder's CPU time
  per handshake is measured separately from the initiator's.
* Secured echo round trip over real UDP on loopback between two asyncio endpoints.

Prints one line per figure and a JSON summary last. Nothing here asserts a time.
Run: ``.venv/bin/python benchmarks/bench_secure_channel.py``.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time

from ota_provider.core.codec.protocols import ProtocolId
from ota_provider.core.exchange.driver import AsyncExchange, ExchangeDriver
from ota_provider.core.exchange.echo import ECHO_PROTOCOL, ECHO_REQUEST, EchoServer
from ota_provider.core.exchange.manager import ExchangeManager
from ota_provider.core.fabric.authority import FabricAuthority
from ota_provider.core.securechannel.case_initiator import CaseInitiator
from ota_provider.core.securechannel.case_responder import CaseResponder
from ota_provider.core.securechannel.connect import establish_pase
from ota_provider.core.securechannel.pase_credentials import PaseCredentials
from ota_provider.core.securechannel.pase_initiator import PaseInitiator
from ota_provider.core.securechannel.pase_responder import PaseResponder
from ota_provider.core.securechannel.server import SecureChannelServer

NODE, CLIENT = ("node", 1), ("client", 2)


class TimedManager(ExchangeManager):
    """Accumulates the CPU time spent inside receive() (the responder's handshake work)."""

    cpu = 0.0

    def receive(self, data, address, now):
        start = time.process_time()
        super().receive(data, address, now)
        self.cpu += time.process_time() - start


def _shuttle(a: ExchangeManager, b: ExchangeManager) -> None:
    moved = True
    while moved:
        moved = False
        for source, target, source_address in ((a, b, CLIENT), (b, a, NODE)):
            for out in source.take_outgoing():
                moved = True
                target.receive(out.data, source_address, 0.0)


def bench_pase(rounds: int) -> tuple[float, float]:
    credentials = PaseCredentials.from_passcode(20202021, b"SPAKE2P Key Salt", 1000)
    node = TimedManager()
    node.register(ProtocolId.SECURE_CHANNEL, SecureChannelServer(pase=PaseResponder(node, lambda: credentials)))
    client = ExchangeManager()
    walls = []
    for _ in range(rounds):
        start = time.perf_counter()
        initiator = PaseInitiator(client, 20202021)
        initiator.start(NODE)
        _shuttle(client, node)
        assert initiator.result is not None, initiator.error
        walls.append(time.perf_counter() - start)
    return statistics.median(walls), node.cpu / rounds


def bench_case(rounds: int) -> tuple[float, float]:
    authority = FabricAuthority(fabric_id=0x1D)
    node_fabric, client_fabric = authority.join(0x64), authority.join(0x65)
    node = TimedManager()
    node.register(ProtocolId.SECURE_CHANNEL, SecureChannelServer(case=CaseResponder(node, lambda: [node_fabric])))
    client = ExchangeManager()
    walls = []
    for _ in range(rounds):
        start = time.perf_counter()
        initiator = CaseInitiator(client, client_fabric, 0x64)
        initiator.start(NODE)
        _shuttle(client, node)
        assert initiator.result is not None, initiator.error
        walls.append(time.perf_counter() - start)
    return statistics.median(walls), node.cpu / rounds


async def bench_echo(rounds: int) -> tuple[float, float]:
    credentials = PaseCredentials.from_passcode(20202021, b"SPAKE2P Key Salt", 1000)
    node_manager = ExchangeManager()
    node_manager.register(
        ProtocolId.SECURE_CHANNEL, SecureChannelServer(pase=PaseResponder(node_manager, lambda: credentials))
    )
    node_manager.register(ECHO_PROTOCOL, EchoServer())
    node = await ExchangeDriver.open(node_manager, port=0, host="::1")
    client = await ExchangeDriver.open(ExchangeManager(), port=0, host="::1")
    session = await establish_pase(client, ("::1", node.endpoint.port, 0, 0), 20202021)
    rtts = []
    for i in range(rounds):
        exchange = AsyncExchange(client, session, ECHO_PROTOCOL)
        start = time.perf_counter()
        await exchange.request(ECHO_REQUEST, b"x" * 64 + i.to_bytes(4, "little"))
        rtts.append(time.perf_counter() - start)
        exchange.close()
    node.close()
    client.close()
    rtts.sort()
    return statistics.median(rtts), rtts[int(len(rtts) * 0.99) - 1]


def main() -> int:
    pase_wall, pase_cpu = bench_pase(20)
    case_wall, case_cpu = bench_case(20)
    echo_median, echo_p99 = asyncio.run(bench_echo(500))
    print(f"{'PASE handshake, both sides (median)':45s} {pase_wall * 1000:8.2f} ms")
    print(f"{'PASE responder CPU per handshake':45s} {pase_cpu * 1000:8.2f} ms")
    print(f"{'CASE handshake, both sides (median)':45s} {case_wall * 1000:8.2f} ms")
    print(f"{'CASE responder CPU per handshake':45s} {case_cpu * 1000:8.2f} ms")
    print(f"{'secured echo RTT over UDP loopback (median)':45s} {echo_median * 1000:8.3f} ms")
    print(f"{'secured echo RTT over UDP loopback (p99)':45s} {echo_p99 * 1000:8.3f} ms")
    summary = {
        "benchmark": "secure_channel",
        "pase_handshake_ms": round(pase_wall * 1000, 2),
        "pase_responder_cpu_ms": round(pase_cpu * 1000, 2),
        "case_handshake_ms": round(case_wall * 1000, 2),
        "case_responder_cpu_ms": round(case_cpu * 1000, 2),
        "echo_rtt_median_ms": round(echo_median * 1000, 3),
        "echo_rtt_p99_ms": round(echo_p99 * 1000, 3),
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
