"""``ota-provider``: the dashboard in a terminal, the headless line output otherwise (or with
``--headless`` / ``--json``)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from ota_provider.core import cli
from ota_provider.core.api.link import LocalLink
from ota_provider.core.cli.common import PROG, Parser, default_storage
from ota_provider.core.config import ProviderConfig
from ota_provider.core.ota.catalog import ImageCatalog


def serve_dashboard(config: ProviderConfig, catalog: ImageCatalog, emit) -> int:
    from .app import ProviderDashboard  # noqa: PLC0415  (Textual loads only when the dashboard runs)

    engine = cli.build_engine(config, catalog)
    engine.start()
    app = ProviderDashboard(LocalLink(engine), freeze_heap=True)
    try:
        app.run()
    finally:
        engine.stop()
    if app.return_code:  # the dashboard ended on an error (Textual printed it): say so, exit non-zero
        print(f"{PROG}: error: the dashboard stopped on an error; the provider stopped with it", file=sys.stderr)
        return 1
    return 0


def attach_main(argv: Sequence[str]) -> int:
    """``ota-provider attach [PATH|tcp:HOST:PORT]``: the dashboard of a provider running elsewhere
    (``--headless --control``), in this terminal; quitting detaches, the provider goes on."""
    from ota_provider.core.api.control import TOKEN_FILE  # noqa: PLC0415
    from ota_provider.core.api.link import SocketLink  # noqa: PLC0415
    from ota_provider.core.cli.ctl import default_socket  # noqa: PLC0415

    from .app import ProviderDashboard  # noqa: PLC0415

    parser = Parser(prog=f"{PROG} attach", description="the dashboard of a provider started with --control")
    parser.add_argument(
        "socket",
        nargs="?",
        metavar="PATH|tcp:HOST:PORT",
        help="its control socket (default: control.sock in the state directory)",
    )
    parser.add_argument("--storage", type=Path, metavar="DIR", help="the provider's state directory")
    parser.add_argument("--token-file", type=Path, metavar="FILE", help=f"for tcp: the provider's {TOKEN_FILE}")
    parser.add_argument(
        "--export-dir", type=Path, metavar="DIR", help="where w and s write (default ./ota-provider-exports)"
    )
    args = parser.parse_args(argv)
    where = args.socket or default_socket(args.storage)
    token_file = args.token_file or ((args.storage or default_storage()) / TOKEN_FILE)
    try:
        link = SocketLink(
            where, token_file=token_file if where.startswith("tcp:") else None, export_dir=args.export_dir
        )
    except (ConnectionError, OSError, ValueError) as exc:
        print(f"{PROG} attach: error: {exc}", file=sys.stderr)
        return 1
    app = ProviderDashboard(link, freeze_heap=True)
    try:
        app.run()
    finally:
        link.close()
    return 1 if app.return_code else 0


def main(argv: Sequence[str] | None = None) -> int:
    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    return cli.main(argv, serve=serve_dashboard if interactive else None, more={"attach": attach_main})


if __name__ == "__main__":
    sys.exit(main())
