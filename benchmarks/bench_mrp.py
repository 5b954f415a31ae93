#!/usr/bin/env python3
"""Which MRP active interval should the provider advertise? Downloads through a lossy, slow link.

The provider (``ota-provider --demo-fabric``) and ``ota-requestor-sim`` run in separate
processes; between them, a UDP relay on loopback (``lossy_relay.py``) delays each datagram (a one-way delay with
jitter) and drops some at random, in both directions. The requestor retransmits a lost
BlockQuery after the provider's advertised active interval (SAI) times the spec's margin, so
the SAI decides both how long a loss costs and whether a slow answer triggers a needless
retransmission. For each link and each SAI the figures are the download time and the
datagrams the requestor sent per block (1.0 would be no retransmission at all).

Links: "wifi" (2 +- 1 ms each way, 1% loss), "thread" (a Thread requestor behind a border
router: 90 +- 60 ms each way, 3% loss) and "thread-busy" (a loaded mesh: 200 +- 150 ms, 3%).
Prints one line per run and a JSON summary last.
Run: ``.venv/bin/python benchmarks/bench_mrp.py [rounds]``.
"""

from __future__ import annotations

import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.bench_ota import ProviderProcess  # noqa: E402
from benchmarks.lossy_relay import RelayProcess  # noqa: E402
from ota_provider.core.ota.image import HeaderFields, create_image  # noqa: E402

# one-way delay, jitter, loss
LINKS = {"wifi": (0.002, 0.001, 0.01), "thread": (0.090, 0.060, 0.03), "thread-busy": (0.200, 0.150, 0.03)}
ACTIVE_INTERVALS_MS = (300, 800, 2000)
IMAGE_BYTES = 128 * 1024  # 128 blocks of 1 KiB (and a header block)


def download_through(provider: ProviderProcess, fabric: str, link: tuple, seed: int) -> tuple[float, int]:
    delay, jitter, loss = link
    relay = RelayProcess(provider.port, loss, seed=seed, delay=delay, jitter=jitter)
    start = time.perf_counter()
    try:
        command = [
            sys.executable,
            "-m",
            "ota_provider.core.client.sim",
            "--fabric",
            fabric,
            "--port",
            str(relay.port),
            "--json",
        ]
        sim = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    finally:
        seconds = time.perf_counter() - start
        counts = relay.stop()
    steps = [json.loads(line) for line in sim.stdout.splitlines() if line.strip()]
    if sim.returncode != 0 or not any(s.get("step") == "applied" for s in steps):
        raise RuntimeError(f"download failed: {steps[-1:]}")
    return seconds, counts.get("up forwarded", 0) + counts.get("up dropped", 0)


def main() -> int:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    blocks = IMAGE_BYTES // 1024
    results = []
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        payload = tmp / "payload.bin"
        payload.write_bytes(random.Random(7).randbytes(IMAGE_BYTES))
        image = tmp / "image.ota"
        create_image([payload], image, HeaderFields(0xFFF1, 0x8000, 9, "9.0.0"), "sha256")
        for name, link in LINKS.items():
            for interval in ACTIVE_INTERVALS_MS:
                times, per_block = [], []
                for number in range(rounds):
                    storage = tmp / f"state-{name}-{interval}-{number}"
                    provider = ProviderProcess(image, storage, "--mrp-active-interval", str(interval))
                    try:
                        seconds, upstream = download_through(provider, provider.fabric_file, link, number)
                    finally:
                        provider.stop()
                    times.append(seconds)
                    per_block.append(upstream / blocks)
                    print(
                        f"{name:6s} SAI {interval:4d} ms round {number + 1}: {seconds:6.2f} s, "
                        f"{per_block[-1]:.2f} datagrams per block from the requestor"
                    )
                results.append(
                    {
                        "link": name,
                        "active_interval_ms": interval,
                        "median_seconds": round(statistics.median(times), 2),
                        "datagrams_per_block": round(statistics.median(per_block), 2),
                    }
                )
    print(
        json.dumps(
            {
                "benchmark": "mrp_active_interval",
                "image_bytes": IMAGE_BYTES,
                "rounds": rounds,
                "links": {k: {"one_way_delay_s": v[0], "jitter_s": v[1], "loss": v[2]} for k, v in LINKS.items()},
                "results": results,
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
