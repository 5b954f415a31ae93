"""``ota-requestor-sim``: simulated OTA requestors on the provider's demo fabric.

Each requestor opens CASE to the provider, sends QueryImage with its VID/PID/version, and on
UpdateAvailable downloads the image over BDX, verifies its digest, sends ApplyUpdateRequest
and NotifyUpdateApplied, as a real requestor would. One line per step (``--json`` for JSON lines);
the exit status is 0 only if every requestor ended where it should.

By default a requestor stops at the first answer that is not an offer (Busy, NotAvailable) or not
Proceed. With ``--sdk-timers`` it does what the SDK's requestor (DefaultOTARequestorDriver) does:
after Busy it asks the same provider again after max(120 s, DelayedActionTime), giving up once
``--query-budget`` queries were answered Busy; it waits an offer's DelayedActionTime before
downloading; after AwaitNextAction it asks again after max(120 s, DelayedActionTime); after
Discontinue it drops the image. ``--time-scale`` shrinks those waits (0.01: 120 s is 1.2 s) for a
bench script or CI; the lines say both the SDK's wait and the one taken.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import installed_version
from ..exchange.driver import ExchangeDriver
from ..exchange.manager import ExchangeManager
from ..fabric.demo import DemoFabric, DemoFabricError
from ..node_ids import node_text
from ..ota.types import ApplyUpdateAction, DownloadProtocol, QueryImageStatus
from ..presentation.words import plural, spec_name
from .requestor import CommandFailed, DownloadError, OtaRequestorClient

PROG = "ota-requestor-sim"
FIRST_NODE_ID = 0x0000_0000_0000_1000
# The SDK requestor's timers (OTA_PROVIDER_SPEC.md §5.2-5.4): the least it waits after Busy or
# AwaitNextAction, and how many queries one provider gets while it answers Busy
# (kMaxBusyProviderRetryCount = 3: the 4th Busy moves the requestor on).
SDK_MIN_DELAY_SECONDS = 120
SDK_QUERIES_PER_PROVIDER = 4


def _number(text: str) -> int:
    try:
        return int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number (decimal or 0x-hex)") from None


def _at_least_one(text: str) -> int:
    count = _number(text)
    if count < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: give at least one requestor")
    return count


def _scale(text: str) -> float:
    try:
        scale = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number (1: the SDK's waits as they are)") from None
    if not 0 <= scale <= 1000:  # NaN too: it compares false
        raise argparse.ArgumentTypeError(f"{text!r}: give a factor from 0 to 1000 (0.01 makes 120 s into 1.2 s)")
    return scale


def _versions(text: str) -> list[int]:
    return [_number(part) for part in text.split(",") if part]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[1].replace("\n", " "))
    parser.add_argument(
        "--fabric",
        type=Path,
        required=True,
        metavar="FILE",
        help="the provider's demo-fabric.json (ota-provider --demo-fabric prints it)",
    )
    parser.add_argument("--host", default="::1", help="provider address (default ::1)")
    parser.add_argument("--port", type=_number, default=5540, help="provider UDP port (default 5540)")
    parser.add_argument("--version", action="version", version=f"{PROG} {installed_version()}")
    parser.add_argument("-n", "--count", type=_at_least_one, default=1, help="number of requestors (default 1)")
    parser.add_argument("--vendor-id", type=_number, default=0xFFF1, help="VID the requestors report")
    parser.add_argument("--product-id", type=_number, default=0x8000, help="PID the requestors report")
    parser.add_argument(
        "--versions",
        type=_versions,
        default=[1],
        metavar="V[,V...]",
        help="current software versions, assigned round-robin (default 1)",
    )
    parser.add_argument("--first-node-id", type=_number, default=FIRST_NODE_ID, help="node id of the first requestor")
    parser.add_argument("--max-block-size", type=_number, default=1024, help="BDX block size to propose")
    parser.add_argument("--out", type=Path, help="directory for downloaded images (default: a temporary one)")
    parser.add_argument(
        "--stop-after-blocks",
        type=_number,
        metavar="N",
        help="abandon each download after N blocks (to watch the provider release it)",
    )
    parser.add_argument(
        "--asynchronous", action="store_true", help="list only BDX asynchronous and let the provider push the blocks"
    )
    parser.add_argument(
        "--sdk-timers",
        action="store_true",
        help="after Busy or AwaitNextAction ask again after max(120 s, DelayedActionTime), wait an "
        "offer's DelayedActionTime, as the SDK requestor does (default: stop at the first "
        "answer that is not an offer or Proceed)",
    )
    parser.add_argument(
        "--query-budget",
        type=_at_least_one,
        metavar="N",
        help=f"with --sdk-timers: queries answered Busy before giving up (default "
        f"{SDK_QUERIES_PER_PROVIDER}, the SDK's), and ApplyUpdateRequests answered "
        "AwaitNextAction",
    )
    parser.add_argument(
        "--time-scale",
        type=_scale,
        metavar="F",
        help="with --sdk-timers: multiply every wait by F (default 1; 0.01 makes 120 s into 1.2 s)",
    )
    parser.add_argument("--json", dest="json_lines", action="store_true", help="print JSON lines")
    return parser


@dataclass
class SimRequestor:
    node_id: int
    version: int
    report: Any
    ended_well: bool = True  # when it stopped before an offer: was that where it should end?

    async def run(self, args: argparse.Namespace, demo: DemoFabric, out_dir: Path) -> bool:
        driver = await ExchangeDriver.open(ExchangeManager(), port=0, host="::" if ":" in args.host else "0.0.0.0")
        address = (args.host, args.port, 0, 0) if ":" in args.host else (args.host, args.port)
        client = OtaRequestorClient(driver, demo.fabric_for(self.node_id), demo.provider_node_id, address)
        try:
            return await self._run(client, args, out_dir)
        except (ConnectionError, TimeoutError, CommandFailed, DownloadError) as exc:
            self.report(self.node_id, "error", f"{type(exc).__name__}: {exc}", error=str(exc))
            return False
        finally:
            driver.close()

    async def _run(self, client: OtaRequestorClient, args: argparse.Namespace, out_dir: Path) -> bool:
        # A device keeps trying to reach its provider; 60 s covers a provider answering Busy to a
        # crowd of a thousand from one host, served in turn.
        await client.connect(timeout=CONNECT_SECONDS)
        self.report(self.node_id, "connected", "CASE session established")
        offer = await self._query_until_answered(client, args)
        if offer is None:
            return self.ended_well
        assert offer.image_uri is not None and offer.update_token is not None and offer.software_version is not None
        if args.sdk_timers and offer.delayed_action_time:  # the SDK requestor honours it even on an offer
            await self._wait(args, offer.delayed_action_time, offer.delayed_action_time, "before downloading")
        target = out_dir / f"requestor-{self.node_id:016X}.ota"
        result = await client.download(
            offer.image_uri,
            target,
            max_block_size=args.max_block_size,
            stop_after_blocks=args.stop_after_blocks,
            asynchronous=args.asynchronous,
        )
        self.report(
            self.node_id,
            "downloaded",
            f"{result.size} bytes in {result.blocks} blocks of {result.block_size}, {result.seconds:.2f} s "
            f"({result.rate / 1000:.0f} kB/s), digest verified",
            bytes=result.size,
            blocks=result.blocks,
            seconds=round(result.seconds, 3),
            path=str(target),
            digestOk=True,
        )
        for attempt in range(1, args.query_budget + 1):
            applied = await client.apply_update(offer.update_token, offer.software_version)
            action = ApplyUpdateAction(applied.action)
            delay = applied.delayed_action_time
            self.report(
                self.node_id,
                "apply",
                f"ApplyUpdate: {spec_name(action)}, delay {delay} s",
                action=action.name,
                delayedActionTime=delay,
            )
            if action == ApplyUpdateAction.PROCEED:
                break
            if action == ApplyUpdateAction.DISCONTINUE or not args.sdk_timers:
                if args.sdk_timers:
                    self.report(self.node_id, "idle", "Discontinue: the image is dropped, the requestor goes Idle")
                return True
            if attempt == args.query_budget:
                self.report(
                    self.node_id,
                    "gave-up",
                    f"{plural(attempt, 'ApplyUpdateRequest')} answered AwaitNextAction: giving up (--query-budget)",
                )
                return False
            await self._wait(
                args,
                max(SDK_MIN_DELAY_SECONDS, applied.delayed_action_time),
                applied.delayed_action_time,
                "before asking to apply again",
            )
        if args.sdk_timers and applied.delayed_action_time:
            await self._wait(args, applied.delayed_action_time, applied.delayed_action_time, "before applying")
        self.version = offer.software_version
        await client.notify_update_applied(offer.update_token, self.version)
        self.report(
            self.node_id, "applied", f"NotifyUpdateApplied: now on version {self.version}", version=self.version
        )
        return True

    async def _query_until_answered(self, client: OtaRequestorClient, args: argparse.Namespace):
        """QueryImage until an offer (returned), or an answer that ends here (None; ``ended_well``
        says whether that is where a requestor should end)."""
        protocols = (DownloadProtocol.BDX_ASYNCHRONOUS,) if args.asynchronous else (DownloadProtocol.BDX_SYNCHRONOUS,)
        for attempt in range(1, args.query_budget + 1):
            asked = time.monotonic()
            offer = await client.query_image(args.vendor_id, args.product_id, self.version, protocols=protocols)
            answered_in = time.monotonic() - asked
            status = QueryImageStatus(offer.status)
            self.report(
                self.node_id,
                "queried",
                f"QueryImage from version {self.version}: {spec_name(status)}"
                + (f", version {offer.software_version} at {offer.image_uri}" if offer.image_uri else ""),
                status=status.name,
                softwareVersion=offer.software_version,
                imageUri=offer.image_uri,
                delayedActionTime=offer.delayed_action_time,
                userConsentNeeded=offer.user_consent_needed,
                seconds=round(answered_in, 4),
                attempt=attempt,
            )
            if status == QueryImageStatus.UPDATE_AVAILABLE:
                return offer
            if status != QueryImageStatus.BUSY or not args.sdk_timers:
                self.ended_well = status in (QueryImageStatus.NOT_AVAILABLE, QueryImageStatus.BUSY)
                return None
            if attempt == args.query_budget:
                break
            delay = offer.delayed_action_time or 0
            await self._wait(args, max(SDK_MIN_DELAY_SECONDS, delay), delay, "before asking again")
        self.report(
            self.node_id,
            "gave-up",
            f"{plural(args.query_budget, 'query')} answered Busy: the provider is "
            "given up (an SDK requestor moves to its next provider)",
            queries=args.query_budget,
        )
        self.ended_well = False
        return None

    async def _wait(self, args: argparse.Namespace, sdk_seconds: float, asked: int | None, why: str) -> None:
        """Wait as the SDK requestor would, shrunk by --time-scale; the line says both."""
        seconds = sdk_seconds * args.time_scale
        told = f"DelayedActionTime {asked} s" if asked else "no DelayedActionTime"
        scaled = "" if args.time_scale == 1 else f" (x{args.time_scale:g}: {seconds:g} s)"
        self.report(
            self.node_id,
            "waiting",
            f"waiting {sdk_seconds:g} s {why} ({told}){scaled}",
            sdkSeconds=sdk_seconds,
            seconds=round(seconds, 3),
        )
        await asyncio.sleep(seconds)


async def simulate(args: argparse.Namespace, report) -> int:
    demo = DemoFabric.load(args.fabric)
    with tempfile.TemporaryDirectory(prefix="ota-sim-") as scratch:
        out_dir = args.out or Path(scratch)
        out_dir.mkdir(parents=True, exist_ok=True)
        requestors = [
            SimRequestor(args.first_node_id + i, args.versions[i % len(args.versions)], report)
            for i in range(args.count)
        ]
        results = await asyncio.gather(*(r.run(args, demo, out_dir) for r in requestors))
    return 0 if all(results) else 1


CONNECT_SECONDS = 60.0


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.sdk_timers and (args.query_budget is not None or args.time_scale is not None):
        parser.error("--query-budget and --time-scale shape the SDK requestor's timers: add --sdk-timers")
    args.query_budget = args.query_budget or SDK_QUERIES_PER_PROVIDER
    args.time_scale = 1.0 if args.time_scale is None else args.time_scale
    started = time.monotonic()

    def report(node_id: int, step: str, text: str, **fields: Any) -> None:
        if args.json_lines:
            print(json.dumps({"nodeId": node_id, "step": step, **fields}), flush=True)
        else:
            print(f"[{time.monotonic() - started:7.2f}] node {node_text(node_id)}: {text}", flush=True)

    try:
        return asyncio.run(simulate(args, report))
    except DemoFabricError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
