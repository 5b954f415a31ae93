#!/usr/bin/env python3
"""A UDP relay that loses datagrams: the lossy link this machine's kernel cannot make (no netem).

Requestors send to the relay; each requestor address gets its own upstream socket to the provider,
so the provider sees one peer per requestor, as it would through a router. Every datagram is
dropped with probability ``--loss`` in each direction, independently (a seeded generator, so runs
compare). Counts of what was forwarded and dropped are printed as one JSON line on SIGTERM.

Run: ``python benchmarks/lossy_relay.py --to [::1]:5540 --loss 0.05`` prints ``{"port": N}`` first,
the port to point requestors at.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import selectors
import signal
import socket
import struct
import sys
from collections import Counter
from pathlib import Path
from typing import TextIO

__all__ = ["Relay"]


class Relay:
    """Sans-threads: :meth:`serve` runs until :meth:`stop` (or SIGTERM in the command)."""

    def __init__(self, upstream: tuple[str, int], loss: float, *, seed: int = 1, host: str = "::1",
                 record: TextIO | None = None) -> None:  # fmt: skip
        self.upstream = upstream
        self.loss = loss
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

    def _upstream_for(self, address: tuple) -> socket.socket:
        sock = self.peers.get(address)
        if sock is None:
            sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
            sock.connect(self.upstream)
            self.selector.register(sock, selectors.EVENT_READ, address)
            self.peers[address] = sock
        return sock

    def _lost(self, direction: str) -> bool:
        if self.random.random() < self.loss:
            self.counts[f"{direction} dropped"] += 1
            return True
        self.counts[f"{direction} forwarded"] += 1
        return False

    def serve(self) -> None:
        while self.running:
            for key, _ in self.selector.select(timeout=0.2):
                sock: socket.socket = key.fileobj  # type: ignore[assignment]
                try:
                    if key.data is None:
                        data, address = sock.recvfrom(65535)
                        if not self._lost("up"):
                            self._upstream_for(address).send(data)
                    else:
                        data = sock.recv(65535)
                        if self.record is not None:
                            self._record(data)
                        if not self._lost("down"):
                            self.downstream.sendto(data, key.data)
                except OSError:  # the provider is not there (restarting): the datagram is lost
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


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host.strip("[]"), int(port)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--to", type=_address, required=True, metavar="[HOST]:PORT", help="the provider")
    parser.add_argument("--loss", type=float, default=0.05, help="drop probability each way (default 0.05)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--record",
        type=Path,
        metavar="FILE",
        help="write [session id, message counter, digest] of each datagram from the provider",
    )
    args = parser.parse_args()
    record = args.record.open("a") if args.record else None
    relay = Relay(args.to, args.loss, seed=args.seed, record=record)
    signal.signal(signal.SIGTERM, lambda *_: relay.stop())
    print(json.dumps({"port": relay.port}), flush=True)
    relay.serve()
    print(json.dumps(dict(relay.counts)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
