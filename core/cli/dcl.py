"""``ota-provider dcl VID PID``: what the ledger would offer a device, from the shell, as a bench
technician asks "does the firmware we published on TestNet update this device?": each ledger's
choice with every newer version passed over and why, and with ``--download`` the image itself,
downloaded and checked into the state directory (where a provider with ``--dcl`` finds it)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..dcl import events as ev
from ..dcl.sources import parse_ledger
from ..dcl.updates import LedgerUpdates
from ..event_base import EngineEvent
from ..ota.extra_images import Ready
from ..presentation.lines import event_fields, event_text
from .common import PROG, Parser, default_storage, ledger_argument, parse_number

__all__ = ["dcl_main"]

NOTHING_APPLIES = 3  # the exit status when no ledger has an update for the device


def _number(text: str, high: int) -> int:
    value = parse_number(text)
    if not 0 <= value <= high:
        raise ValueError(f"{text} is not a number from 0 to {high}")
    return value


def dcl_main(argv: Sequence[str]) -> int:
    parser = Parser(
        prog=f"{PROG} dcl",
        description="what the ledger would offer a device: each ledger's choice, each newer version passed over "
        f"and why; exit 0 when an update applies, {NOTHING_APPLIES} when none does",
    )
    parser.add_argument("vendor_id", metavar="VID")
    parser.add_argument("product_id", metavar="PID")
    parser.add_argument("--current", default="0", metavar="VERSION", help="the device's software version (default 0)")
    parser.add_argument(
        "--dcl",
        action="append",
        type=ledger_argument,
        metavar="mainnet|testnet|URL",
        help="the ledger to ask (default mainnet); repeat for several, in order",
    )
    parser.add_argument("--download", action="store_true", help="download and check the chosen image too")
    parser.add_argument("--storage", type=Path, metavar="DIR", help="state directory (default: the provider's)")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    args = parser.parse_args(argv)
    try:
        vid, pid = _number(args.vendor_id, 0xFFFF), _number(args.product_id, 0xFFFF)
        current = _number(args.current, 0xFFFF_FFFF)
    except ValueError as exc:
        parser.error(str(exc))
    said: list[EngineEvent] = []

    def say(event: EngineEvent) -> None:
        said.append(event)
        if args.json:
            print(json.dumps({"event": event.name, **event_fields(event)}), flush=True)
        else:
            print(event_text(event), flush=True)

    updates = LedgerUpdates(args.dcl or [parse_ledger("mainnet")], args.storage or default_storage(), emit=say)
    answer = asyncio.run(_ask(updates, vid, pid, current, args.download))
    if answer is not None:
        return 0 if isinstance(answer, Ready) else NOTHING_APPLIES
    looked = [e for e in said if isinstance(e, ev.LedgerLookedUp)]
    if any(e.chosen is not None for e in looked):
        return 0
    if not looked:  # no ledger answered, and nothing was kept from before
        return 1
    return NOTHING_APPLIES


async def _ask(updates: LedgerUpdates, vid: int, pid: int, current: int, download: bool) -> Any:
    try:
        if download:
            return await updates.settle(vid, pid, current)
        await updates.look_up(vid, pid, current)
        return None
    finally:
        await updates.aclose()
