#!/usr/bin/env python3
"""A legitimate requestor while hostile peers flood the provider, against the same requestor with no
flood, in the same run and alternating.

The flood: 1000 Sigma1/s with random destination ids from 127.0.0.2, 300 PBKDFParamRequest/s (the
commissioning window is open, as after every start) from 127.0.0.3, all asking for 54-day
retransmission intervals and never answered; and 8000 TCP connections to the control socket that
never say hello, held open. The requestor (``ota-requestor-sim``, over ::1) establishes CASE,
queries and downloads a 1 MiB image. Figures per round: CASE time and download time; the summary
gives the medians with their range and the ratio flood / no flood.

Prints one line per round and figure, and a JSON summary last.
Run: ``.venv/bin/python benchmarks/bench_flood.py [rounds [parts]]`` (default 3 of each; parts: a comma list
of sigma1, pbkdf and control, all by default).
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.bench_ota import ProviderProcess, make_image  # noqa: E402
from benchmarks.handshake_flood import FloodProcess  # noqa: E402

ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 3
# Which parts of the flood run (to see what each costs): sigma1, pbkdf, control; all by default.
PARTS = set((sys.argv[2] if len(sys.argv) > 2 else "sigma1,pbkdf,control").split(","))
IMAGE_SIZE = 1 << 20
SIGMA1_RATE, PBKDF_RATE, CONTROL_CONNECTIONS = 1000, 300, 8000
WARM_UP = 2.0  # seconds of flood before the requestor starts


class IdleCrowd:
    """Control-socket connections that never say hello, opened as fast as the provider takes them and
    held until stopped; those the provider closes are opened again."""

    def __init__(self, port: int, count: int) -> None:
        self.port, self.count = port, count
        self.opened = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        held: list[socket.socket] = []
        while not self._stop.is_set():
            while len(held) < self.count and not self._stop.is_set():
                try:
                    held.append(socket.create_connection(("127.0.0.1", self.port), timeout=2))
                    self.opened += 1
                except OSError:
                    break
            alive = []
            for sock in held:  # drop the ones the provider closed (refused, or timed out unauthenticated)
                sock.setblocking(False)
                try:
                    closed = sock.recv(4096) == b""
                except BlockingIOError:
                    closed = False
                except OSError:
                    closed = True
                if closed:
                    sock.close()
                else:
                    alive.append(sock)
            held = alive
            self._stop.wait(0.2)
        for sock in held:
            sock.close()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


def requestor(provider: ProviderProcess, out: Path) -> dict[str, float]:
    """One requestor's CASE and download times, read off its lines as they come."""
    command = [
        sys.executable,
        "-m",
        "ota_provider.core.client.sim",
        "--fabric",
        provider.fabric_file,
        "--port",
        str(provider.port),
        "-n",
        "1",
        "--json",
        "--out",
        str(out),
    ]
    started = time.monotonic()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    at: dict[str, float] = {}
    assert proc.stdout is not None
    for line in proc.stdout:
        step = json.loads(line)
        at.setdefault(step["step"], time.monotonic() - started)
        if step["step"] == "error":
            raise RuntimeError(f"the requestor failed: {step.get('error')}")
    proc.wait(timeout=600)
    if "connected" not in at or "downloaded" not in at:
        raise RuntimeError(f"the requestor did not finish: {proc.stderr.read()[-500:] if proc.stderr else ''}")
    return {
        "case": at["connected"],
        "download": at["downloaded"] - at.get("queried", at["connected"]),
        "total": at["downloaded"],
    }


def control_port(provider: ProviderProcess) -> int:
    listening = next(e for e in provider.events if e["event"] == "Listening")
    return int(re.match(r"tcp:127\.0\.0\.1:(\d+)", listening["control"]).group(1))  # type: ignore[union-attr]


def main() -> int:
    results: dict[str, list[dict[str, float]]] = {"quiet": [], "flood": []}
    crowd_opened = []
    with tempfile.TemporaryDirectory(prefix="bench-flood-") as tmp_name:
        tmp = Path(tmp_name)
        image = make_image(tmp, IMAGE_SIZE)
        provider = ProviderProcess(image, tmp / "state", "--control", "tcp:127.0.0.1:0")
        try:
            port = control_port(provider)
            order = ["quiet", "flood"] * ROUNDS
            for number, mode in enumerate(order):
                floods: list[FloodProcess] = []
                crowd = None
                if mode == "flood":
                    seconds = 120.0
                    if "sigma1" in PARTS:
                        floods.append(
                            FloodProcess(
                                provider.port,
                                sigma1_rate=SIGMA1_RATE,
                                pbkdf_rate=0,
                                seconds=seconds,
                                source="127.0.0.2",
                            )
                        )
                    if "pbkdf" in PARTS:
                        floods.append(
                            FloodProcess(
                                provider.port, sigma1_rate=0, pbkdf_rate=PBKDF_RATE, seconds=seconds, source="127.0.0.3"
                            )
                        )
                    if "control" in PARTS:
                        crowd = IdleCrowd(port, CONTROL_CONNECTIONS)
                    time.sleep(WARM_UP)
                try:
                    figures = requestor(provider, tmp / f"out-{number}")
                finally:
                    for flood in floods:
                        flood.stop()
                    if crowd is not None:
                        crowd.stop()
                        crowd_opened.append(crowd.opened)
                results[mode].append(figures)
                print(
                    f"round {number // 2 + 1} {mode:5s}: CASE {figures['case']:.3f} s, download "
                    f"{figures['download']:.3f} s, total {figures['total']:.3f} s",
                    flush=True,
                )
                time.sleep(1.0)  # the flood's leftovers time out between rounds
        finally:
            with contextlib.suppress(Exception):
                provider.stop()
    summary: dict[str, object] = {
        "rounds": ROUNDS,
        "parts": sorted(PARTS),
        "imageBytes": IMAGE_SIZE,
        "sigma1PerSecond": SIGMA1_RATE,
        "pbkdfPerSecond": PBKDF_RATE,
        "controlConnections": CONTROL_CONNECTIONS,
        "controlConnectionsOpened": crowd_opened,
    }
    for figure in ("case", "download", "total"):
        quiet = [r[figure] for r in results["quiet"]]
        flood = [r[figure] for r in results["flood"]]
        ratio = statistics.median(flood) / statistics.median(quiet)
        print(
            f"{figure}: no flood median {statistics.median(quiet):.3f} s ({min(quiet):.3f}-{max(quiet):.3f}), "
            f"flood median {statistics.median(flood):.3f} s ({min(flood):.3f}-{max(flood):.3f}): "
            f"{ratio:.2f}x"
        )
        summary[figure] = {"quiet": quiet, "flood": flood, "ratio": round(ratio, 2)}
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
