#!/usr/bin/env python3
"""Control-socket clients do not slow the provider: ten requestors (``ota-requestor-sim``) download
a 16 MiB image at once from ``ota-provider --headless --control``, alternately with no client on
the socket, with only a client that subscribes and never reads (cut off once 4 MiB wait for it:
whether that happened within a run is printed; tests/api/test_control.py checks the cut itself),
and with that one plus two clients reading every event and snapshot (10 a second) and a fourth
arming and disarming a knob 10 times a second.

Goal: with the subscriber that never reads, the aggregate throughput is at least 99% of the
throughput with no client (a slow subscriber never slows the transfers). With all four clients the
figure is printed too; their own CPU, on the same cores, is part of what it costs.
Prints one line per figure and a JSON summary last.
Run: ``.venv/bin/python benchmarks/bench_control.py`` (best inside a network namespace of its own).
"""

from __future__ import annotations

import json
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.bench_ota import ProviderProcess, make_image, run_sim  # noqa: E402
from ota_provider.core.api.client import ProviderClient  # noqa: E402
from ota_provider.core.api.wire import PROTOCOL_VERSION  # noqa: E402

ROUNDS = 3
REQUESTORS = 10


def clients(
    path: Path,
    stop: threading.Event,
    *,
    silent_only: bool = False,
) -> tuple[list[threading.Thread], list[int], socket.socket]:
    """Two readers, an armer, and a silent subscriber (or that one alone), on the socket until ``stop``."""
    counts = [0, 0]

    def read(index: int) -> None:
        with ProviderClient.attach(path, subscribe=False) as reader:
            reader.subscribe(snapshots=True)
            while not stop.is_set():
                if reader.next_event(timeout=0.2) is not None:
                    counts[index] += 1

    def arm() -> None:  # a busy script: 20 commands a second
        with ProviderClient.attach(path, subscribe=False) as armer:
            while not stop.wait(0.1):
                armer.arm("delayedApplyActionTimeSec", 3, sticky=True)
                armer.disarm("delayedApplyActionTimeSec")

    silent = socket.socket(socket.AF_UNIX)
    silent.connect(str(path))
    hello = json.dumps({"type": "hello", "protocol": PROTOCOL_VERSION}).encode()
    silent.sendall(hello + b'\n{"type":"subscribe","snapshots":true}\n')
    threads = [
        threading.Thread(target=read, args=(0,)),
        threading.Thread(target=read, args=(1,)),
        threading.Thread(target=arm),
    ]
    if silent_only:
        threads = []
    for thread in threads:
        thread.start()
    return threads, counts, silent


def was_cut_off(silent: socket.socket) -> bool:
    """Whether the provider ended the silent client's connection with its "cut off" message."""
    silent.settimeout(0.5)
    tail, deadline = b"", time.monotonic() + 5  # what it was sent before the cut, then the message
    try:
        while time.monotonic() < deadline and (data := silent.recv(1 << 20)):
            tail = (tail + data)[-4096:]
            if b"cut off" in tail:
                return True
    except TimeoutError:
        pass
    finally:
        silent.close()
    return False  # still connected: never cut off


def aggregate(steps: list[dict]) -> float:
    downloads = [s for s in steps if s["step"] == "downloaded"]
    if len(downloads) != REQUESTORS:
        raise RuntimeError(f"{len(downloads)} of {REQUESTORS} downloads verified")
    return sum(s["bytes"] for s in downloads) / max(s["seconds"] for s in downloads)


MODES = ("none", "silent", "all")  # no client; the silent one alone; all four


def main() -> int:
    rates: dict[str, list[float]] = {mode: [] for mode in MODES}
    events_read, cut_off = [], []
    with tempfile.TemporaryDirectory(prefix="bench-control-") as name:
        tmp = Path(name)
        image = make_image(tmp, 16 << 20)
        for round_ in range(ROUNDS):
            for mode in MODES:  # alternated, so drift hits all alike
                state = tmp / f"state-{round_}-{mode}"
                path = state / "control.sock"
                provider = ProviderProcess(image, state, "--headless", "--control", str(path))
                stop = threading.Event()
                threads, counts, silent = (
                    clients(path, stop, silent_only=mode == "silent") if mode != "none" else ([], [0, 0], None)
                )
                try:
                    steps, _ = run_sim(provider, tmp / f"out-{round_}-{mode}", REQUESTORS)
                finally:
                    stop.set()
                    for thread in threads:
                        thread.join()
                    if silent is not None:
                        cut_off.append(was_cut_off(silent))
                    provider.stop()
                rates[mode].append(aggregate(steps))
                if mode == "all":
                    events_read.append(min(counts))
    quiet_rate, silent_rate, busy_rate = (statistics.fmean(rates[mode]) for mode in MODES)
    silent_ratio, ratio = silent_rate / quiet_rate, busy_rate / quiet_rate
    print(f"{'aggregate, 10 transfers, no control client':48s} {quiet_rate / 1e6:8.2f} MB/s")
    print(f"{'  with a subscriber that never reads':48s} {silent_rate / 1e6:8.2f} MB/s  ({silent_ratio * 100:.1f} %)")
    print(f"{'  with 4 control clients (their CPU included)':48s} {busy_rate / 1e6:8.2f} MB/s  ({ratio * 100:.1f} %)")
    print(f"{'events each reader took, per run (min)':48s} {min(events_read):8d}")
    print(f"{'the silent client cut off':48s} {sum(cut_off):8d} of {len(cut_off)} runs")
    summary = {
        "benchmark": "control_socket",
        "rounds": ROUNDS,
        "requestors": REQUESTORS,
        "image_mib": 16,
        "no_clients_mb_per_s": round(quiet_rate / 1e6, 2),
        "silent_subscriber_mb_per_s": round(silent_rate / 1e6, 2),
        "silent_ratio": round(silent_ratio, 3),
        "with_clients_mb_per_s": round(busy_rate / 1e6, 2),
        "ratio": round(ratio, 3),
        "events_read_min": min(events_read),
        "silent_cut_off_runs": sum(cut_off),
        "runs": len(cut_off),
        "goal_silent_ratio": 0.99,
        "met": silent_ratio >= 0.99,
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
