"""Per-interface answers: each interface's copy of a packet keeps only its own addresses."""

from __future__ import annotations

import ipaddress
import socket

from zeroconf import DNSAddress, DNSOutgoing, DNSPointer
from zeroconf.const import _CLASS_IN, _FLAGS_AA, _FLAGS_QR_RESPONSE, _TYPE_A, _TYPE_AAAA, _TYPE_PTR

from ota_provider.core.dnssd.scoping import InterfaceAddresses, scope_answers_per_interface, without_foreign_addresses

HOST = "ABCDEF0123456789.local."
LAN, DOCKER = socket.inet_pton(socket.AF_INET, "192.0.2.10"), socket.inet_pton(socket.AF_INET, "198.51.100.7")
LAN6 = socket.inet_pton(socket.AF_INET6, "2001:db8::10")


def answer() -> DNSOutgoing:
    out = DNSOutgoing(_FLAGS_QR_RESPONSE | _FLAGS_AA)
    out.add_answer_at_time(DNSPointer("_matter._tcp.local.", _TYPE_PTR, _CLASS_IN, 120, f"X.{HOST}"), 0)
    for address, kind in ((LAN, _TYPE_A), (DOCKER, _TYPE_A), (LAN6, _TYPE_AAAA)):
        out.add_additional_answer(DNSAddress(HOST, kind, _CLASS_IN, 120, address))
    out.add_additional_answer(DNSAddress("other-host.local.", _TYPE_A, _CLASS_IN, 120, DOCKER))
    return out


def test_only_the_interface_addresses_of_our_host_are_kept():
    scoped = without_foreign_addresses(answer(), HOST, frozenset({LAN, LAN6}))
    ours = [r.address for r in scoped.additionals if r.name == HOST]
    assert ours == [LAN, LAN6]
    assert any(r.name == "other-host.local." for r in scoped.additionals)  # not ours: untouched
    assert len(scoped.answers) == 1


class FakeTransport:
    def __init__(self, bound, is_ipv6=False):
        self.sock_name, self.is_ipv6, self.multicast_index = (bound, 5353), is_ipv6, 0


class FakeZeroconf:
    def __init__(self, senders):
        self.engine = type("Engine", (), {"senders": senders})()
        self.sent = []

    def async_send(self, out, addr=None, port=5353, v6_flow_scope=(), transport=None):
        self.sent.append((transport, addr, sorted(r.address for r in out.additionals if r.name == HOST)))


def test_each_sender_and_each_unicast_answer_carries_its_own_interface():
    link_local = ipaddress.ip_network("fe80::/64")
    lan = InterfaceAddresses("eth0", 2, frozenset({LAN, LAN6}), (ipaddress.ip_network("192.0.2.0/24"), link_local))
    docker = InterfaceAddresses(
        "docker0", 3, frozenset({DOCKER}), (link_local, ipaddress.ip_network("198.51.100.0/24"))
    )
    to_lan, to_docker = FakeTransport("192.0.2.10"), FakeTransport("198.51.100.7")
    zc = FakeZeroconf([to_lan, to_docker])
    scope_answers_per_interface(zc, HOST, interfaces=lambda: [lan, docker])
    zc.async_send(answer())  # multicast: one copy per interface
    assert zc.sent == [(to_lan, None, sorted([LAN, LAN6])), (to_docker, None, [DOCKER])]
    zc.sent.clear()
    zc.async_send(answer(), "198.51.100.99", 5353)  # unicast to a querier on the docker network
    assert zc.sent == [(None, "198.51.100.99", [DOCKER])]
    zc.sent.clear()
    zc.async_send(answer(), "fe80::1", 5353, (0, 2))  # link-local: every link has fe80::/64; the scope decides
    assert zc.sent == [(None, "fe80::1", sorted([LAN, LAN6]))]
    zc.sent.clear()
    # An IPv4 querier heard on the dual-stack IPv6 socket is named by its IPv4-mapped address (this
    # once sent every address, found by a bench test under load: its lookup asked for a unicast answer).
    zc.async_send(answer(), "::ffff:198.51.100.99", 5353, (0, 0), FakeTransport("::", is_ipv6=True))
    assert zc.sent[0][1:] == ("::ffff:198.51.100.99", [DOCKER])
