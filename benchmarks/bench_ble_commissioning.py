#!/usr/bin/env python3
"""Commissioning a BLE-only device, from its advertisement to CommissioningComplete on IP, with no
radio: BlueZoo on a private D-Bus bus, the device a matter.js 0.17.9 requestor running its own BTP
behind a GATT shim (tests/interop/ble_rig.py, ble_device.mjs), its IP network gated until it joins
the Wi-Fi network it is given.

Side by side, the same device each round, alternating: our provider (``--commission CODE --ble
--wifi``, the time from its first stage to DeviceCommissioned, with each stage's share) and the Matter
SDK's Python controller (``CommissionWiFi``, its call's time), in the same namespaces over the same
mock adapters. Prints one line per round and a JSON summary last. The mock radio has no air time:
the figures compare the stacks' own work and round trips (BTP windows and acks, PASE, the network
stages, operational discovery), not a real link's.
Run: ``sudo .venv/bin/python benchmarks/bench_ble_commissioning.py [rounds]``.
"""

from __future__ import annotations

import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.interop.ble_rig import CENTRAL, BleRig, ble_rig_unavailable  # noqa: E402
from tests.interop.conftest import controller_python, run_sdk_controller  # noqa: E402
from tests.interop.matterjs_peers import matterjs_unavailable  # noqa: E402
from tests.interop.netns import NetnsPair, netns_unavailable  # noqa: E402
from tests.interop.peers import Provider  # noqa: E402
from tests.interop.test_ble_commissioning import PASSPHRASE, SSID, BleDevice  # noqa: E402

WIFI = {"kind": "wifi", "ssid": SSID, "passphrase": PASSPHRASE}
NOT_MODELLED = (
    "air time and radio latency, connection intervals (7.5-50 ms per exchange on a real link), "
    "advertising intervals (a real scan waits 20 ms-1.3 s for the first advertisement), packet loss and "
    "retries, the device's radio switch when it joins Wi-Fi or Thread"
)


def ours(pair: NetnsPair, rig: BleRig, tmp: Path) -> dict:
    device = BleDevice(pair, rig, tmp / "device", WIFI)
    secret = tmp / "passphrase"
    secret.write_text(PASSPHRASE)
    provider = Provider(
        pair, tmp / "state", "--ble-adapter", CENTRAL, "--commission", device.manual_code, "--ble",
        "--wifi", SSID, "--wifi-passphrase-file", str(secret),
    )  # fmt: skip
    try:
        provider.start()
        try:
            (done,) = provider.wait_for("DeviceCommissioned", timeout=120)
        except AssertionError:
            return {"ok": False, "error": str(provider.named("CommissioningFailed"))}
        stages = [e for e in provider.named("CommissioningStage") if e["state"] == "done"]
        first = _epoch(provider.named("CommissioningStage")[0]["time"])
        (pase,) = [e for e in stages if e["stage"] == "secure pairing (PASE)"]
        return {
            "ok": True,
            "seconds": _epoch(done["time"]) - first,
            "pase_done_seconds": _epoch(pase["time"]) - first,
            "stages": {e["stage"]: e["seconds"] for e in stages},
        }
    finally:
        provider.stop()
        device.stop()


def sdk(pair: NetnsPair, rig: BleRig, tmp: Path) -> dict:
    device = BleDevice(pair, rig, tmp / "device", WIFI)
    try:
        step = {"do": "commission-ble-wifi", "node": 7, "passcode": 20202021, "discriminator": 3840}
        step |= {"ssid": SSID, "passphrase": PASSPHRASE}
        (outcome,) = run_sdk_controller(pair, tmp / "sdk.json", [step], tmp, namespace=pair.provider)
        return outcome if outcome["ok"] else {"ok": False, "error": outcome.get("error")}
    finally:
        device.stop()


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


def main() -> int:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    reason = netns_unavailable() or ble_rig_unavailable() or matterjs_unavailable()
    if reason:
        print(json.dumps({"benchmark": "ble_commissioning", "skipped": reason}))
        return 0
    pair = NetnsPair.create()
    runs: dict[str, list[dict]] = {"ours": [], "sdk": []}
    sides = [("ours", ours)] + ([("sdk", sdk)] if controller_python() else [])
    try:
        for number in range(rounds):
            for name, one_round in sides:
                with tempfile.TemporaryDirectory() as folder:
                    tmp = Path(folder)
                    rig = BleRig(tmp / "ble").start()
                    os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = rig.address
                    try:
                        started = time.monotonic()
                        result = one_round(pair, rig, tmp)
                        result.setdefault("wall", time.monotonic() - started)
                    finally:
                        rig.stop()
                runs[name].append(result)
                said = f"{result['seconds']:.2f} s" if result["ok"] else f"failed: {result['error']}"
                print(f"{name} round {number + 1}: {said}", flush=True)
    finally:
        with contextlib.suppress(Exception):
            pair.delete()
    summary: dict = {"benchmark": "ble_commissioning", "rounds": rounds, "results": {}}
    for name, results in runs.items():
        seconds = [r["seconds"] for r in results if r["ok"]]
        median = round(statistics.median(seconds), 2) if seconds else None
        entry: dict = {"succeeded": len(seconds), "median_seconds": median}
        pase = [r["pase_done_seconds"] for r in results if r.get("pase_done_seconds") is not None]
        if pase:
            entry["median_scan_to_pase_done_seconds"] = round(statistics.median(pase), 2)
        if seconds:
            entry["min_seconds"], entry["max_seconds"] = round(min(seconds), 2), round(max(seconds), 2)
        stages = [r["stages"] for r in results if r.get("stages")]
        if stages:
            entry["median_stage_seconds"] = {
                stage: round(statistics.median(s[stage] for s in stages if stage in s), 2) for stage in stages[0]
            }
        summary["results"][name] = entry
    summary["not_modelled"] = NOT_MODELLED
    print(f"not modelled by the mock radio: {NOT_MODELLED}")
    print(json.dumps(summary))
    return 0 if all(e["succeeded"] for e in summary["results"].values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
