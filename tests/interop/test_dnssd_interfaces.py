"""A multi-homed provider answers on each interface with that interface's addresses only.

The provider's namespace has two veth links, to a "bench" network and to an "other" network
(think docker or VPN on the bench PC). An mDNS lookup from each network must see only the
provider's addresses on that network: an address from the other one is unreachable there.
"""

from __future__ import annotations

import ipaddress
import json
import subprocess
import sys
import uuid

import pytest

from tests.interop.netns import _ip, pair_or_skip
from tests.interop.peers import REPO, Provider

OTHER_PROVIDER_V6, OTHER_PEER_V6 = "fd42:beef::2", "fd42:beef::1"
OTHER_PROVIDER_V4, OTHER_PEER_V4 = "169.254.78.2", "169.254.78.1"


@pytest.fixture(scope="module")
def two_networks():
    pairs = pair_or_skip()
    pair = next(pairs)
    other, tag = f"ota-o-{uuid.uuid4().hex[:6]}", uuid.uuid4().hex[:6]
    veth_p, veth_o = f"wp{tag}", f"wo{tag}"
    try:
        _ip("netns", "add", other)
        _ip("link", "add", veth_p, "type", "veth", "peer", "name", veth_o)
        _ip("link", "set", veth_p, "netns", pair.provider)
        _ip("link", "set", veth_o, "netns", other)
        for ns, dev, v6, v4 in (
            (pair.provider, veth_p, OTHER_PROVIDER_V6, OTHER_PROVIDER_V4),
            (other, veth_o, OTHER_PEER_V6, OTHER_PEER_V4),
        ):
            _ip("-n", ns, "addr", "add", f"{v6}/64", "dev", dev, "nodad")
            _ip("-n", ns, "addr", "add", f"{v4}/24", "dev", dev)
            _ip("-n", ns, "link", "set", "lo", "up")
            _ip("-n", ns, "link", "set", dev, "up")
        subprocess.run(["sleep", "2"], check=True)  # link-local addresses leave "tentative"
        yield pair, other
    finally:
        subprocess.run(["ip", "netns", "del", other], capture_output=True, check=False)
        pairs.close()


def lookup(namespace: str) -> list[str]:
    result = subprocess.run(
        ["ip", "netns", "exec", namespace, sys.executable, "-m", "tests.interop.dnssd_lookup", "3840"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    answer = json.loads(result.stdout.strip().splitlines()[-1]) if result.stdout.strip() else {"error": result.stderr}
    assert "addresses" in answer, answer
    return answer["addresses"]


def provider_addresses(namespace: str, device_prefix: str) -> set[str]:
    shown = subprocess.run(["ip", "-n", namespace, "-j", "addr"], capture_output=True, text=True, check=True)
    return {
        a["local"]
        for link in json.loads(shown.stdout)
        if link["ifname"].startswith(device_prefix)
        for a in link.get("addr_info", [])
    }


def test_each_network_hears_only_the_provider_addresses_on_it(two_networks, tmp_path):
    pair, other = two_networks
    provider = Provider(pair, tmp_path / "state")
    provider.start()
    try:
        bench_side = lookup(pair.controller)
        other_side = lookup(other)
    finally:
        provider.stop()
    bench = provider_addresses(pair.provider, "vp")
    elsewhere = provider_addresses(pair.provider, "wp")
    strip = [str(ipaddress.ip_address(a.split("%")[0])) for a in bench_side]
    assert strip and set(strip) <= bench, (bench_side, bench)
    strip = [str(ipaddress.ip_address(a.split("%")[0])) for a in other_side]
    assert strip and set(strip) <= elsewhere, (other_side, elsewhere)
