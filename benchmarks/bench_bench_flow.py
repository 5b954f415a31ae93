#!/usr/bin/env python3
"""The bench flow, timed as a technician meets it: ``ota-provider --commission CODE`` (by address
and by DNS-SD discovery) against a matter.js OTA Requestor device across a veth pair.

Figures per round, from the provider's own event times:
- commission -> announced: from the first commissioning stage to "announce: done" (goal <= 3 s);
- start -> verified: from "Listening" to "verified on the device" for a 1 MB image, which covers
  commissioning, the requestor's query delay, the BDX download, its apply and reboot, and our check.
Needs root (network namespaces) and matter.js in tests/interop/matterjs (``./run tests`` installs
it). Prints one line per round and a JSON summary last.
Run: ``sudo .venv/bin/python benchmarks/bench_bench_flow.py [rounds]``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ota_provider.core.codec.setup_payload import SetupPayload  # noqa: E402
from ota_provider.core.ota.image import HeaderFields, create_image  # noqa: E402
from tests.interop.matterjs_peers import MatterJsRequestor, matterjs_unavailable  # noqa: E402
from tests.interop.netns import CONTROLLER_V6, NetnsPair, netns_unavailable  # noqa: E402
from tests.interop.peers import Provider  # noqa: E402

GOAL_ANNOUNCED_SECONDS = 3.0
IMAGE_BYTES = 1_000_000


def _at(event: dict) -> float:
    return dt.datetime.fromisoformat(event["time"].replace("Z", "+00:00")).timestamp()


def version_2_image(folder: Path, size: int) -> Path:
    """A version-2 image for the matter.js requestor (VID 0xFFF1, PID 0x8000) of ``size`` payload bytes."""
    payload = folder / "payload.bin"
    payload.write_bytes(hashlib.shake_256(b"bench firmware").digest(size))
    image = folder / "image-v2.ota"
    create_image([payload], image, HeaderFields(0xFFF1, 0x8000, 2, "2.0.0"), "sha256")
    return image


def one_round(pair: NetnsPair, tmp: Path, image: Path, found_by: str, number: int) -> dict:
    requestor = MatterJsRequestor(
        pair, tmp / "requestor", port=5551, passcode=20202031 + number, discriminator=3101 + number
    ).start()
    code = SetupPayload(
        discriminator=requestor.discriminator, passcode=requestor.passcode, vendor_id=0, product_id=0
    ).manual_code()
    target = f"{code}@[{CONTROLLER_V6}]:5551" if found_by == "address" else code
    provider = Provider(
        pair, tmp / "state", "--commission", target, "--exit-when-updated", "--timeout", "300", image=str(image)
    )
    try:
        provider.start()
        verified = [
            e for e in provider.wait_for("DeviceStep", count=4, timeout=300) if e["step"] == "verified on the device"
        ]
        if not verified:
            raise AssertionError(f"not verified: {provider.named('DeviceStep')}")
    finally:
        provider.stop()
        requestor.stop()
    listening = _at(provider.named("Listening")[0])
    first_stage = _at(provider.named("CommissioningStage")[0])
    announced = next(_at(e) for e in provider.named("DeviceStep") if e["step"] == "announce")
    return {
        "found_by": found_by,
        "commission_to_announced_s": round(announced - first_stage, 3),
        "start_to_verified_s": round(_at(verified[0]) - listening, 3),
    }


def main() -> int:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    reason = netns_unavailable() or matterjs_unavailable()
    if reason:
        print(f"bench_bench_flow: skipped: {reason}")
        return 0
    results = []
    with tempfile.TemporaryDirectory() as folder:
        image = version_2_image(Path(folder), IMAGE_BYTES)
        pair = NetnsPair.create()
        try:
            for found_by in ("address", "discovery"):
                for number in range(rounds):
                    with tempfile.TemporaryDirectory() as round_folder:
                        result = one_round(pair, Path(round_folder), image, found_by, number)
                    results.append(result)
                    print(
                        f"{found_by:9} round {number + 1}: commission -> announced "
                        f"{result['commission_to_announced_s']:.3f} s, start -> verified on the device "
                        f"{result['start_to_verified_s']:.3f} s",
                        flush=True,
                    )
        finally:
            pair.delete()
    summary = {
        "benchmark": "bench_flow",
        "payload_bytes": IMAGE_BYTES,
        "goal_announced_s": GOAL_ANNOUNCED_SECONDS,
        "note": "matter.js's OTA timers run 120 times faster (tests/interop/matterjs_peers.py)",
    }
    for found_by in ("address", "discovery"):
        mine = [r for r in results if r["found_by"] == found_by]
        announced = statistics.median(r["commission_to_announced_s"] for r in mine)
        verified = statistics.median(r["start_to_verified_s"] for r in mine)
        summary[found_by] = {
            "commission_to_announced_median_s": round(announced, 3),
            "start_to_verified_median_s": round(verified, 3),
            "rounds": len(mine),
        }
    summary["goal_met"] = all(
        summary[f]["commission_to_announced_median_s"] <= GOAL_ANNOUNCED_SECONDS for f in ("address", "discovery")
    )
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
