"""A stand-alone peer for the multi-process tests: runs as a child process over real UDP.

python -m tests.integration.udp_peer responder --loss 0.2 --seed 7
    PASE responder (passcode 20202021) + echo server; prints "PORT <n>" then "SESSION ..."
    lines as sessions are established, and echoes back over each new session.
python -m tests.integration.udp_peer initiator --port N --count 50 --loss 0.2
    PASE initiator + echo client; prints one JSON summary line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from pathlib import Path

from ota_provider.core.exchange.driver import AsyncExchange, ExchangeDriver
from ota_provider.core.exchange.echo import ECHO_PROTOCOL, ECHO_REQUEST, EchoServer
from ota_provider.core.exchange.manager import ExchangeManager
from ota_provider.core.fabric.store import FabricStore
from ota_provider.core.node import MatterNode, NodeConfig
from ota_provider.core.securechannel.case_initiator import CaseInitiator
from ota_provider.core.securechannel.connect import establish_pase
from ota_provider.core.storage.database import Database
from ota_provider.core.transport.udp import UdpEndpoint

PASSCODE = 20202021


class RecordingEcho(EchoServer):
    def __init__(self) -> None:
        super().__init__()
        self.payloads: list[bytes] = []

    def on_unsolicited(self, exchange, message):
        self.payloads.append(message.payload)
        return super().on_unsolicited(exchange, message)


class LossyDriver(ExchangeDriver):
    """Drops a seeded share of incoming and outgoing datagrams, to test MRP across processes."""

    def __init__(self, manager, loss: float = 0.0, seed: int = 1, **kwargs) -> None:
        super().__init__(manager, **kwargs)
        self.loss = loss
        self.rng = random.Random(seed)
        self.dropped = 0

    def datagram_received(self, data, address):
        if self.rng.random() < self.loss:
            self.dropped += 1
            return
        super().datagram_received(data, address)

    def flush(self):
        assert self.endpoint is not None
        real_send = self.endpoint.send

        def lossy_send(data, address):
            if self.rng.random() < self.loss:
                self.dropped += 1
                return
            real_send(data, address)

        self.endpoint.send = lossy_send  # type: ignore[method-assign]
        try:
            super().flush()
        finally:
            self.endpoint.send = real_send  # type: ignore[method-assign]


async def open_driver(manager, loss, seed, port=0):
    driver = LossyDriver(manager, loss, seed)
    driver.endpoint = await UdpEndpoint.open(driver.datagram_received, port=port, host="::1")
    return driver


async def echo_many(driver, session, count, label) -> list[bool]:
    results = []
    for i in range(count):
        exchange = AsyncExchange(driver, session, ECHO_PROTOCOL)
        payload = f"{label} {i}".encode()
        try:
            reply = await exchange.request(ECHO_REQUEST, payload, timeout=30)
            results.append(reply.payload == payload)
        except (TimeoutError, ConnectionError):
            results.append(False)
        exchange.close()
    return results


QUIET = 15.0  # s: longer than MRP's five transmissions of one message take (about 10 s here)


async def wait_for_payloads(echo: RecordingEcho, expected: int, cap: float = 120.0) -> None:
    """Until ``expected`` payloads came, or none came for QUIET seconds: a message whose every
    transmission was lost never comes, and waiting the whole cap for it only made the run long."""
    deadline, count, last_change = time.monotonic() + cap, len(echo.payloads), time.monotonic()
    while len(echo.payloads) < expected and time.monotonic() < deadline:
        if len(echo.payloads) != count:
            count, last_change = len(echo.payloads), time.monotonic()
        elif time.monotonic() - last_change > QUIET:
            return
        await asyncio.sleep(0.05)


async def responder(args) -> None:
    state = args.state or tempfile.mkdtemp(prefix="udp-peer-")
    node = MatterNode(NodeConfig(storage=Path(state), passcode=PASSCODE, discriminator=3840, port=0, host="::1"))
    node.manager._rng = random.Random(args.seed)
    echo = RecordingEcho()
    sessions = []
    node.session_listeners.append(sessions.append)
    node.register(ECHO_PROTOCOL, echo)

    class ConfiguredLossyDriver(LossyDriver):
        def __init__(self, manager, **kwargs) -> None:
            super().__init__(manager, args.loss, args.seed, **kwargs)

    await node.start(ConfiguredLossyDriver if args.loss else ExchangeDriver)
    driver = node.driver
    print(f"PORT {node.port}", flush=True)
    served = 0
    while True:
        await asyncio.sleep(0.05)
        while served < len(sessions):
            session = sessions[served]
            served += 1
            print(f"SESSION {session.local_session_id}", flush=True)
            if args.echo_back:
                results = await echo_many(driver, session, args.echo_back, "from node")
                await wait_for_payloads(echo, args.expect)
                summary = {
                    "echo_back_ok": sum(results),
                    "received": [p.decode() for p in echo.payloads],
                    "drops": dict(node.manager.drops),
                    "dropped_by_loss": getattr(driver, "dropped", 0),
                }
                print(json.dumps(summary), flush=True)


async def initiator(args) -> None:
    manager = ExchangeManager(rng=random.Random(args.seed))
    echo = RecordingEcho()
    manager.register(ECHO_PROTOCOL, echo)
    driver = await open_driver(manager, args.loss, args.seed)
    start = time.perf_counter()
    if args.state:
        (fabric,) = FabricStore(Database.in_directory(args.state)).load()
        session = await establish_case(driver, ("::1", args.port, 0, 0), fabric, args.peer_node_id)
    else:
        session = await establish_pase(driver, ("::1", args.port, 0, 0), args.passcode, timeout=60)
    pase_seconds = time.perf_counter() - start
    results = await echo_many(driver, session, args.count, "from client")
    await wait_for_payloads(echo, args.expect_back)
    await asyncio.sleep(0.5)  # let the last acks go out
    print(
        json.dumps(
            {
                "pase_seconds": pase_seconds,
                "echo_ok": sum(results),
                "count": args.count,
                "received_back": [p.decode() for p in echo.payloads],
                "drops": dict(manager.drops),
                "dropped_by_loss": driver.dropped,
                "retransmissions": manager.retransmissions,
            }
        ),
        flush=True,
    )


async def establish_case(driver, address, fabric, peer_node_id):
    done = asyncio.get_running_loop().create_future()
    initiator = CaseInitiator(
        driver.manager, fabric, peer_node_id, on_done=lambda s, e: done.done() or done.set_result((s, e))
    )
    initiator.start(address)
    driver.flush()
    session, error = await asyncio.wait_for(done, 60)
    if session is None:
        raise ConnectionError(error)
    return session


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("role", choices=["responder", "initiator"])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--count", type=int, default=10)
    parser.add_argument("--echo-back", type=int, default=0)
    parser.add_argument("--expect-back", type=int, default=0)
    parser.add_argument("--expect", type=int, default=0)
    parser.add_argument("--loss", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--passcode", type=int, default=PASSCODE)
    parser.add_argument("--state", help="state directory holding the fabric(s) for CASE")
    parser.add_argument("--peer-node-id", type=lambda s: int(s, 0), default=0)
    args = parser.parse_args()
    try:
        asyncio.run(responder(args) if args.role == "responder" else initiator(args))
    except ConnectionError as exc:
        print(json.dumps({"error": str(exc)}), flush=True)
        return 1
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
