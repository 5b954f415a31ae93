"""``ota-requestor-sim``: simulated OTA requestors on the provider's demo fabric.

Each requestor opens CASE to the provider, sends QueryImage with its VID/PID/version, and on
UpdateAvailable downloads the image over BDX, verifies its digest, sends ApplyUpdateRequest
and NotifyUpdateApplied, as a real requestor would. One line per step (``--json`` for JSON lines);
the exit status is 0 only if every requestor ended where it should.
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
from ..ota.types import ApplyUpdateAction, DownloadProtocol, QueryImageStatus
from .requestor import CommandFailed, DownloadError, OtaRequestorClient

PROG = "ota-requestor-sim"
FIRST_NODE_ID = 0x0000_0000_0000_1000


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


def _versions(text: str) -> list[int]:
    return [_number(part) for part in text.split(",") if part]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__.split("\n\n")[1].replace("\n", " "))
    parser.add_argument("--fabric", type=Path, required=True, metavar="FILE",
                        help="the provider's demo-fabric.json (ota-provider --demo-fabric prints it)")  # fmt: skip
    parser.add_argument("--host", default="::1", help="provider address (default ::1)")
    parser.add_argument("--port", type=_number, default=5540, help="provider UDP port (default 5540)")
    parser.add_argument("--version", action="version", version=f"{PROG} {installed_version()}")
    parser.add_argument("-n", "--count", type=_at_least_one, default=1, help="number of requestors (default 1)")
    parser.add_argument("--vendor-id", type=_number, default=0xFFF1, help="VID the requestors report")
    parser.add_argument("--product-id", type=_number, default=0x8000, help="PID the requestors report")
    parser.add_argument("--versions", type=_versions, default=[1], metavar="V[,V...]",
                        help="current software versions, assigned round-robin (default 1)")  # fmt: skip
    parser.add_argument("--first-node-id", type=_number, default=FIRST_NODE_ID, help="node id of the first requestor")
    parser.add_argument("--max-block-size", type=_number, default=1024, help="BDX block size to propose")
    parser.add_argument("--out", type=Path, help="directory for downloaded images (default: a temporary one)")
    parser.add_argument("--stop-after-blocks", type=_number, metavar="N",
                        help="abandon each download after N blocks (to watch the provider release it)")  # fmt: skip
    parser.add_argument("--asynchronous", action="store_true",
                        help="list only BDX asynchronous and let the provider push the blocks")  # fmt: skip
    parser.add_argument("--json", dest="json_lines", action="store_true", help="print JSON lines")
    return parser


@dataclass
class SimRequestor:
    node_id: int
    version: int
    report: Any

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
        protocols = (DownloadProtocol.BDX_ASYNCHRONOUS,) if args.asynchronous else (DownloadProtocol.BDX_SYNCHRONOUS,)
        asked = time.monotonic()
        offer = await client.query_image(args.vendor_id, args.product_id, self.version, protocols=protocols)
        answered_in = time.monotonic() - asked
        status = QueryImageStatus(offer.status)
        self.report(self.node_id, "queried", f"QueryImage from version {self.version}: {status.name}"
                    + (f", version {offer.software_version} at {offer.image_uri}" if offer.image_uri else ""),
                    status=status.name, softwareVersion=offer.software_version, imageUri=offer.image_uri,
                    delayedActionTime=offer.delayed_action_time,
                    userConsentNeeded=offer.user_consent_needed, seconds=round(answered_in, 4))  # fmt: skip
        if status != QueryImageStatus.UPDATE_AVAILABLE:
            return status in (QueryImageStatus.NOT_AVAILABLE, QueryImageStatus.BUSY)
        assert offer.image_uri is not None and offer.update_token is not None and offer.software_version is not None
        target = out_dir / f"requestor-{self.node_id:016X}.ota"
        result = await client.download(offer.image_uri, target, max_block_size=args.max_block_size,
                                       stop_after_blocks=args.stop_after_blocks,
                                       asynchronous=args.asynchronous)  # fmt: skip
        self.report(self.node_id, "downloaded",
                    f"{result.size} bytes in {result.blocks} blocks of {result.block_size}, {result.seconds:.2f} s "
                    f"({result.rate / 1000:.0f} kB/s), digest verified",
                    bytes=result.size, blocks=result.blocks, seconds=round(result.seconds, 3), path=str(target),
                    digestOk=True)  # fmt: skip
        applied = await client.apply_update(offer.update_token, offer.software_version)
        action = ApplyUpdateAction(applied.action)
        self.report(self.node_id, "apply", f"ApplyUpdate: {action.name}, delay {applied.delayed_action_time} s",
                    action=action.name, delayedActionTime=applied.delayed_action_time)  # fmt: skip
        if action != ApplyUpdateAction.PROCEED:
            return True
        self.version = offer.software_version
        await client.notify_update_applied(offer.update_token, self.version)
        self.report(
            self.node_id, "applied", f"NotifyUpdateApplied: now on version {self.version}", version=self.version
        )
        return True


async def simulate(args: argparse.Namespace, report) -> int:
    demo = DemoFabric.load(args.fabric)
    with tempfile.TemporaryDirectory(prefix="ota-sim-") as scratch:
        out_dir = args.out or Path(scratch)
        out_dir.mkdir(parents=True, exist_ok=True)
        requestors = [SimRequestor(args.first_node_id + i, args.versions[i % len(args.versions)], report)
                      for i in range(args.count)]  # fmt: skip
        results = await asyncio.gather(*(r.run(args, demo, out_dir) for r in requestors))
    return 0 if all(results) else 1


CONNECT_SECONDS = 60.0


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    started = time.monotonic()

    def report(node_id: int, step: str, text: str, **fields: Any) -> None:
        if args.json_lines:
            print(json.dumps({"nodeId": node_id, "step": step, **fields}), flush=True)
        else:
            print(f"[{time.monotonic() - started:7.2f}] node 0x{node_id:016X}: {text}", flush=True)

    try:
        return asyncio.run(simulate(args, report))
    except DemoFabricError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
