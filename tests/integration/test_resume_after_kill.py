"""A provider killed with SIGKILL in the middle of a download, restarted at once on the same state,
goes on with the *same* transfer: the requestor (ota-requestor-sim, its own process) retransmits
its BlockQuery on the session it still has, and the restarted provider answers it with the right
Block. Checked: the image verifies, the requestor saw no error, the provider says "resumed" for
the transfer it had started (one transfer, one history row), and on the wire (a relay between
the two) no message counter of the provider's was ever sent with two different payloads.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

from benchmarks.lossy_relay import RelayProcess
from ota_provider.core.ota.image import HeaderFields, create_image
from tests.helpers.processes import wait_for


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock:
        sock.bind(("::1", 0))
        return sock.getsockname()[1]


def _image(tmp_path: Path, size: int) -> Path:
    payload = tmp_path / "payload.bin"
    payload.write_bytes(os.urandom(size))
    image = tmp_path / "big.ota"
    create_image([payload], image, HeaderFields(0xFFF1, 0x8000, 3, "3.0"), "sha256")
    return image


class Provider:
    def __init__(self, image: Path, state: Path, port: int) -> None:
        command = [
            sys.executable,
            "-m",
            "ota_provider.core.cli",
            "-f",
            str(image),
            "--port",
            str(port),
            "--storage",
            str(state),
            "--json",
            "--demo-fabric",
        ]
        self.proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.events: list[dict] = []
        import threading  # noqa: PLC0415

        threading.Thread(target=self._collect, daemon=True).start()
        assert wait_for(self.events, lambda ev: any(e["event"] == "Listening" for e in ev), timeout=30)

    def _collect(self) -> None:
        for line in self.proc.stdout:  # type: ignore[union-attr]
            self.events.append(json.loads(line))

    def named(self, name: str) -> list[dict]:
        return [e for e in self.events if e["event"] == name]


def test_a_provider_killed_mid_download_resumes_the_same_transfer(tmp_path):
    image = _image(tmp_path, 12 << 20)
    state, port = tmp_path / "state", _free_udp_port()
    record = tmp_path / "wire.jsonl"
    first = Provider(image, state, port)
    relay = RelayProcess(port, 0.0, record=record)
    second = None
    try:
        relay_port = relay.port
        fabric = next(e["file"] for e in first.events if e["event"] == "DemoFabric")
        requestor = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ota_provider.core.client.sim",
                "--fabric",
                fabric,
                "--port",
                str(relay_port),
                "--json",
                "--out",
                str(tmp_path / "out"),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert wait_for(first.events, lambda ev: any(e["event"] == "TransferStarted" for e in ev), timeout=30)
        time.sleep(1.0)  # well into the download
        first.proc.send_signal(signal.SIGKILL)
        first.proc.wait(timeout=10)
        killed_at = time.monotonic()
        second = Provider(image, state, port)  # the same state, the same port
        restarted_in = time.monotonic() - killed_at
        out, err = requestor.communicate(timeout=120)
        assert requestor.returncode == 0, err[-2000:]
        steps = [json.loads(line) for line in out.splitlines()]
        assert [s["digestOk"] for s in steps if s["step"] == "downloaded"] == [True]
        assert [s["step"] for s in steps][-1] == "applied"  # ApplyUpdate and Notify found their offer too
        assert restarted_in < 5.0
        (started,) = first.named("TransferStarted")
        assert wait_for(second.events, lambda ev: any(e["event"] == "TransferFinished" for e in ev))
        (resumed,) = second.named("TransferResumed")
        (finished,) = second.named("TransferFinished")
        assert resumed["transfer"] == finished["transfer"] == started["transfer"]
        assert 0 < resumed["bytesSent"] < finished["bytesSent"] == image.stat().st_size
        assert second.named("TransferStarted") == []  # not a second transfer
    finally:
        for process in (first, second):
            if process is not None and process.proc.poll() is None:
                process.proc.send_signal(signal.SIGTERM)
                process.proc.wait(timeout=20)
        relay.stop()
    history = subprocess.run(
        [sys.executable, "-m", "ota_provider.core.cli", "history", "--storage", str(state), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    transfers = [r for r in map(json.loads, history.stdout.splitlines()) if r["kind"] == "transfer"]
    assert len(transfers) == 1 and transfers[0]["details"]["resumed"] == 1
    assert transfers[0]["details"]["result"] == "complete"
    # No counter reused: the same (session, counter) always carried the same bytes (a retransmission).
    payloads: dict[tuple[int, int], set[str]] = defaultdict(set)
    for session_id, counter, digest in map(json.loads, record.read_text().splitlines()):
        payloads[(session_id, counter)].add(digest)
    assert len(payloads) > 1000 and all(len(seen) == 1 for seen in payloads.values())
