#!/usr/bin/env python3
"""200 requestors at once: every query answered, every download verified, and what it costs.

``ota-provider --headless`` serves a 256 KiB image; PROCESSES ``ota-requestor-sim`` processes of
REQUESTORS / PROCESSES requestors each (their own node ids and UDP sockets) start together, so
all of them establish CASE, query and download at the same time. Figures: QueryImage round trip
as the requestors measured it (p50, p99, worst), the time until every download was verified,
the provider's peak RSS and its CPU time (user + system) over the run.

Prints one line per figure and a JSON summary last.
Run: ``.venv/bin/python benchmarks/bench_scale.py [requestors]`` (best in a network namespace of its own).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.bench_ota import ProviderProcess, make_image  # noqa: E402

REQUESTORS = int(sys.argv[1]) if len(sys.argv) > 1 else 200
PROCESSES = int(sys.argv[2]) if len(sys.argv) > 2 else 4
IMAGE_SIZE = 256 << 10
FIRST_NODE = 0x10000


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def sim_command(provider: ProviderProcess, tmp: Path, n: int, count: int) -> list[str]:
    return [sys.executable, "-m", "ota_provider.core.client.sim", "--fabric", provider.fabric_file, "--port",
            str(provider.port), "-n", str(count), "--first-node-id", str(FIRST_NODE + n * count), "--json", "--out",
            str(tmp / f"out-{n}")]  # fmt: skip


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as name:
        tmp = Path(name)
        image = make_image(tmp, IMAGE_SIZE)
        provider = ProviderProcess(image, tmp / "state")
        try:
            cpu_before = provider.cpu_seconds()
            per_process = REQUESTORS // PROCESSES
            started = time.monotonic()
            sims = [subprocess.Popen(sim_command(provider, tmp, n, per_process), stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True) for n in range(PROCESSES)]  # fmt: skip
            steps = []
            for sim in sims:
                out, _ = sim.communicate(timeout=1800)
                steps += [json.loads(line) for line in out.splitlines() if line.strip()]
            wall = time.monotonic() - started
            cpu = provider.cpu_seconds() - cpu_before
            rss = provider.peak_rss_mb()
        finally:
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
    print(f"{'downloads verified':40s} {verified:8d}  ({len(errors)} errors)")
    print(f"{'QueryImage round trip p50 / p99 / worst':40s} {p50 * 1e3:8.1f} / {p99 * 1e3:.1f} / {worst * 1e3:.1f} ms")
    print(f"{'all done in':40s} {wall:8.1f} s  ({REQUESTORS * IMAGE_SIZE / wall / 1e6:.2f} MB/s aggregate)")
    print(f"{'provider peak RSS':40s} {rss:8.1f} MB")
    print(f"{'provider CPU':40s} {cpu:8.1f} s  ({cpu / wall * 100:.0f}% of a core)")
    summary = {"benchmark": "scale", "requestors": REQUESTORS, "processes": PROCESSES, "image_bytes": IMAGE_SIZE,
               "queries_answered": len(queried), "downloads_verified": verified, "errors": len(errors),
               "query_ms": {"p50": round(p50 * 1e3, 1), "p99": round(p99 * 1e3, 1), "worst": round(worst * 1e3, 1),
                            "mean": round(statistics.fmean(latencies) * 1e3, 1) if latencies else None},
               "seconds": round(wall, 1), "provider_peak_rss_mb": round(rss, 1), "provider_cpu_s": round(cpu, 1),
               "met": verified == REQUESTORS == len(queried)}  # fmt: skip
    if errors:
        print(json.dumps(errors[:3]))
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
