"""Two network namespaces joined by a slow, lossy link: what a Thread mesh behind a border router
looks like to a provider, made without netem (this kernel has none).

Each namespace gets a TUN device; one process (``python -m tests.interop.slow_link``) holds both
and carries every IP packet from one to the other after a one-way delay drawn between ``--delay
MIN MAX``, in order (a later packet never overtakes an earlier one: a mesh queues), and drops each
with the loss share it was last told on stdin (``loss 0.03``). mDNS (UDP port 5353) is carried
with the delay but never dropped, as the nftables loss rules of the other benchmarks spare it.
``record FILE`` on stdin writes one JSON line per Matter datagram from then on (``record -``
stops): the time, the direction, the session id and message counter from the header in the clear,
the length, and whether it was dropped: :func:`recoveries` reads it. On EOF or SIGTERM it prints
one JSON line of counts.

Only addresses inside the namespaces are used; they are created and removed by the caller.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import heapq
import itertools
import json
import os
import random
import selectors
import signal
import struct
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from ota_provider.core.codec.message import MessageError, MessageHeader
from tests.interop.netns import CONTROLLER_V4, CONTROLLER_V6, PROVIDER_V4, PROVIDER_V6, NetnsPair, _ip, enter_namespace

__all__ = ["SlowLinkPair"]

REPO = Path(__file__).resolve().parents[2]
TUNSETIFF = 0x400454CA
IFF_TUN, IFF_NO_PI = 0x0001, 0x1000
MDNS_PORT = 5353


def _open_tun(namespace: str, name: str) -> int:
    """A TUN device named ``name`` in ``namespace``, gone when the descriptor closes."""
    enter_namespace(namespace)
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    return fd


def _udp_payload(packet: bytes) -> tuple[int, int] | None:
    """(destination port, offset of the payload) of a UDP packet: IPv6 without extension headers
    (mDNS and Matter use none) or IPv4; None for anything else."""
    version = packet[0] >> 4
    if version == 6 and len(packet) >= 48 and packet[6] == 17:
        start = 48
    elif version == 4 and len(packet) >= 28 and packet[9] == 17:
        start = (packet[0] & 0x0F) * 4 + 8
    else:
        return None
    if len(packet) < start:
        return None
    return struct.unpack_from("!H", packet, start - 6)[0], start


def _is_mdns(packet: bytes) -> bool:
    udp = _udp_payload(packet)
    return udp is not None and udp[0] == MDNS_PORT


def _matter_header(packet: bytes) -> tuple[int, int, int] | None:
    """(session id, message counter, UDP payload length) of a Matter datagram, None for anything else."""
    udp = _udp_payload(packet)
    if udp is None or udp[0] == MDNS_PORT:
        return None
    try:
        header, _ = MessageHeader.decode(packet[udp[1] :])
    except MessageError:
        return None
    return header.session_id, header.message_counter, len(packet) - udp[1]


def _relay(args: argparse.Namespace) -> int:
    ends = {
        "to_controller": _open_tun(args.provider_ns, args.provider_tun),
        "to_provider": _open_tun(args.controller_ns, args.controller_tun),
    }
    fds = {ends["to_controller"]: ends["to_provider"], ends["to_provider"]: ends["to_controller"]}
    rng = random.Random(args.seed)
    loss = 0.0
    counts = {"carried": 0, "dropped": 0}
    queue: list[tuple[float, int, int, bytes]] = []  # (deliver at, order, to fd, packet)
    last = dict.fromkeys(fds, 0.0)  # the latest delivery time per outgoing fd: order is kept
    order = itertools.count()
    selector = selectors.DefaultSelector()
    for fd in fds:
        selector.register(fd, selectors.EVENT_READ)
    selector.register(sys.stdin, selectors.EVENT_READ)
    stopping = False
    record = None  # the open file of ``record FILE``
    pending = b""  # what stdin gave beyond the last whole command
    names = {ends["to_controller"]: "p2c", ends["to_provider"]: "c2p"}  # read from the provider's tun: p2c

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    print(json.dumps({"ready": True}), flush=True)
    while not stopping:
        now = time.monotonic()
        while queue and queue[0][0] <= now:
            _, _, to, packet = heapq.heappop(queue)
            with contextlib.suppress(OSError):  # the device went down (the namespace is being deleted)
                os.write(to, packet)
        timeout = max(0.0, queue[0][0] - now) if queue else 0.5
        for key, _ in selector.select(timeout):
            if key.fd == sys.stdin.fileno():
                chunk = os.read(key.fd, 4096)  # not readline: two commands may come in one read
                if not chunk:
                    stopping = True
                pending += chunk
                while b"\n" in pending:
                    line, pending = pending.split(b"\n", 1)
                    command, _, value = line.decode().partition(" ")
                    if command == "loss":
                        loss = float(value)
                    elif command == "record":
                        if record is not None:
                            record.close()
                        record = None if value == "-" else open(value, "w")  # noqa: SIM115 (closed at the next)
                        print(json.dumps({"record": value}), flush=True)  # the previous file is complete
                continue
            fd = key.fd
            while True:
                try:
                    packet = os.read(fd, 65535)
                except BlockingIOError:
                    break
                if not packet:
                    break
                dropped = not _is_mdns(packet) and rng.random() < loss
                if record is not None:
                    header = _matter_header(packet)
                    if header is not None:
                        record.write(json.dumps([round(time.monotonic(), 6), names[fd], *header, dropped]) + "\n")
                if dropped:
                    counts["dropped"] += 1
                    continue
                counts["carried"] += 1
                to = fds[fd]
                at = max(time.monotonic() + rng.uniform(args.delay_min, args.delay_max), last[to])
                last[to] = at
                heapq.heappush(queue, (at, next(order), to, packet))
    if record is not None:
        record.close()
    print(json.dumps(counts), flush=True)
    return 0


@dataclass
class SlowLinkPair(NetnsPair):
    """A :class:`NetnsPair` whose link is the TUN relay above, not a veth."""

    relay: subprocess.Popen | None = field(default=None, repr=False)

    @classmethod
    def create_slow(cls, delay: tuple[float, float] = (0.030, 0.150), seed: int = 1) -> SlowLinkPair:
        tag = uuid.uuid4().hex[:6]
        pair = cls(f"ota-p-{tag}", f"ota-c-{tag}", f"tp{tag}", f"tc{tag}")
        _ip("netns", "add", pair.provider)
        _ip("netns", "add", pair.controller)
        try:
            pair.relay = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tests.interop.slow_link",
                    "--provider-ns",
                    pair.provider,
                    "--controller-ns",
                    pair.controller,
                    "--provider-tun",
                    pair.provider_if,
                    "--controller-tun",
                    pair.controller_if,
                    "--delay",
                    str(delay[0]),
                    str(delay[1]),
                    "--seed",
                    str(seed),
                ],
                cwd=REPO,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            assert pair.relay.stdout is not None
            if json.loads(pair.relay.stdout.readline() or "{}").get("ready") is not True:
                raise RuntimeError("the slow link's relay did not start")
            for ns, dev, v6, v4 in (
                (pair.provider, pair.provider_if, PROVIDER_V6, PROVIDER_V4),
                (pair.controller, pair.controller_if, CONTROLLER_V6, CONTROLLER_V4),
            ):
                _ip("-n", ns, "link", "set", "lo", "up")
                _ip("-n", ns, "link", "set", dev, "multicast", "on", "up")
                _ip("-n", ns, "addr", "add", f"{v6}/64", "dev", dev, "nodad")
                _ip("-n", ns, "addr", "add", f"{v4}/24", "dev", dev)
            time.sleep(0.5)  # nodad: the ULAs are usable at once; mDNS gets its link-local meanwhile
        except BaseException:
            pair.delete()
            raise
        return pair

    def set_loss(self, share: float) -> None:
        """Drop ``share`` of the packets each way from now on (mDNS spared)."""
        assert self.relay is not None and self.relay.stdin is not None
        self.relay.stdin.write(f"loss {share}\n")
        self.relay.stdin.flush()

    def record(self, path: Path | None) -> None:
        """Record every Matter datagram to ``path`` from now on (None: stop)."""
        assert self.relay is not None and self.relay.stdin is not None
        assert self.relay.stdout is not None
        self.relay.stdin.write(f"record {path or '-'}\n")
        self.relay.stdin.flush()
        self.relay.stdout.readline()  # {"record": ...}: the file before is closed

    def delete(self) -> None:
        if self.relay is not None:
            self.relay.terminate()
            try:
                self.relay.wait(5)
            except subprocess.TimeoutExpired:
                self.relay.kill()
            self.relay = None
        super().delete()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--provider-ns", required=True)
    parser.add_argument("--controller-ns", required=True)
    parser.add_argument("--provider-tun", required=True)
    parser.add_argument("--controller-tun", required=True)
    parser.add_argument("--delay", nargs=2, type=float, metavar=("MIN", "MAX"), default=(0.03, 0.15))
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    args.delay_min, args.delay_max = args.delay
    return _relay(args)


if __name__ == "__main__":
    sys.exit(main())
