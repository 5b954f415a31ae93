#!/usr/bin/env python3
"""Commissioning time with the Matter SDK's own controller, by discovery (long discriminator).

Needs root (network namespaces) and the SDK controller in .venv-interop (`./run tests`
installs it). Each round starts a fresh provider, commissions it, and reads VendorID; the
figure is the SDK's CommissionOnNetwork call, which includes its operational DNS-SD lookup.
Prints one line per round and a JSON summary last. Goal: under 3 s.
Run: ``sudo .venv/bin/python benchmarks/bench_commissioning.py [rounds]``.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.interop.netns import NetnsPair, netns_unavailable  # noqa: E402
from tests.interop.test_sdk_commissioning import Provider, run_controller  # noqa: E402


def main() -> int:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    reason = netns_unavailable()
    if reason:
        print(json.dumps({"benchmark": "commissioning", "skipped": reason}))
        return 0
    pair = NetnsPair.create()
    seconds = []
    try:
        for number in range(rounds):
            with tempfile.TemporaryDirectory() as tmp:
                provider = Provider(pair, Path(tmp) / "state")
                provider.start()
                try:
                    outcomes = run_controller(pair, Path(tmp) / "controller.json", [
                        {"do": "commission-discovery", "node": 1, "passcode": 20202021, "discriminator": 3840,
                         "timeout": 120},
                        {"do": "read-basic", "node": 1},
                    ], Path(tmp))  # fmt: skip
                finally:
                    provider.stop()
            if not outcomes[0]["ok"]:
                print(f"round {number + 1}: commissioning failed: {outcomes[0]['error']}")
                continue
            seconds.append(outcomes[0]["seconds"])
            read_seconds = outcomes[1]["seconds"]
            print(f"round {number + 1}: commissioned in {seconds[-1]:.3f} s (read VendorID in {read_seconds:.3f} s)")
    finally:
        pair.delete()
    summary = {
        "benchmark": "commissioning",
        "rounds": rounds,
        "succeeded": len(seconds),
        "median_seconds": round(statistics.median(seconds), 3) if seconds else None,
        "max_seconds": max(seconds) if seconds else None,
        "goal_seconds": 3.0,
    }
    print(json.dumps(summary))
    return 0 if seconds else 1


if __name__ == "__main__":
    raise SystemExit(main())
