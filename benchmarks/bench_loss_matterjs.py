#!/usr/bin/env python3
"""Goodput of the matter.js OTA requestor over a lossy link, from our provider and, side by side in
the same run, from matter.js's own OTA provider (the peer), alternating round by round.

Each round: a fresh matter.js OTA Requestor device in one namespace and a fresh provider in the
other, joined by a veth pair. Ours commissions the device by address (``--commission``) and offers
it a 200 kB image; matter.js's (tests/interop/matterjs/ota_provider.mjs, a CommissioningController
with ``enableOtaProvider``, as the OHF matter server runs it) commissions it, stores the same image
and forces the update. Once the device is commissioned, nftables rules on both namespaces' input
hooks drop that share of the Matter UDP datagrams (``numgen random``; mDNS is spared): the loss
hits the pointing, the query and the whole download, not the commissioning. Goodput is measured
the same way for both, on the requestor's side: the image's bytes over the time from its
StateTransition into Downloading to its applying the image.

Two kinds of device: the bare requestor (the root endpoint only) and one with an On/Off Light
endpoint as well, as a product has. matter.js gives a peer it knows nothing of (the provider) its
conservative network profile, 1.5 s more before every MRP retransmission, unless the device has
an application endpoint, when it uses its "fast" profile (@matter/node ServerNetworkRuntime).
Needs root, nftables (``apt-get install nftables``) and matter.js in tests/interop/matterjs.
Prints one line per round, then per loss point and device kind: ours, matter.js's and the ratio
(median, with the range over the rounds), and a JSON summary last.
Run: ``sudo .venv/bin/python benchmarks/bench_loss_matterjs.py [rounds] [loss,loss,...]``
(default 3 rounds at 0, 2, 5 and 10% each way).
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
from tests.interop.matterjs_peers import MatterJsProvider, MatterJsRequestor, matterjs_unavailable  # noqa: E402
from tests.interop.netns import CONTROLLER_V6, NetnsPair, netns_unavailable  # noqa: E402
from tests.interop.peers import Provider  # noqa: E402

IMAGE_BYTES = 200_000
LOSSES = (0.0, 0.02, 0.05, 0.10)
GOAL_RATIO_5PCT = 2.0  # the goal: at least twice matter.js's provider's goodput at 5% each way
DEVICES = {"bare": False, "with light": True}  # the requestor alone; with an application endpoint
DOWNLOADING = 4  # UpdateStateEnum
BLOCK_BYTES = 1024  # the block both providers use over UDP (the requestor asks for 1024)


def lose(pair: NetnsPair, share: float | None) -> None:
    """Drop ``share`` of the UDP datagrams (but mDNS) arriving in each namespace, counting every
    one that arrives first (what the other side sent); None: no rules at all."""
    for ns in (pair.provider, pair.controller):
        nft = [*pair.prefix(ns), "nft"]
        subprocess.run([*nft, "delete", "table", "inet", "lossy"], capture_output=True, check=False)
        if share is None:
            continue
        subprocess.run([*nft, "add", "table", "inet", "lossy"], check=True)
        subprocess.run([*nft, "add chain inet lossy input { type filter hook input priority 0; }"], check=True)
        subprocess.run([*nft, "add rule inet lossy input meta l4proto udp udp dport != 5353 counter"], check=True)
        if share:
            subprocess.run(
                [
                    *nft,
                    f"add rule inet lossy input meta l4proto udp udp dport != 5353 "
                    f"numgen random mod 1000 < {round(share * 1000)} drop",
                ],
                check=True,
            )


def sent_datagrams(pair: NetnsPair) -> dict[str, int]:
    """Matter datagrams each side sent since :func:`lose` (counted where they arrive, before the drop)."""
    counts = {}
    for side, ns in (("requestor", pair.provider), ("provider", pair.controller)):
        command = [*pair.prefix(ns), "nft", "-j", "list", "table", "inet", "lossy"]
        listed = subprocess.run(command, capture_output=True, text=True, check=True)
        rules = [item["rule"] for item in json.loads(listed.stdout)["nftables"] if "rule" in item]
        counts[side] = next(e["counter"]["packets"] for r in rules for e in r["expr"] if "counter" in e)
    return counts


def _downloaded(requestor: MatterJsRequestor, pair: NetnsPair, timeout: float) -> tuple[float, float]:
    """Bytes per second on the requestor's side (into Downloading, to applying the image), and the
    provider's datagrams per 1 kB block delivered (from the loss rules on)."""
    applying = requestor.wait_for("applying", timeout)
    downloading = [v for v in requestor.events("state") if v.get("newState") == DOWNLOADING]
    sent = sent_datagrams(pair)["provider"]
    return applying["bytes"] / (applying["t"] - downloading[0]["t"]), sent / (applying["bytes"] / BLOCK_BYTES)


def one_round(
    pair: NetnsPair, tmp: Path, image: Path, loss: float, number: int, light: bool, ours: bool
) -> tuple[float, float]:
    requestor = MatterJsRequestor(
        pair, tmp / "requestor", port=5551, passcode=20202031 + number, discriminator=3101 + number, light=light
    ).start()
    try:
        if ours:
            code = SetupPayload(
                discriminator=requestor.discriminator, passcode=requestor.passcode, vendor_id=0, product_id=0
            ).manual_code()
            provider = Provider(pair, tmp / "state", "--commission", f"{code}@[{CONTROLLER_V6}]:5551", image=str(image))
            try:
                provider.start()
                provider.wait_until(
                    "CommissioningStage",
                    lambda e: (e.get("stage"), e.get("state")) == ("commissioning complete", "done"),
                    300,
                )
                lose(pair, loss)
                return _downloaded(requestor, pair, 600)
            finally:
                lose(pair, None)
                provider.stop()
        peer = MatterJsProvider(pair, tmp / "matterjs-provider", image, requestor, CONTROLLER_V6).start()
        try:
            peer.wait_commissioned(300)
            lose(pair, loss)
            peer.go()
            return _downloaded(requestor, pair, 600)
        finally:
            lose(pair, None)
            peer.stop()
    finally:
        requestor.stop()


def _spread(values: list[float]) -> dict[str, float]:
    return {
        "median": round(statistics.median(values), 2),
        "min": round(min(values), 2),
        "max": round(max(values), 2),
    }


def main() -> int:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    losses = tuple(float(x) for x in sys.argv[2].split(",")) if len(sys.argv) > 2 else LOSSES
    reason = netns_unavailable() or matterjs_unavailable() or (None if shutil.which("nft") else "nft is missing")
    if reason:
        print(f"bench_loss_matterjs: skipped: {reason}")
        return 0
    points: dict[str, dict[str, dict]] = {}
    with tempfile.TemporaryDirectory() as folder:
        image = version_2_image(Path(folder), IMAGE_BYTES)
        pair = NetnsPair.create()
        try:
            for device, light in DEVICES.items():
                points[device] = {}
                for loss in losses:
                    rates: dict[str, list[float]] = {"ours": [], "matter.js": []}
                    datagrams: dict[str, list[float]] = {"ours": [], "matter.js": []}
                    for number in range(rounds):
                        for side in ("ours", "matter.js"):  # alternating, on the same link
                            with tempfile.TemporaryDirectory() as round_folder:
                                rate, per_block = one_round(
                                    pair, Path(round_folder), image, loss, number, light, side == "ours"
                                )
                            rates[side].append(rate / 1000)
                            datagrams[side].append(per_block)
                            print(
                                f"{device:11s} loss {loss:4.0%} each way, round {number + 1}, {side:9s}: "
                                f"{rates[side][-1]:8.1f} kB/s, {per_block:.2f} datagrams per kB block",
                                flush=True,
                            )
                    ratios = [a / b for a, b in zip(rates["ours"], rates["matter.js"], strict=True)]
                    points[device][f"{loss:.0%}"] = {
                        "ours_kB_per_s": _spread(rates["ours"]),
                        "matterjs_kB_per_s": _spread(rates["matter.js"]),
                        "ratio": _spread(ratios),
                        "ours_datagrams_per_block": _spread(datagrams["ours"]),
                        "matterjs_datagrams_per_block": _spread(datagrams["matter.js"]),
                    }
        finally:
            pair.delete()
    for device, by_loss in points.items():
        for key, point in by_loss.items():
            ours, theirs, ratio = point["ours_kB_per_s"], point["matterjs_kB_per_s"], point["ratio"]
            print(
                f"{device:11s} loss {key:>4s}: ours {ours['median']:7.1f} kB/s ({ours['min']}-{ours['max']}), "
                f"matter.js {theirs['median']:7.1f} kB/s ({theirs['min']}-{theirs['max']}), "
                f"ratio {ratio['median']:.2f}x ({ratio['min']:.2f}-{ratio['max']:.2f}); datagrams per block "
                f"ours {point['ours_datagrams_per_block']['median']:.2f}, "
                f"matter.js {point['matterjs_datagrams_per_block']['median']:.2f}"
            )
    at_5 = {device: by_loss["5%"]["ratio"]["median"] for device, by_loss in points.items() if "5%" in by_loss}
    summary = {
        "benchmark": "loss_matterjs",
        "image_bytes": IMAGE_BYTES,
        "rounds": rounds,
        "points": points,
        "goal_ratio_5pct": GOAL_RATIO_5PCT,
        "met": {device: ratio >= GOAL_RATIO_5PCT for device, ratio in at_5.items()},
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
