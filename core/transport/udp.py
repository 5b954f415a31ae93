"""asyncio UDP endpoint for Matter (default port 5540).

One dual-stack IPv6 socket on ``[::]`` receives both IPv6 (link-local scope ids included:
the peer address tuple carries them) and IPv4 (as ``::ffff:a.b.c.d``). Where IPv6 is not
available, an IPv4 socket on ``0.0.0.0`` is used instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable

__all__ = ["MAX_UDP_PAYLOAD", "UdpEndpoint"]

log = logging.getLogger(__name__)

MAX_UDP_PAYLOAD = 1280  # Matter's IPv6 minimum-MTU budget for a message
DatagramHandler = Callable[[bytes, tuple], None]


# A burst (200 requestors opening CASE at once, each with a BlockQuery in flight) overflows the
# kernel's default 208 KiB receive buffer while the loop works through a handshake: every datagram
# dropped there costs its sender a retransmission. 4 MiB holds a few thousand; the kernel caps
# it at net.core.rmem_max.
RECEIVE_BUFFER = 4 * 1024 * 1024


def _roomy(sock: socket.socket) -> socket.socket:
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RECEIVE_BUFFER)
    return sock


def _dual_stack_socket(host: str, port: int) -> socket.socket:
    sock = _roomy(socket.socket(socket.AF_INET6, socket.SOCK_DGRAM))
    try:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        # No SO_REUSEADDR: on UDP it lets a second process bind the same port silently, and the
        # two would then share (and steal) each other's datagrams.
        sock.bind((host, port, 0, 0))
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


# Datagrams read per wake-up of the loop. asyncio's datagram transport reads one per turn of the
# loop, and a turn may also run a piece of handshake work (milliseconds of P-256): under a flood of
# cheap datagrams a requestor's next message then waited behind the whole socket backlog, one
# datagram per piece. Draining the socket each turn keeps every peer's latency to about one piece.
READ_BATCH = 256
# But one peer at a time (a lone transfer: BlockQuery in, Block out) leaves one datagram per wake-up,
# and the read that finds the socket empty after it costs a system call and an exception for every
# datagram. While wake-ups find one datagram, one is read each, and every PROBE_EVERY-th wake-up
# drains the socket again: one that finds more than one goes back to draining.
PROBE_EVERY = 8


class UdpEndpoint:
    """One UDP socket read in batches straight from the loop's selector; sends that would block are
    dropped and counted (MRP retransmits them, as any loss)."""

    def __init__(self, sock: socket.socket, handler: DatagramHandler) -> None:
        self._sock = sock
        self._dual_stack = sock.family == socket.AF_INET6  # read once: socket.family is a slow property
        self._handler = handler
        self._loop = asyncio.get_running_loop()
        self._closed = False
        self.sent = 0
        self.send_errors = 0
        self.errors = 0  # handler errors, logged
        self._lone = False  # wake-ups lately found one datagram each: read one, not until empty
        self._until_probe = 0
        self._loop.add_reader(sock.fileno(), self._read_ready)

    @classmethod
    async def open(cls, handler: DatagramHandler, port: int = 5540, host: str | None = None) -> UdpEndpoint:
        if host is None or ":" in host:
            try:
                return cls(_dual_stack_socket(host or "::", port), handler)
            except OSError as exc:
                if host is not None:
                    raise
                log.info("IPv6 unavailable (%s); using IPv4 only", exc)
        sock = _roomy(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
        try:
            sock.bind((host or "0.0.0.0", port))
        except OSError:
            sock.close()
            raise
        sock.setblocking(False)
        return cls(sock, handler)

    def _read_ready(self) -> None:
        if self._lone and self._until_probe:
            self._until_probe -= 1
            try:
                data, address = self._sock.recvfrom(65535)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # ICMP errors (port unreachable) surface here on some kernels
                log.debug("UDP receive error: %s", exc)
                return
            self._deliver(data, address)
            return
        read = 0
        for _ in range(READ_BATCH):
            try:
                data, address = self._sock.recvfrom(65535)
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:
                log.debug("UDP receive error: %s", exc)
                continue
            read += 1
            self._deliver(data, address)
            if self._closed:
                return
        self._lone, self._until_probe = read <= 1, PROBE_EVERY

    def _deliver(self, data: bytes, address: tuple) -> None:
        try:
            self._handler(data, address)
        except Exception:  # a handler bug must not stop the socket; it is logged and counted
            self.errors += 1
            log.exception("error while handling a datagram from %s", address)

    @property
    def local_address(self) -> tuple:
        return self._sock.getsockname()

    @property
    def port(self) -> int:
        return self.local_address[1]

    def send(self, data: bytes, address: tuple) -> None:
        if self._closed:
            return
        if self._dual_stack and "." in address[0] and ":" not in address[0]:
            address = ("::ffff:" + address[0], address[1], 0, 0)  # IPv4 peer on the dual-stack socket
        try:
            self._sock.sendto(data, address)
            self.sent += 1
        except OSError as exc:
            self.send_errors += 1
            log.debug("send to %s failed: %s", address, exc)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(Exception):
            self._loop.remove_reader(self._sock.fileno())
        self._sock.close()
