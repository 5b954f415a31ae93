#!/usr/bin/env python3
"""Commissioning time by discovery (long discriminator), with two independent controllers: the
Matter SDK's own Python controller and matter.js's CommissioningController.

Needs root (network namespaces), the SDK controller in .venv-interop and matter.js in
tests/interop/matterjs (`./run tests` installs both). Each round starts a fresh provider,
commissions it and reads VendorID; the figure is the controller's commissioning call, which
includes its operational DNS-SD lookup. Prints one line per round and a JSON summary last.
Goal: at most 1.5 s median with the SDK controller.
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

from tests.interop.conftest import controller_python  # noqa: E402
from tests.interop.matterjs_peers import matterjs_unavailable, run_matterjs_controller  # noqa: E402
from tests.interop.netns import NetnsPair, netns_unavailable  # noqa: E402
from tests.interop.peers import Provider  # noqa: E402
from tests.interop.test_sdk_commissioning import run_controller  # noqa: E402

GOAL_SECONDS = 1.5


def sdk_round(pair: NetnsPair, tmp: Path) -> tuple[dict, dict]:
    outcomes = run_controller(
        pair,
        tmp / "controller.json",
        [
            {"do": "commission-discovery", "node": 1, "passcode": 20202021, "discriminator": 3840, "timeout": 120},
            {"do": "read-basic", "node": 1},
        ],
        tmp,
    )
    return outcomes[0], outcomes[1]


def matterjs_round(pair: NetnsPair, tmp: Path) -> tuple[dict, dict]:
    outcomes = run_matterjs_controller(
        pair,
        tmp / "controller",
        [
            {"do": "commission", "passcode": 20202021, "discriminator": 3840, "as": "p", "timeout": 120},
            {"do": "read-basic", "node": "$p"},
        ],
        tmp,
    )
    return outcomes[0], outcomes[1]


def measure(name: str, one_round, pair: NetnsPair, rounds: int) -> dict:
    seconds = []
    for number in range(rounds):
        with tempfile.TemporaryDirectory() as folder:
            tmp = Path(folder)
            provider = Provider(pair, tmp / "state")
            provider.start()
            try:
                commissioned, read = one_round(pair, tmp)
            finally:
                provider.stop()
        if not commissioned["ok"]:
            print(f"{name} round {number + 1}: commissioning failed: {commissioned['error']}")
            continue
        seconds.append(commissioned["seconds"])
        print(f"{name} round {number + 1}: commissioned in {seconds[-1]:.3f} s (read in {read['seconds']:.3f} s)")
    return {
        "controller": name,
        "rounds": rounds,
        "succeeded": len(seconds),
        "median_seconds": round(statistics.median(seconds), 3) if seconds else None,
        "max_seconds": max(seconds) if seconds else None,
    }


def main() -> int:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    reason = netns_unavailable()
    if reason:
        print(json.dumps({"benchmark": "commissioning", "skipped": reason}))
        return 0
    pair = NetnsPair.create()
    results = []
    try:
        if controller_python():
            results.append(measure("sdk", sdk_round, pair, rounds))
        if matterjs_unavailable() is None:
            results.append(measure("matter.js", matterjs_round, pair, rounds))
    finally:
        pair.delete()
    sdk = next((r for r in results if r["controller"] == "sdk"), None)
    met = bool(sdk and sdk["median_seconds"] is not None and sdk["median_seconds"] <= GOAL_SECONDS)
    summary = {
        "benchmark": "commissioning",
        "goal_seconds_sdk_median": GOAL_SECONDS,
        "results": results,
        "goal_met": met,
    }
    print(json.dumps(summary))
    return 0 if all(r["succeeded"] for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
