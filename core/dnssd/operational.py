"""Finding a commissioned node on IP: its operational instance ``<CompressedFabricID>-<NodeID>``
under ``_matter._tcp`` (Core spec 4.3.2), as the SDK's commissioner does after a device given
network credentials over BLE has joined the network (its "FindOperational" stage).

A device that has just joined may not have announced itself yet, or its first answers may be lost
while its radio settles: the query is repeated until the deadline.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket

from zeroconf import IPVersion
from zeroconf.asyncio import AsyncServiceInfo, AsyncZeroconf

__all__ = ["OPERATIONAL_SERVICE", "find_operational"]

OPERATIONAL_SERVICE = "_matter._tcp.local."
QUERY_MS = 2000  # one round of questions; a fresh one follows until the deadline


def _addresses(info: AsyncServiceInfo) -> list[tuple]:
    """Socket addresses, routable IPv6 first, then link-local, then IPv4 (mapped, as our socket is dual-stack)."""
    out: list[tuple[int, tuple]] = []
    for text in info.parsed_scoped_addresses(IPVersion.All):
        host, _, zone = text.partition("%")
        ip = ipaddress.ip_address(host)
        if ip.version == 4:
            out.append((2, (f"::ffff:{ip}", info.port, 0, 0)))
        else:
            scope = int(zone) if zone.isdigit() else (socket.if_nametoindex(zone) if zone else 0)
            out.append((1 if ip.is_link_local else 0, (str(ip), info.port, 0, scope)))
    return [address for _, address in sorted(out, key=lambda item: item[0])]


async def find_operational(instance: str, *, timeout: float, zeroconf: AsyncZeroconf | None = None) -> list[tuple]:
    """The addresses of ``instance`` (``<CFID>-<NodeID>``, upper-case hex), or [] at ``timeout``."""
    own = zeroconf is None
    zc = zeroconf or AsyncZeroconf(ip_version=IPVersion.All)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    try:
        while (left := deadline - loop.time()) > 0:
            info = AsyncServiceInfo(OPERATIONAL_SERVICE, f"{instance}.{OPERATIONAL_SERVICE}")
            if await info.async_request(zc.zeroconf, int(min(left, QUERY_MS / 1000) * 1000)):
                addresses = _addresses(info)
                if addresses and info.port:
                    return addresses
            await asyncio.sleep(min(0.2, max(0.0, deadline - loop.time())))
        return []
    finally:
        if own:
            await zc.async_close()
