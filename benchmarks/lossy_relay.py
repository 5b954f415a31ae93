#!/usr/bin/env python3
"""A UDP relay that loses and delays datagrams: the lossy link this machine's kernel cannot make
(no netem), as its own process.

Requestors send to the relay; each requestor address gets its own upstream socket to the provider,
so the provider sees one peer per requestor, as it would through a router. Every datagram is
dropped with probability ``--loss`` in each direction, independently, and the others are held
``--delay`` seconds, give or take ``--jitter`` (a seeded generator, so runs compare). On SIGTERM it
prints one JSON line of counts (forwarded and dropped, each way).

``--record FILE`` writes, for each datagram from the provider, its session id, message counter and
a digest: the header is in the clear, so a counter reused with other bytes (a reused nonce) shows.

Run: ``python benchmarks/lossy_relay.py --to [::1]:5540 --loss 0.05`` prints ``{"port": N}`` first,
the port to point requestors at. :class:`RelayProcess` does that from Python.
"""

from __future__ import annotations

import argparse
import hashlib
import heapq
import itertools
import json
import random
import selectors
import signal
import socket
import struct
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import TextIO

__all__ = ["Relay", "RelayProcess"]


class Relay:
    """Runs in :meth:`serve` until :meth:`stop` (SIGTERM in the command)."""

    def __init__(
        self,
        upstream: tuple[str, int],
        loss: float,
        *,
        delay: float = 0.0,
        jitter: float = 0.0,
        seed: int = 1,
        host: str = "::1",
        record: TextIO | None = None,
    ) -> None:
        self.upstream = upstream
        self.loss, self.delay, self.jitter = loss, delay, jitter
        self.random = random.Random(seed)
        self.selector = selectors.DefaultSelector()
        self.downstream = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
        self.downstream.bind((host, 0))
        self.port = self.downstream.getsockname()[1]
        self.selector.register(self.downstream, selectors.EVENT_READ, None)
        self.peers: dict[tuple, socket.socket] = {}  # requestor address -> its upstream socket
        self.counts: Counter[str] = Counter()
        self.running = True
        self.record = record  # a line per datagram from the provider: its session id, counter and digest
        self._held: list[tuple[float, int, socket.socket, bytes, tuple | None]] = []  # (due, n, via, data, to)
        self._order = itertools.count()

    def _upstream_for(self, address: tuple) -> socket.socket:
        sock = self.peers.get(address)
        if sock is None:
            sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
            sock.connect(self.upstream)
            self.selector.register(sock, selectors.EVENT_READ, address)
            self.peers[address] = sock
        return sock

    def _forward(self, direction: str, via: socket.socket, data: bytes, to: tuple | None) -> None:
        if self.random.random() < self.loss:
            self.counts[f"{direction} dropped"] += 1
            return
        self.counts[f"{direction} forwarded"] += 1
        late = max(0.0, self.delay + self.random.uniform(-self.jitter, self.jitter)) if self.delay else 0.0
        if late:
            heapq.heappush(self._held, (time.monotonic() + late, next(self._order), via, data, to))
        else:
            self._send(via, data, to)

    def _send(self, via: socket.socket, data: bytes, to: tuple | None) -> None:
        try:
            via.send(data) if to is None else via.sendto(data, to)
        except OSError:  # the provider is not there (restarting): the datagram is lost
            self.counts["unreachable"] += 1

    def serve(self) -> None:
        while self.running:
            now = time.monotonic()
            while self._held and self._held[0][0] <= now:
                _, _, via, data, to = heapq.heappop(self._held)
                self._send(via, data, to)
            timeout = min(0.2, self._held[0][0] - now) if self._held else 0.2
            for key, _ in self.selector.select(timeout=max(0.0, timeout)):
                sock: socket.socket = key.fileobj  # type: ignore[assignment]
                try:
                    if key.data is None:
                        data, address = sock.recvfrom(65535)
                        self._forward("up", self._upstream_for(address), data, None)
                    else:
                        data = sock.recv(65535)
                        if self.record is not None:
                            self._record(data)
                        self._forward("down", self.downstream, data, key.data)
                except OSError:  # ICMP unreachable from a provider that is restarting
                    self.counts["unreachable"] += 1

    def _record(self, datagram: bytes) -> None:
        """The message header is in the clear (Core spec 4.4.1): flags, session id (LE), security
        flags, message counter (LE). A counter sent twice with different bytes would be a reused
        nonce; a retransmission repeats the bytes exactly."""
        if len(datagram) < 8:
            return
        session_id, counter = struct.unpack_from("<H", datagram, 1)[0], struct.unpack_from("<I", datagram, 4)[0]
        digest = hashlib.sha256(datagram).hexdigest()[:16]
        self.record.write(json.dumps([session_id, counter, digest]) + "\n")  # type: ignore[union-attr]
        self.record.flush()  # type: ignore[union-attr]

    def stop(self) -> None:
        self.running = False


class RelayProcess:
    """The relay in a process of its own, in front of a provider on ``[::1]:port``."""

    def __init__(
        self,
        port: int,
        loss: float,
        *,
        seed: int = 1,
        delay: float = 0.0,
        jitter: float = 0.0,
        record: Path | None = None,
    ) -> None:
        command = [
            sys.executable,
            str(Path(__file__).resolve()),
            "--to",
            f"[::1]:{port}",
            "--loss",
            str(loss),
            "--seed",
            str(seed),
            "--delay",
            str(delay),
            "--jitter",
            str(jitter),
        ]
        if record is not None:
            command += ["--record", str(record)]
        self.proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        self.port: int = json.loads(self.proc.stdout.readline())["port"]

    def stop(self) -> dict[str, int]:
        """Stop it; what it forwarded and dropped, each way (``up``: from the requestors)."""
        self.proc.send_signal(signal.SIGTERM)
        out, _ = self.proc.communicate(timeout=10)
        return json.loads(out.strip().splitlines()[-1]) if out.strip() else {}


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host.strip("[]"), int(port)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--to", type=_address, required=True, metavar="[HOST]:PORT", help="the provider")
    parser.add_argument("--loss", type=float, default=0.05, help="drop probability each way (default 0.05)")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds each datagram is held (default 0)")
    parser.add_argument("--jitter", type=float, default=0.0, help="give or take this many seconds")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--record",
        type=Path,
        metavar="FILE",
        help="write [session id, message counter, digest] of each datagram from the provider",
    )
    args = parser.parse_args()
    record = args.record.open("a") if args.record else None
    relay = Relay(args.to, args.loss, delay=args.delay, jitter=args.jitter, seed=args.seed, record=record)
    signal.signal(signal.SIGTERM, lambda *_: relay.stop())
    print(json.dumps({"port": relay.port}), flush=True)
    relay.serve()
    print(json.dumps(dict(relay.counts)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
