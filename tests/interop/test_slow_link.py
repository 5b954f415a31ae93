"""The Thread-like link of the loss benchmark (slow_link.py): packets cross it late, in order, and
lost at the share it is told, with mDNS spared; its record says which."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from tests.interop.netns import PROVIDER_V6, netns_unavailable
from tests.interop.slow_link import SlowLinkPair

ECHO = """
import socket
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.bind(("{host}", 7000))
while True:
    data, peer = s.recvfrom(2000)
    s.sendto(data, peer)
"""

PINGS = """
import json, socket, struct, time
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.settimeout(0.25)  # the longest round trip is 80 ms
trips, order = [], []
for n in range({count}):
    # a Matter-like datagram: flags 0, session id 7, security flags 0, counter n
    started = time.monotonic()
    s.sendto(struct.pack("<BHBI", 0, 7, 0, n) + bytes(40), ("{host}", 7000))
    try:
        data, _ = s.recvfrom(2000)
    except TimeoutError:
        continue
    trips.append(time.monotonic() - started)
    order.append(struct.unpack_from("<I", data, 4)[0])
print(json.dumps({{"trips": trips, "order": order}}))
"""


@pytest.fixture
def link():
    reason = netns_unavailable()
    if reason:
        pytest.skip(reason)
    pair = SlowLinkPair.create_slow((0.020, 0.040), seed=7)
    echo = subprocess.Popen([*pair.prefix(pair.provider), sys.executable, "-c", ECHO.format(host=PROVIDER_V6)])
    time.sleep(0.3)
    try:
        yield pair
    finally:
        echo.kill()
        pair.delete()


def _pings(pair, count):
    script = PINGS.format(count=count, host=PROVIDER_V6)
    done = subprocess.run(
        [*pair.prefix(pair.controller), sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout)


def test_packets_are_late_in_order_and_lost_at_the_share_given(link, tmp_path):
    clean = _pings(link, 20)
    assert len(clean["trips"]) == 20 and clean["order"] == list(range(20))
    assert all(0.040 <= trip < 0.2 for trip in clean["trips"])  # two crossings of 20-40 ms each

    record = tmp_path / "datagrams.jsonl"
    link.record(record)
    link.set_loss(0.3)
    lossy = _pings(link, 30)
    link.record(None)
    rows = [json.loads(line) for line in record.read_text().splitlines()]
    dropped = [row for row in rows if row[-1]]
    assert 0 < len(lossy["trips"]) < 30 and dropped  # 30% each way: about half the round trips fail
    assert len(rows) == 30 + len(lossy["trips"]) + sum(1 for row in dropped if row[1] == "p2c")
    assert {row[1] for row in rows} == {"c2p", "p2c"}
    assert all(row[2] == 7 for row in rows)  # the session id read from the clear header
    sent = sorted({row[3] for row in rows if row[1] == "c2p"})
    assert sent == list(range(30))  # every counter the pinger sent, as the record saw it
