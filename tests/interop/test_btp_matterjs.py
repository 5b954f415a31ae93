"""Our BTP central against an independent BTP: matter.js 0.17.9's own BtpSessionHandler as the
peripheral (tests/interop/matterjs/btp_peer.mjs), the BLE link replaced by a pipe.

Each C1 write of ours goes to matter.js as it is; each of its C2 indications comes back to us. It
echoes every Matter message reversed, so both directions are checked: segmentation and reassembly
at both segment sizes, its window and ours, acknowledgements piggybacked and standalone, sequence
numbers wrapping, and a pause longer than its acknowledgement timers.
"""

from __future__ import annotations

import queue
import subprocess
import threading
import time

import pytest

from ota_provider.core.transport.btp import SEND_ACK_TIMEOUT, BtpCentral
from tests.interop.matterjs_peers import MATTERJS, require_matterjs


class MatterJsPeripheral:
    def __init__(self, max_data_size: int) -> None:
        self.proc = subprocess.Popen(
            ["node", "btp_peer.mjs", str(max_data_size)],
            cwd=MATTERJS,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def write(self, data: bytes) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(f"w {data.hex()}\n")
        self.proc.stdin.flush()

    def indication(self, timeout: float) -> bytes | None:
        try:
            line = self.lines.get(timeout=timeout)
        except queue.Empty:
            return None
        assert not line.startswith("closed"), f"matter.js ended the BTP session: {line}"
        assert line.startswith("i "), line
        return bytes.fromhex(line[2:])

    def close(self) -> None:
        self.proc.kill()
        self.proc.wait(timeout=10)


@pytest.fixture
def peripheral(request):
    require_matterjs()
    peer = MatterJsPeripheral(request.param)
    yield peer
    peer.close()


def open_session(peer: MatterJsPeripheral, att_mtu: int) -> BtpCentral:
    central = BtpCentral(att_mtu=att_mtu)
    peer.write(central.start(time.monotonic()))
    response = peer.indication(timeout=10)
    assert response is not None, "no handshake response from matter.js"
    central.receive(response, time.monotonic())
    return central


def pump(central: BtpCentral, peer: MatterJsPeripheral, until: float, wanted: int) -> list[bytes]:
    """Run the session until ``wanted`` messages came back or the clock reaches ``until``."""
    received: list[bytes] = []
    while len(received) < wanted and time.monotonic() < until:
        now = time.monotonic()
        deadline = central.next_deadline()
        writes = central.poll(now) if deadline is not None and now >= deadline else central.take_writes(now)
        for write in writes:
            peer.write(write)
        indication = peer.indication(timeout=0.02)
        if indication is not None:
            received += central.receive(indication, time.monotonic())
    return received


@pytest.mark.parametrize(("peripheral", "att_mtu", "segment"), [(20, 23, 20), (244, 247, 244)], indirect=["peripheral"])
def test_messages_of_every_size_both_ways(peripheral, att_mtu, segment):
    central = open_session(peripheral, att_mtu)
    assert central.segment_size == segment
    messages = [bytes((n % 251,)) * size for n, size in enumerate((1, 15, 16, 17, 19, 20, 21, 100, 500, 1000, 1280))]
    for message in messages:
        central.send(message)
    received = pump(central, peripheral, time.monotonic() + 30, len(messages))
    assert received == [m[::-1] for m in messages]
    assert central.stats["packets_out"] > len(messages)  # multi-segment messages, windowed


@pytest.mark.parametrize("peripheral", [20], indirect=True)
def test_three_hundred_round_trips_wrap_the_sequence_numbers(peripheral):
    central = open_session(peripheral, 23)
    for n in range(300):
        central.send(n.to_bytes(2, "big"))
        assert pump(central, peripheral, time.monotonic() + 10, 1) == [n.to_bytes(2, "little")]
    assert central.sent_sequence != 0 and central.stats["packets_out"] >= 300


@pytest.mark.parametrize("peripheral", [20], indirect=True)
def test_a_pause_longer_than_the_ack_timers_keeps_the_session(peripheral):
    central = open_session(peripheral, 23)
    central.send(b"before")
    assert pump(central, peripheral, time.monotonic() + 10, 1) == [b"erofeb"]
    assert pump(central, peripheral, time.monotonic() + SEND_ACK_TIMEOUT + 1, 1) == []  # standalone acks only
    central.send(b"after")
    assert pump(central, peripheral, time.monotonic() + 10, 1) == [b"retfa"]
    assert central.stats["standalone_acks"] + central.stats["keep_alives"] >= 1
