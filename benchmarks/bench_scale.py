#!/usr/bin/env python3
"""200 requestors at once: every query answered, every download verified, and what it costs.

``ota-provider --headless`` serves a 256 KiB image; PROCESSES ``ota-requestor-sim`` processes of
REQUESTORS / PROCESSES requestors each (their own node ids and UDP sockets) start together, so
all of them establish CASE, query and download at the same time. Figures: QueryImage round trip
as the requestors measured it (p50, p99, worst), the time until every download was verified,
the provider's peak RSS and its CPU time (user + system) over the run.

With ``--attached``, the provider also has ``--control`` and the dashboard runs as ``ota-provider
attach`` in a 160x48 pseudo-terminal of its own, showing all the requestors: keys switch between
the Exchanges and Commissioning tabs through the run, and the key-to-screen latency (p50, p95,
worst) and the dashboard's CPU say whether it stays responsive with 200 rows.

Prints one line per figure and a JSON summary last.
Run: ``.venv/bin/python benchmarks/bench_scale.py [requestors [processes]] [--attached]`` (best in a
network namespace of its own).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.bench_dashboard import COLUMNS, KEYS, ROWS, Terminal  # noqa: E402
from benchmarks.bench_ota import ProviderProcess, make_image, process_cpu_seconds  # noqa: E402

ATTACHED = "--attached" in sys.argv
# --handshakes: each requestor establishes CASE and queries, already up to date: no download, so a
# thousand of them measure the handshakes (``bench_scale.py 1000 8 --handshakes``, three runs).
HANDSHAKES = "--handshakes" in sys.argv
ARGS = [arg for arg in sys.argv[1:] if arg not in ("--attached", "--handshakes")]
REQUESTORS = int(ARGS[0]) if ARGS else 200
PROCESSES = int(ARGS[1]) if len(ARGS) > 1 else 4
KEY_GAP = 0.5  # seconds between two key presses while the requestors run
IMAGE_SIZE = 256 << 10
IMAGE_VERSION = 9  # make_image's: a requestor reporting it is up to date
FIRST_NODE = 0x10000


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def sim_command(provider: ProviderProcess, tmp: Path, n: int, count: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "ota_provider.core.client.sim",
        "--fabric",
        provider.fabric_file,
        "--port",
        str(provider.port),
        "-n",
        str(count),
        "--first-node-id",
        str(FIRST_NODE + n * count),
        "--json",
        "--out",
        str(tmp / f"out-{n}"),
        *(("--versions", str(IMAGE_VERSION)) if HANDSHAKES else ()),
    ]


def attach(tmp: Path) -> Terminal:
    env = {
        **os.environ,
        "TERM": "xterm-256color",
        "COLORTERM": "truecolor",
        "COLUMNS": str(COLUMNS),
        "LINES": str(ROWS),
    }
    screen = Terminal([sys.executable, "-m", "ota_provider.tui.launch", "attach", "--storage", str(tmp / "state")], env)
    if screen.seen_after(time.monotonic() - 1, "attached, pid", timeout=20) is None:
        raise RuntimeError("the attached dashboard did not come up")
    return screen


def press_keys(screen: Terminal, running: threading.Event, latencies: list[float]) -> None:
    """Switch tabs every KEY_GAP seconds while the requestors run; each key's time to the screen."""
    press = 0
    while running.is_set():
        key, marker = KEYS[press % len(KEYS)]
        latency = screen.seen_after(screen.press(key), marker)
        latencies.append(float("inf") if latency is None else latency)
        press += 1
        time.sleep(KEY_GAP)


def main() -> int:
    key_latencies: list[float] = []
    dashboard_cpu = 0.0
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as name:
        tmp = Path(name)
        image = make_image(tmp, IMAGE_SIZE)
        flags = ("--control", str(tmp / "state" / "control.sock")) if ATTACHED else ()
        provider = ProviderProcess(image, tmp / "state", *flags)
        screen = attach(tmp) if ATTACHED else None
        running = threading.Event()
        try:
            cpu_before = provider.cpu_seconds()
            screen_cpu_before = process_cpu_seconds(screen.process.pid) if screen else 0.0
            per_process = REQUESTORS // PROCESSES
            started = time.monotonic()
            sims = [
                subprocess.Popen(
                    sim_command(provider, tmp, n, per_process),
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
                for n in range(PROCESSES)
            ]
            keys = None
            if screen is not None:
                running.set()
                keys = threading.Thread(target=press_keys, args=(screen, running, key_latencies), daemon=True)
                keys.start()
            steps = []
            for sim in sims:
                out, _ = sim.communicate(timeout=1800)
                steps += [json.loads(line) for line in out.splitlines() if line.strip()]
            wall = time.monotonic() - started
            running.clear()
            if keys is not None:
                keys.join(10)
            cpu = provider.cpu_seconds() - cpu_before
            rss = provider.peak_rss_mb()
            if screen is not None:
                dashboard_cpu = process_cpu_seconds(screen.process.pid) - screen_cpu_before
        finally:
            if screen is not None:
                screen.stop("q")
            provider.stop()
    queried = [s for s in steps if s["step"] == "queried"]
    latencies = [s["seconds"] for s in queried]
    verified = sum(1 for s in steps if s["step"] == "downloaded" and s["digestOk"])
    errors = [s for s in steps if s["step"] == "error"]
    p50, p99, worst = (
        (percentile(latencies, 0.5), percentile(latencies, 0.99), max(latencies)) if latencies else (0.0,) * 3
    )
    print(f"{'requestors (processes)':40s} {REQUESTORS:8d}  ({PROCESSES})")
    print(f"{'queries answered':40s} {len(queried):8d}")
    connected = sum(1 for s in steps if s["step"] == "connected")
    print(f"{'CASE established':40s} {connected:8d}")
    print(f"{'downloads verified':40s} {verified:8d}  ({len(errors)} errors)")
    print(f"{'QueryImage round trip p50 / p99 / worst':40s} {p50 * 1e3:8.1f} / {p99 * 1e3:.1f} / {worst * 1e3:.1f} ms")
    print(f"{'all done in':40s} {wall:8.1f} s  ({REQUESTORS * IMAGE_SIZE / wall / 1e6:.2f} MB/s aggregate)")
    print(f"{'provider peak RSS':40s} {rss:8.1f} MB")
    print(f"{'provider CPU':40s} {cpu:8.1f} s  ({cpu / wall * 100:.0f}% of a core)")
    summary = {
        "benchmark": "scale",
        "requestors": REQUESTORS,
        "processes": PROCESSES,
        "image_bytes": IMAGE_SIZE,
        "handshakes_only": HANDSHAKES,
        "case_established": connected,
        "queries_answered": len(queried),
        "downloads_verified": verified,
        "errors": len(errors),
        "query_ms": {
            "p50": round(p50 * 1e3, 1),
            "p99": round(p99 * 1e3, 1),
            "worst": round(worst * 1e3, 1),
            "mean": round(statistics.fmean(latencies) * 1e3, 1) if latencies else None,
        },
        "seconds": round(wall, 1),
        "provider_peak_rss_mb": round(rss, 1),
        "provider_cpu_s": round(cpu, 1),
        "met": (connected == REQUESTORS == len(queried) if HANDSHAKES else verified == REQUESTORS == len(queried)),
    }
    if ATTACHED:
        finite = sorted(x for x in key_latencies if x != float("inf"))
        k50, k95 = (percentile(finite, 0.5), percentile(finite, 0.95)) if finite else (float("inf"),) * 2
        worst_key = max(key_latencies) if key_latencies else float("inf")
        print(
            f"{'attached dashboard: key to screen':40s} {k50 * 1e3:8.0f} / {k95 * 1e3:.0f} / "
            f"{worst_key * 1e3:.0f} ms (p50 / p95 / worst, {len(key_latencies)} keys)"
        )
        print(f"{'attached dashboard CPU':40s} {dashboard_cpu:8.1f} s  ({dashboard_cpu / wall * 100:.0f}% of a core)")
        summary["attached"] = {
            "keys": len(key_latencies),
            "key_ms": {"p50": round(k50 * 1e3, 1), "p95": round(k95 * 1e3, 1), "worst": round(worst_key * 1e3, 1)},
            "dashboard_cpu_s": round(dashboard_cpu, 1),
        }
    if errors:
        print(json.dumps(errors[:3]))
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
