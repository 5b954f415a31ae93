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


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, handler: DatagramHandler) -> None:
        self.handler = handler
        self.errors = 0

    def datagram_received(self, data: bytes, addr: tuple) -> None:
        try:
            self.handler(data, addr)
        except Exception:  # a handler bug must not stop the socket; it is logged and counted
            self.errors += 1
            log.exception("error while handling a datagram from %s", addr)

    def error_received(self, exc: Exception) -> None:  # ICMP errors, e.g. port unreachable
        log.debug("UDP error: %s", exc)


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


class UdpEndpoint:
    def __init__(self, transport: asyncio.DatagramTransport, protocol: _Protocol) -> None:
        self._transport = transport
        self._protocol = protocol
        self.sent = 0
        self.send_errors = 0

    @classmethod
    async def open(cls, handler: DatagramHandler, port: int = 5540, host: str | None = None) -> UdpEndpoint:
        loop = asyncio.get_running_loop()
        protocol = _Protocol(handler)
        if host is None or ":" in host:
            try:
                sock = _dual_stack_socket(host or "::", port)
                transport, _ = await loop.create_datagram_endpoint(lambda: protocol, sock=sock)
                return cls(transport, protocol)  # type: ignore[arg-type]
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
        transport, _ = await loop.create_datagram_endpoint(lambda: protocol, sock=sock)
        return cls(transport, protocol)  # type: ignore[arg-type]

    @property
    def local_address(self) -> tuple:
        return self._transport.get_extra_info("sockname")

    @property
    def port(self) -> int:
        return self.local_address[1]

    def send(self, data: bytes, address: tuple) -> None:
        family = self._transport.get_extra_info("socket").family
        if family == socket.AF_INET6 and "." in address[0] and ":" not in address[0]:
            address = ("::ffff:" + address[0], address[1], 0, 0)  # IPv4 peer on the dual-stack socket
        try:
            self._transport.sendto(data, address)
            self.sent += 1
        except OSError as exc:
            self.send_errors += 1
            log.debug("send to %s failed: %s", address, exc)

    def close(self) -> None:
        self._transport.close()
