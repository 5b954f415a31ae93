"""``ota-provider`` and ``ota-image`` on the command line: one table of subcommands (serving is
the default, with the SDK app's flags), each in its module: ``serve`` (the node, the headless
lines, history, devices), ``ctl`` (a running provider through its control socket), ``image`` (the
SDK's image tool), ``common`` (what they share). The dashboard's launcher adds ``attach``."""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence

from .common import PROG, parse_number
from .serve import Serve, build_engine, build_parser, parse_config, run, serve_main

__all__ = ["PROG", "SUBCOMMANDS", "build_engine", "build_parser", "main", "parse_config", "parse_number", "run"]

Subcommand = Callable[[Sequence[str]], int]


def _history(argv: Sequence[str]) -> int:
    from .serve import history_main  # noqa: PLC0415  (each subcommand loads only what it needs)

    return history_main(argv)


def _devices(argv: Sequence[str]) -> int:
    from .serve import devices_main  # noqa: PLC0415

    return devices_main(argv)


def _trace(argv: Sequence[str]) -> int:
    from ..trace import show_main  # noqa: PLC0415

    return show_main(argv)


def _ctl(argv: Sequence[str]) -> int:
    from .ctl import ctl_main  # noqa: PLC0415

    return ctl_main(argv)


def _ble_scan(argv: Sequence[str]) -> int:
    from .ble import ble_scan_main  # noqa: PLC0415

    return ble_scan_main(argv)


def _networks(argv: Sequence[str]) -> int:
    from .networks import networks_main  # noqa: PLC0415

    return networks_main(argv)


def _dcl(argv: Sequence[str]) -> int:
    from .dcl import dcl_main  # noqa: PLC0415

    return dcl_main(argv)


def _image(argv: Sequence[str]) -> int:
    from .image import main as image_main  # noqa: PLC0415

    return image_main(list(argv))


# ``ota-provider WORD ...``: anything else is the serving provider's own flags.
SUBCOMMANDS: dict[str, Subcommand] = {
    "history": _history,
    "devices": _devices,
    "trace": _trace,
    "ctl": _ctl,
    "image": _image,
    "ble-scan": _ble_scan,
    "networks": _networks,
    "dcl": _dcl,
}


def main(
    argv: Sequence[str] | None = None, serve: Serve | None = None, more: Mapping[str, Subcommand] | None = None
) -> int:
    """The headless ``ota-provider``; the dashboard's launcher passes its own ``serve`` and its
    subcommands (``attach``) in ``more``."""
    argv = sys.argv[1:] if argv is None else list(argv)
    table = {**SUBCOMMANDS, **(more or {})}
    if argv and (subcommand := table.get(argv[0])) is not None:
        return subcommand(argv[1:])
    return serve_main(argv, serve)
