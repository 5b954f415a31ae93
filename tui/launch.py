"""``ota-provider``: the dashboard in a terminal, the headless line output otherwise (or with
``--headless`` / ``--json``)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from ota_provider.core import cli
from ota_provider.core.config import ProviderConfig
from ota_provider.core.ota.catalog import ImageCatalog


def serve_dashboard(config: ProviderConfig, catalog: ImageCatalog, emit) -> int:
    from .app import ProviderDashboard  # noqa: PLC0415  (Textual loads only when the dashboard runs)

    engine = cli.build_engine(config, catalog)
    engine.start()
    app = ProviderDashboard(engine)
    try:
        app.run()
    finally:
        engine.stop()
    if app.return_code:  # the dashboard ended on an error (Textual printed it): say so, exit non-zero
        print(f"{cli.PROG}: error: the dashboard stopped on an error; the provider stopped with it", file=sys.stderr)
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    interactive = sys.stdin.isatty() and sys.stdout.isatty()
    return cli.main(argv, serve=serve_dashboard if interactive else None)


if __name__ == "__main__":
    sys.exit(main())
