"""``chip-ota-provider-app``: the Matter SDK's OTA provider command line over this provider, so the
SDK's certification scripts (TC-SU-2.x, launched by ``matter/testing/apps.py``'s
``OTAProviderConfig.build_command``) run against a device maker's requestor with this tool as the
provider: the same flags, the SDK app's first-response semantics, ``-f`` offered whatever its
version, headless, and the stdout lines the scripts wait for (``presentation/sdk_lines.py``)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from .common import SDK_PROG
from .serve import serve_main

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    return serve_main([*args, "--sdk-app"], prog=SDK_PROG)
