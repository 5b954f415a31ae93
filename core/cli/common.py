"""What every subcommand of ``ota-provider`` shares: the program's name and usage exit code, the
number syntax of the SDK's flags, a parser that says a usage error in one line, a line printer for
events, and where the state lives by default."""

from __future__ import annotations

import argparse
import json
import os
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn, TextIO

from ..dcl.sources import LedgerSource, parse_ledger
from ..ota.history import iso_time
from ..storage.database import DATABASE_NAME

PROG = "ota-provider"
SDK_PROG = "chip-ota-provider-app"  # the SDK app's name, which the drop-in answers to
EXIT_USAGE = 2

_OCTAL = re.compile(r"0[0-7]+")


def parse_number(text: str) -> int:
    """Decimal, 0x-hex or leading-0 octal, as ``strtoul(text, NULL, 0)`` reads them."""
    cleaned = text.strip()
    try:
        if _OCTAL.fullmatch(cleaned):
            return int(cleaned, 8)
        return int(cleaned, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number (use decimal, 0x-hex or 0-octal)") from None


class Parser(argparse.ArgumentParser):
    """One line on stderr for every usage error, not the usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see --help)\n")


class LinePrinter:
    """Events as human lines or JSON lines (the dashboard shows the same events)."""

    def __init__(self, out: TextIO, json_lines: bool) -> None:
        self.out = out
        self.json_lines = json_lines

    def event(self, name: str, text: str, *, at: float | None = None, **fields: object) -> None:
        """One line per event, stamped with its time (ISO 8601, UTC, milliseconds)."""
        stamp = iso_time(time.time() if at is None else at)
        if self.json_lines:
            print(json.dumps({"event": name, "time": stamp, **fields}), file=self.out, flush=True)
        else:
            print(f"{stamp} {text}", file=self.out, flush=True)

    def plain(self, line: str) -> None:
        """A line as it is (the SDK app's lines the certification scripts wait for)."""
        print(line, file=self.out, flush=True)


def ledger_argument(text: str) -> LedgerSource:
    """``--dcl``: mainnet, testnet or a base URL, refused in one line otherwise."""
    try:
        return parse_ledger(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def default_storage() -> Path:
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "ota-provider"


def state_arguments(parser: argparse.ArgumentParser) -> None:
    """``--storage DIR`` or ``--KVS FILE``: the state database a subcommand works on."""
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--storage", type=Path, metavar="DIR", help="state directory (default: the provider's)")
    where.add_argument("--KVS", dest="kvs", type=Path, metavar="FILE", help="state database file")


def state_path(args: argparse.Namespace) -> Path:
    """The database file ``state_arguments`` name."""
    return args.kvs or (args.storage or default_storage()) / DATABASE_NAME


def aligned(rows: Sequence[Sequence[str]]) -> list[str]:
    """Rows of cells as lines, each column as wide as its widest cell."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows]
