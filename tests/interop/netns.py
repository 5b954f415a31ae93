"""Two network namespaces joined by a veth pair, for tests with the SDK controller (INTEROP.md).

The SDK's mDNS ignores loopback, so discovery needs a real interface. Only addresses inside
these namespaces are used; they are created and removed by the test itself.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

PROVIDER_V6, CONTROLLER_V6 = "fd42:cafe::2", "fd42:cafe::1"
PROVIDER_V4, CONTROLLER_V4 = "169.254.77.2", "169.254.77.1"


CLONE_NEWNET = 0x40000000


def enter_namespace(namespace: str) -> None:
    """Move the calling thread (only it) into ``namespace``: the sockets it opens live there."""
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(f"/var/run/netns/{namespace}", os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns into {namespace}")
    finally:
        os.close(fd)


def netns_unavailable() -> str | None:
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None or shutil.which("unshare") is None:
        return "iproute2 (ip) and util-linux (unshare) are needed"
    return None


def pair_or_skip() -> Iterator[NetnsPair]:
    """For a pytest fixture: a fresh namespace pair, deleted afterwards; skip when unavailable."""
    reason = netns_unavailable()
    if reason:
        pytest.skip(reason)
    pair = NetnsPair.create()
    try:
        yield pair
    finally:
        pair.delete()


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


@dataclass
class NetnsPair:
    provider: str
    controller: str
    provider_if: str = ""  # the veth end in each namespace (matter.js is told which one to use for mDNS)
    controller_if: str = ""

    @classmethod
    def create(cls) -> NetnsPair:
        tag = uuid.uuid4().hex[:6]
        veth_p, veth_c = f"vp{tag}", f"vc{tag}"
        pair = cls(f"ota-p-{tag}", f"ota-c-{tag}", veth_p, veth_c)
        _ip("netns", "add", pair.provider)
        _ip("netns", "add", pair.controller)
        try:
            _ip("link", "add", veth_p, "type", "veth", "peer", "name", veth_c)
            _ip("link", "set", veth_p, "netns", pair.provider)
            _ip("link", "set", veth_c, "netns", pair.controller)
            for ns, dev, v6, v4 in (
                (pair.provider, veth_p, PROVIDER_V6, PROVIDER_V4),
                (pair.controller, veth_c, CONTROLLER_V6, CONTROLLER_V4),
            ):
                _ip("-n", ns, "addr", "add", f"{v6}/64", "dev", dev, "nodad")
                _ip("-n", ns, "addr", "add", f"{v4}/24", "dev", dev)
                _ip("-n", ns, "link", "set", "lo", "up")
                _ip("-n", ns, "link", "set", dev, "up")
            time.sleep(2)  # link-local addresses leave "tentative"
        except BaseException:
            pair.delete()
            raise
        return pair

    def prefix(self, ns: str) -> list[str]:
        return ["ip", "netns", "exec", ns]

    def delete(self) -> None:
        for ns in (self.provider, self.controller):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, check=False)
