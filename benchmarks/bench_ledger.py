#!/usr/bin/env python3
"""The ledger as a source, against a replica of it on this machine (HTTPS, a CA made for the run):

1. lookup + download + verify of a 4 MB image: from the first query (nothing known) until the
   image is offered (the versions list, the entry, the HTTPS download, its size and checksum, the
   OTA header), a fresh state directory each round; beside it matter.js's own
   ``DclOtaUpdateService`` (checkForUpdate + downloadUpdate, which checks the same) on the same
   replica, in the same run;
2. the cost of a query that hits the cache: ``LedgerUpdates.consider`` once the image is offered,
   the work a QueryImage adds for the ledger.

Prints one line per figure and a JSON summary last.
Run: ``.venv/bin/python benchmarks/bench_ledger.py [rounds]``.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ota_provider.core.dcl.sources import LedgerKind, LedgerSource  # noqa: E402
from ota_provider.core.dcl.updates import LedgerUpdates  # noqa: E402
from ota_provider.core.ota.extra_images import Ready, Waiting  # noqa: E402
from tests.dcl.replica import Replica, build_image  # noqa: E402

VID, PID, VERSION = 0xFFF1, 0x8200, 2
IMAGE_BYTES = 4_000_000
MATTERJS = REPO / "tests" / "interop" / "matterjs"


async def ours(replica: Replica, storage: Path) -> tuple[float, float]:
    """Seconds from the first query to the offer; then microseconds per query served from memory."""
    updates = LedgerUpdates([LedgerSource(LedgerKind.URL, replica.url)], storage)
    started = time.perf_counter()
    while not isinstance(answer := updates.consider(VID, PID, 1), Ready):
        assert isinstance(answer, Waiting), answer
        await asyncio.sleep(0.002)
    elapsed = time.perf_counter() - started
    calls = 20_000
    began = time.perf_counter()
    for _ in range(calls):
        updates.consider(VID, PID, 1)
    per_query = (time.perf_counter() - began) / calls * 1e6
    await updates.aclose()
    return elapsed, per_query


def matterjs(replica: Replica, work: Path) -> float | None:
    """matter.js's DclOtaUpdateService on the same replica: seconds for checkForUpdate + download."""
    if shutil.which("node") is None or not (MATTERJS / "node_modules" / "@matter" / "main").is_dir():
        return None
    work.mkdir(parents=True, exist_ok=True)
    verdict, config = work / "verdict.jsonl", work / "oracle.json"
    config.write_text(
        json.dumps(
            {
                "verdict": str(verdict),
                "storage": str(work / "mjs"),
                "url": replica.url,
                "devices": [{"vendorId": VID, "productId": PID, "current": 1}],
            }
        )
    )
    env = {**os.environ, "NODE_EXTRA_CA_CERTS": str(replica.ca_file), "MATTER_LOG_LEVEL": "warn"}
    subprocess.run(["node", "dcl_oracle.mjs", str(config)], cwd=MATTERJS, env=env, capture_output=True, check=True)
    lines = [json.loads(line) for line in verdict.read_text().splitlines()]
    device = next(line for line in lines if line["event"] == "device")
    assert device["stored"], device
    return device["seconds"]


def main() -> int:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        replica = Replica(work / "replica")
        os.environ["SSL_CERT_FILE"] = str(replica.ca_file)
        replica.publish(build_image(work, VID, PID, VERSION, payload_size=IMAGE_BYTES), VID, PID, VERSION)
        mine, per_query, theirs = [], [], []
        try:
            for n in range(rounds):
                seconds, cached = asyncio.run(ours(replica, work / f"state-{n}"))
                mine.append(seconds)
                per_query.append(cached)
                peer = matterjs(replica, work / f"mjs-{n}")
                if peer is not None:
                    theirs.append(peer)
                print(
                    f"round {n + 1}: ours {seconds * 1000:.0f} ms"
                    + (f", matter.js {peer * 1000:.0f} ms" if peer is not None else "")
                    + f"; cached query {cached:.1f} us"
                )
        finally:
            replica.close()
    summary = {
        "image_bytes": IMAGE_BYTES,
        "rounds": rounds,
        "lookup_download_verify_ms": _spread(mine),
        "matterjs_check_download_ms": _spread(theirs) if theirs else None,
        "cached_query_us": {"median": round(statistics.median(per_query), 2), "max": round(max(per_query), 2)},
    }
    print(
        f"4 MB lookup + download + verify: ours median {summary['lookup_download_verify_ms']['median']} ms"
        + (f", matter.js median {summary['matterjs_check_download_ms']['median']} ms" if theirs else "")
        + f"; a query served from the cache: {summary['cached_query_us']['median']} us"
    )
    print(json.dumps(summary))
    return 0


def _spread(seconds: list[float]) -> dict[str, float]:
    ms = [s * 1000 for s in seconds]
    return {"median": round(statistics.median(ms), 1), "min": round(min(ms), 1), "max": round(max(ms), 1)}


if __name__ == "__main__":
    raise SystemExit(main())
