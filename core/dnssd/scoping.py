"""Each interface answers with its own addresses only.

python-zeroconf keeps one address list per service and sends every multicast packet, unchanged,
on every interface. A bench PC with docker, VPN or a second NIC would then tell the device
under test about addresses it cannot reach, and a commissioner may well pick one of those
(the SDK's minimal mDNS answers per interface, with that interface's addresses). So the
Zeroconf instance's send path is wrapped: each interface's copy of a packet keeps only the
A/AAAA records of our host that belong to that interface; a unicast answer keeps those of the
interface whose subnet holds the querier. Other records pass unchanged.

This leans on zeroconf's engine (its per-interface senders), which is why zeroconf is pinned.
Anything unexpected there falls back to zeroconf's own behaviour, logged once.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass

import ifaddr
from zeroconf import DNSAddress, DNSOutgoing, Zeroconf

__all__ = [
    "InterfaceAddresses",
    "interfaces_now",
    "is_local_address",
    "scope_answers_per_interface",
    "without_foreign_addresses",
]

log = logging.getLogger(__name__)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class InterfaceAddresses:
    name: str
    index: int
    addresses: frozenset[bytes]  # packed, as in DNSAddress.address
    networks: tuple[Network, ...]

    def reaches(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address.split("%", maxsplit=1)[0])
        except ValueError:
            return False
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            # An IPv4 querier heard on zeroconf's dual-stack socket: "::ffff:169.254.77.1".
            ip = ip.ipv4_mapped
        return any(ip.version == net.version and ip in net for net in self.networks)


def interfaces_now() -> list[InterfaceAddresses]:
    found = []
    for adapter in ifaddr.get_adapters():
        packed, networks = set(), []
        for ip in adapter.ips:
            text = ip.ip if isinstance(ip.ip, str) else ip.ip[0]  # IPv6: (address, flowinfo, scope id)
            family = socket.AF_INET if ip.is_IPv4 else socket.AF_INET6
            packed.add(socket.inet_pton(family, text))
            networks.append(ipaddress.ip_network(f"{text}/{ip.network_prefix}", strict=False))
        found.append(InterfaceAddresses(adapter.nice_name, adapter.index or 0, frozenset(packed), tuple(networks)))
    return found


def is_local_address(address: str) -> bool:
    """``address`` (an IPv4-mapped one too) is one of this host's own: a loopback address or one
    on any interface now."""
    try:
        ip = ipaddress.ip_address(address.split("%", maxsplit=1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return True
    family = socket.AF_INET if ip.version == 4 else socket.AF_INET6
    packed = socket.inet_pton(family, str(ip))
    return any(packed in interface.addresses for interface in interfaces_now())


def without_foreign_addresses(out: DNSOutgoing, hostname: str, keep: frozenset[bytes]) -> DNSOutgoing:
    """A copy of ``out`` whose A/AAAA records for ``hostname`` are only those in ``keep``."""

    def ours_elsewhere(record) -> bool:
        return isinstance(record, DNSAddress) and record.name.lower() == hostname.lower() and record.address not in keep

    if not any(ours_elsewhere(r) for r, _ in out.answers) and not any(ours_elsewhere(r) for r in out.additionals):
        return out
    scoped = DNSOutgoing(out.flags, out.multicast, out.id)
    scoped.questions = list(out.questions)
    scoped.answers = [(r, t) for r, t in out.answers if not ours_elsewhere(r)]
    scoped.authorities = list(out.authorities)
    scoped.additionals = [r for r in out.additionals if not ours_elsewhere(r)]
    return scoped


def scope_answers_per_interface(
    zc: Zeroconf, hostname: str, interfaces: Callable[[], list[InterfaceAddresses]] | None = None
) -> None:
    # Read afresh for every send: mDNS sends are a few a second at most, and an interface (or a
    # link-local address finishing DAD) may have appeared since the last one.
    interfaces = interfaces or interfaces_now
    original = zc.async_send
    warned = False

    def interface_of_sender(transport, known: list[InterfaceAddresses]) -> InterfaceAddresses | None:
        bound = transport.sock_name[0]
        family = socket.AF_INET6 if transport.is_ipv6 else socket.AF_INET
        try:
            packed = socket.inet_pton(family, bound.split("%")[0])
        except (OSError, AttributeError):
            packed = b""
        for interface in known:
            if packed in interface.addresses:
                return interface
        index = getattr(transport, "multicast_index", 0)
        return next((i for i in known if index and i.index == index), None)

    def send(out, addr=None, port=5353, v6_flow_scope=(), transport=None):  # zeroconf's signature
        nonlocal warned
        try:
            known = interfaces()
            if addr is not None:  # unicast: the interface the querier is on
                scope = v6_flow_scope[1] if len(v6_flow_scope) == 2 else 0
                # A link-local querier is on every interface's fe80::/64: its scope id names the link,
                # else the socket the query came in on; a subnet decides only if one interface has it.
                reaching = [i for i in known if i.reaches(addr)]
                interface = (
                    next((i for i in known if scope and i.index == scope), None)
                    or (interface_of_sender(transport, known) if transport is not None else None)
                    or (reaching[0] if len(reaching) == 1 else None)
                )
                scoped = without_foreign_addresses(out, hostname, interface.addresses) if interface else out
                original(scoped, addr, port, v6_flow_scope, transport)
                return
            for sender in [transport] if transport is not None else list(zc.engine.senders):
                interface = interface_of_sender(sender, known)
                scoped = without_foreign_addresses(out, hostname, interface.addresses) if interface else out
                original(scoped, addr, port, v6_flow_scope, sender)
        except Exception:  # never lose an answer over the scoping: send it as zeroconf would
            if not warned:
                warned = True
                log.exception("per-interface DNS-SD answers unavailable; sending every address everywhere")
            original(out, addr, port, v6_flow_scope, transport)

    zc.async_send = send  # type: ignore[method-assign]
