#!/usr/bin/env python3
"""Goodput of the matter.js OTA requestor downloading from us over a lossy link.

The provider commissions a matter.js OTA Requestor device by address across a veth pair (as
``bench_bench_flow.py`` does) and offers it a 200 kB image. Once the device is commissioned
(CommissioningComplete, before it is pointed at us and queries), nftables rules on both
namespaces' input hooks drop that share of the Matter UDP datagrams (``numgen random``; mDNS is
spared): the loss hits the pointing, the query and the whole download, not the commissioning. (Waiting for the
transfer to start was too late: lossless, 200 kB take 0.2 s, so a round could finish before the
rules were in.) Goodput is the transfer's bytes over its duration, from the provider's own
TransferFinished event.

Goal (5% each way): at least 3x the 8.2 kB/s this requestor got before fast recovery.

Two kinds of device: the bare requestor (the root endpoint only) and one with an On/Off Light
endpoint as well, as a product has. matter.js gives a peer it knows nothing of (the provider) its
conservative network profile, 1.5 s more before every MRP retransmission, unless the device has
an application endpoint, when it uses its "fast" profile (@matter/node ServerNetworkRuntime).
Needs root, nftables (``apt-get install nftables``) and matter.js in tests/interop/matterjs.
Prints one line per round and a JSON summary last.
Run: ``sudo .venv/bin/python benchmarks/bench_loss_matterjs.py [rounds]``.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.bench_bench_flow import version_2_image  # noqa: E402
from ota_provider.core.codec.setup_payload import SetupPayload  # noqa: E402
from tests.interop.matterjs_peers import MatterJsRequestor, matterjs_unavailable  # noqa: E402
from tests.interop.netns import CONTROLLER_V6, NetnsPair, netns_unavailable  # noqa: E402
from tests.interop.peers import Provider  # noqa: E402

IMAGE_BYTES = 200_000
LOSSES = (0.0, 0.05, 0.10)
BEFORE_KBPS = 8.2
DEVICES = {"bare": False, "with light": True}  # the requestor alone; with an application endpoint


def lose(pair: NetnsPair, share: float) -> None:
    """Drop ``share`` of the UDP datagrams (but mDNS) arriving in each namespace."""
    for ns in (pair.provider, pair.controller):
        nft = [*pair.prefix(ns), "nft"]
        subprocess.run([*nft, "delete", "table", "inet", "lossy"], capture_output=True, check=False)
        if share:
            subprocess.run([*nft, "add", "table", "inet", "lossy"], check=True)
            subprocess.run([*nft, "add chain inet lossy input { type filter hook input priority 0; }"], check=True)
            subprocess.run(
                [
                    *nft,
                    f"add rule inet lossy input meta l4proto udp udp dport != 5353 "
                    f"numgen random mod 1000 < {round(share * 1000)} drop",
                ],
                check=True,
            )


def one_round(pair: NetnsPair, tmp: Path, image: Path, loss: float, number: int, light: bool) -> float:
    requestor = MatterJsRequestor(
        pair, tmp / "requestor", port=5551, passcode=20202031 + number, discriminator=3101 + number, light=light
    ).start()
    code = SetupPayload(
        discriminator=requestor.discriminator, passcode=requestor.passcode, vendor_id=0, product_id=0
    ).manual_code()
    provider = Provider(pair, tmp / "state", "--commission", f"{code}@[{CONTROLLER_V6}]:5551", image=str(image))
    try:
        provider.start()
        provider.wait_until(
            "CommissioningStage", lambda e: (e.get("stage"), e.get("state")) == ("commissioning complete", "done"), 300
        )
        lose(pair, loss)
        finished = provider.wait_for("TransferFinished", timeout=600)[0]
    finally:
        lose(pair, 0.0)
        provider.stop()
        requestor.stop()
    return finished["bytesSent"] / finished["seconds"]


def main() -> int:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    reason = netns_unavailable() or matterjs_unavailable() or (None if shutil.which("nft") else "nft is missing")
    if reason:
        print(f"bench_loss_matterjs: skipped: {reason}")
        return 0
    figures: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as folder:
        image = version_2_image(Path(folder), IMAGE_BYTES)
        pair = NetnsPair.create()
        try:
            for device, light in DEVICES.items():
                figures[device] = {}
                for loss in LOSSES:
                    rates = []
                    for number in range(rounds):
                        with tempfile.TemporaryDirectory() as round_folder:
                            rates.append(one_round(pair, Path(round_folder), image, loss, number, light))
                        print(
                            f"{device:11s} loss {loss:4.0%} each way, round {number + 1}: {rates[-1] / 1000:8.1f} kB/s",
                            flush=True,
                        )
                    figures[device][f"{loss:.0%}"] = round(statistics.fmean(rates) / 1000, 1)
        finally:
            pair.delete()
    for device, rates in figures.items():
        for key, rate in rates.items():
            print(
                f"{'matter.js ' + device + ', 200 kB, loss ' + key:44s} {rate:8.1f} kB/s  "
                f"({rate / rates['0%']:.1%} of lossless)"
            )
    at_5 = {device: rates["5%"] for device, rates in figures.items()}
    summary = {
        "benchmark": "loss_matterjs",
        "image_bytes": IMAGE_BYTES,
        "rounds": rounds,
        "kB_per_s": figures,
        "before_kB_per_s_5pct": BEFORE_KBPS,
        "speedup_5pct": {device: round(rate / BEFORE_KBPS, 1) for device, rate in at_5.items()},
        "goal_speedup": 3.0,
        "met": {device: rate >= 3 * BEFORE_KBPS for device, rate in at_5.items()},
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
