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
``--link thread``: instead of the veth, a Thread-like link (tests/interop/slow_link.py: TUN devices
and a relay that delays every packet 30-150 ms one way, in order, and drops the loss share; the
default points are then 2 and 5%); the goal there is 1.5x. ``--link relay``: the same relay with
no delay, in place of the veth and nftables. On both, the relay records every datagram's header
and fate, and each point also prints where the time went: for every lost datagram, what recovered
it and after how long (a Block resent on the provider's own timer or on the requestor's repeated
BlockQuery, a BlockQuery resent on the requestor's timer), per provider.
Run: ``sudo .venv/bin/python benchmarks/bench_loss_matterjs.py [rounds] [loss,...] [--link thread] [--image-kb N]``
(default 3 rounds at 0, 2, 5 and 10% each way).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.bench_bench_flow import version_2_image  # noqa: E402
from benchmarks.bench_ota import process_cpu_seconds  # noqa: E402
from ota_provider.core.codec.setup_payload import SetupPayload  # noqa: E402
from tests.interop.matterjs_peers import MatterJsProvider, MatterJsRequestor, matterjs_unavailable  # noqa: E402
from tests.interop.netns import CONTROLLER_V6, NetnsPair, netns_unavailable  # noqa: E402
from tests.interop.peers import Provider  # noqa: E402
from tests.interop.slow_link import SlowLinkPair  # noqa: E402

IMAGE_BYTES = 200_000
LOSSES = {"veth": (0.0, 0.02, 0.05, 0.10), "relay": (0.0, 0.02, 0.05, 0.10), "thread": (0.02, 0.05)}
GOALS = {"veth": 2.0, "relay": 2.0, "thread": 1.5}  # that times matter.js's provider's goodput (veth: at 5%)
DELAYS = {"relay": (0.0, 0.0), "thread": (0.030, 0.150)}  # one way, seconds
BLOCK_MIN = 900  # a datagram this long carries a Block
ACK_BYTES = 34  # a standalone ack: message header 8, protocol header with the ack 10, MIC 16
DEVICES = {"bare": False, "with light": True}  # the requestor alone; with an application endpoint
DOWNLOADING = 4  # UpdateStateEnum
BLOCK_BYTES = 1024  # the block both providers use over UDP (the requestor asks for 1024)
WHOLE_DOWNLOAD = 0.98  # provider datagrams per block counted from the loss on: below, it came late
MAX_ATTEMPTS = 3


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


def start_loss(pair: NetnsPair, share: float, record: Path) -> None:
    """The loss from now on: nftables on a veth; the relay's own on a relay link (counted by
    nftables too), which also records every datagram to ``record``."""
    if isinstance(pair, SlowLinkPair):
        lose(pair, 0.0)
        pair.record(record)
        pair.set_loss(share)
    else:
        lose(pair, share)


def end_loss(pair: NetnsPair) -> None:
    lose(pair, None)
    if isinstance(pair, SlowLinkPair):
        pair.set_loss(0.0)
        pair.record(None)


def recoveries(record: Path, one_way: float) -> dict[str, list[float]]:
    """For each datagram the link dropped (the first loss of each message), what recovered it and
    the seconds from the loss to the same message getting through: read from the relay's record
    (direction, session id, message counter, length, dropped), the clear part of each datagram."""
    rows = [json.loads(line) for line in record.read_text().splitlines()]
    delivered: dict[tuple, list[float]] = defaultdict(list)
    repeats = []  # when a message from the requestor that had been sent before got through
    seen: set[tuple] = set()
    for at, direction, session, counter, _length, dropped in rows:
        key = (direction, session, counter)
        if not dropped:
            delivered[key].append(at)
            if direction == "c2p" and key in seen:
                repeats.append(at)
        seen.add(key)
    found: dict[str, list[float]] = defaultdict(list)
    counted: set[tuple] = set()
    for at, direction, session, counter, length, dropped in rows:
        key = (direction, session, counter)
        if not dropped or key in counted:
            continue
        counted.add(key)
        later = [t for t in delivered[key] if t > at]
        if direction == "p2c" and length >= BLOCK_MIN:
            if not later:
                found["Block lost, never resent"].append(0.0)
                continue
            # the provider resent it within one trip of a repeated BlockQuery passing the link: prompted
            prompted = any(later[0] - one_way - 0.01 <= t <= later[0] for t in repeats)
            cause = "Block lost, resent on the requestor's repeat" if prompted else "Block lost, resent on the timer"
        elif direction == "c2p" and length > ACK_BYTES:  # during the download: a BlockQuery
            cause = "BlockQuery lost, resent on the requestor's timer"
        else:
            cause = f"{'standalone ack' if length == ACK_BYTES else 'other message'} lost ({direction})"
        found[cause].append(later[0] - at if later else 0.0)
    return found


def _downloaded(
    requestor: MatterJsRequestor, pair: NetnsPair, timeout: float, record: Path, one_way: float, provider_pid: int
) -> dict:
    """Bytes per second on the requestor's side (into Downloading, to applying the image), the
    provider's datagrams per 1 kB block delivered (from the loss rules on), its CPU per block over the
    download (the same window as the rate) and over everything from the loss rules on (the
    announcement, the requestor's CASE and query as well), and on a relay link the recoveries."""
    cpu_before = process_cpu_seconds(provider_pid)  # ``ip netns exec`` execs the command: the same pid
    requestor.wait_for("state", timeout, newState=DOWNLOADING)
    cpu_downloading = process_cpu_seconds(provider_pid)
    applying = requestor.wait_for("applying", timeout)
    cpu_end = process_cpu_seconds(provider_pid)
    blocks = applying["bytes"] / BLOCK_BYTES
    downloading = [v for v in requestor.events("state") if v.get("newState") == DOWNLOADING]
    sent = sent_datagrams(pair)["provider"]
    result = {
        "rate": applying["bytes"] / (applying["t"] - downloading[0]["t"]),
        "per_block": sent / (applying["bytes"] / BLOCK_BYTES),
        "seconds": applying["t"] - downloading[0]["t"],
        "cpu_us_per_block": (cpu_end - cpu_downloading) / blocks * 1e6,
        "cpu_us_per_block_all": (cpu_end - cpu_before) / blocks * 1e6,
        "recoveries": {},
    }
    if isinstance(pair, SlowLinkPair):
        end_loss(pair)  # the record complete
        result["recoveries"] = recoveries(record, one_way)
    return result


def one_round(
    pair: NetnsPair, tmp: Path, image: Path, loss: float, number: int, light: bool, ours: bool, one_way: float
) -> dict:
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
                start_loss(pair, loss, tmp / "datagrams.jsonl")
                assert provider.proc is not None
                return _downloaded(requestor, pair, 900, tmp / "datagrams.jsonl", one_way, provider.proc.pid)
            finally:
                end_loss(pair)
                provider.stop()
        peer = MatterJsProvider(pair, tmp / "matterjs-provider", image, requestor, CONTROLLER_V6).start()
        try:
            peer.wait_commissioned(300)
            start_loss(pair, loss, tmp / "datagrams.jsonl")
            assert peer.proc is not None
            peer.go()
            return _downloaded(requestor, pair, 900, tmp / "datagrams.jsonl", one_way, peer.proc.pid)
        finally:
            end_loss(pair)
            peer.stop()
    finally:
        requestor.stop()


def _spread(values: list[float]) -> dict[str, float]:
    return {
        "median": round(statistics.median(values), 2),
        "min": round(min(values), 2),
        "max": round(max(values), 2),
    }


def _point(
    pair: NetnsPair,
    image: Path,
    loss: float,
    rounds: int,
    device: str,
    light: bool,
    link: str,
    delay: tuple[float, float] | None,
) -> dict:
    """One loss point: ``rounds`` rounds of each provider, alternating, on the same link."""
    results: dict[str, list[dict]] = {"ours": [], "matter.js": []}
    for number in range(rounds):
        for side in ("ours", "matter.js"):
            for attempt in range(MAX_ATTEMPTS):
                with tempfile.TemporaryDirectory() as round_folder:
                    one_way = delay[1] if delay else 0.0
                    result = one_round(pair, Path(round_folder), image, loss, number, light, side == "ours", one_way)
                if result["per_block"] >= WHOLE_DOWNLOAD:
                    break
                # Fewer datagrams than blocks since the loss rules went on: the requestor began before
                # them (it may query the moment it is commissioned), so the round says nothing of loss.
                print(f"  {side} round {number + 1}: the download began before the loss; again ({attempt + 1})")
            results[side].append(result)
            print(
                f"{link} {device:11s} loss {loss:4.0%} each way, round {number + 1}, {side:9s}: "
                f"{result['rate'] / 1000:8.1f} kB/s, {result['per_block']:.2f} datagrams per kB block, "
                f"{result['cpu_us_per_block']:.0f} us CPU per block downloading "
                f"({result['cpu_us_per_block_all']:.0f} with the announcement, CASE and query)",
                flush=True,
            )
    rates = {side: [r["rate"] / 1000 for r in done] for side, done in results.items()}
    ratios = [a / b for a, b in zip(rates["ours"], rates["matter.js"], strict=True)]
    breakdown: dict[str, dict[str, dict]] = {}
    for side, done in results.items():
        merged: dict[str, list[float]] = defaultdict(list)
        for result in done:
            for cause, seconds in result["recoveries"].items():
                merged[cause].extend(seconds)
        download_time = sum(r["seconds"] for r in done)
        breakdown[side] = {
            cause: {
                "count": len(seconds),
                "mean_s": round(statistics.mean(seconds), 3),
                "total_s": round(sum(seconds), 1),
                "share": round(sum(seconds) / download_time, 3),
            }
            for cause, seconds in sorted(merged.items())
        }
    return {
        "ours_kB_per_s": _spread(rates["ours"]),
        "matterjs_kB_per_s": _spread(rates["matter.js"]),
        "ratio": _spread(ratios),
        "ours_datagrams_per_block": _spread([r["per_block"] for r in results["ours"]]),
        "matterjs_datagrams_per_block": _spread([r["per_block"] for r in results["matter.js"]]),
        "ours_cpu_us_per_block": _spread([r["cpu_us_per_block"] for r in results["ours"]]),
        "matterjs_cpu_us_per_block": _spread([r["cpu_us_per_block"] for r in results["matter.js"]]),
        "ours_cpu_us_per_block_all": _spread([r["cpu_us_per_block_all"] for r in results["ours"]]),
        "matterjs_cpu_us_per_block_all": _spread([r["cpu_us_per_block_all"] for r in results["matter.js"]]),
        "recoveries": breakdown,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description="goodput under loss, ours beside matter.js's provider")
    parser.add_argument("rounds", nargs="?", type=int, default=3)
    parser.add_argument("losses", nargs="?", help="loss shares each way, comma-separated")
    parser.add_argument("--link", choices=sorted(LOSSES), default="veth")
    parser.add_argument("--image-kb", type=int, default=IMAGE_BYTES // 1000, help="image size (default 200)")
    args = parser.parse_args()
    rounds, link = args.rounds, args.link
    losses = tuple(float(x) for x in args.losses.split(",")) if args.losses else LOSSES[link]
    reason = netns_unavailable() or matterjs_unavailable() or (None if shutil.which("nft") else "nft is missing")
    if reason:
        print(f"bench_loss_matterjs: skipped: {reason}")
        return 0
    points: dict[str, dict[str, dict]] = {}
    delay = DELAYS.get(link)
    with tempfile.TemporaryDirectory() as folder:
        image = version_2_image(Path(folder), args.image_kb * 1000)
        pair = SlowLinkPair.create_slow(delay) if delay is not None else NetnsPair.create()
        try:
            for device, light in DEVICES.items():
                points[device] = {}
                for loss in losses:
                    points[device][f"{loss:.0%}"] = _point(pair, image, loss, rounds, device, light, link, delay)
        finally:
            pair.delete()
    for device, by_loss in points.items():
        for key, point in by_loss.items():
            ours, theirs, ratio = point["ours_kB_per_s"], point["matterjs_kB_per_s"], point["ratio"]
            print(
                f"{link} {device:11s} loss {key:>4s}: ours {ours['median']:7.1f} kB/s ({ours['min']}-{ours['max']}), "
                f"matter.js {theirs['median']:7.1f} kB/s ({theirs['min']}-{theirs['max']}), "
                f"ratio {ratio['median']:.2f}x ({ratio['min']:.2f}-{ratio['max']:.2f}); datagrams per block "
                f"ours {point['ours_datagrams_per_block']['median']:.2f}, "
                f"matter.js {point['matterjs_datagrams_per_block']['median']:.2f}; CPU per block "
                f"ours {point['ours_cpu_us_per_block']['median']:.0f} us, "
                f"matter.js {point['matterjs_cpu_us_per_block']['median']:.0f} us downloading; "
                f"from the loss on ours {point['ours_cpu_us_per_block_all']['median']:.0f} us, "
                f"matter.js {point['matterjs_cpu_us_per_block_all']['median']:.0f} us"
            )
            for side in ("ours", "matter.js"):
                for cause, figures in point["recoveries"][side].items():
                    print(
                        f"    {side:9s} {cause:50s} {figures['count']:4d} times, mean {figures['mean_s']:.3f} s, "
                        f"{figures['total_s']:6.1f} s in all ({figures['share']:.0%} of the download time)"
                    )
    goal_at = "5%" if link == "veth" else None  # on the Thread-like link, every point
    summary = {
        "benchmark": "loss_matterjs",
        "link": link,
        "one_way_delay_s": list(delay) if delay else 0,
        "image_bytes": args.image_kb * 1000,
        "rounds": rounds,
        "points": points,
        "goal_ratio": GOALS[link],
        "met": {
            f"{device} {key}": point["ratio"]["median"] >= GOALS[link]
            for device, by_loss in points.items()
            for key, point in by_loss.items()
            if goal_at in (None, key)
        },
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
