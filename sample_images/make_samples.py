#!/usr/bin/env python3
"""Regenerate the sample OTA images with ``ota-image create``.

Run from anywhere: ``python sample_images/make_samples.py``. The payloads are
deterministic (a text banner, then a repeating pattern), so the images and their
digests only change when this script does.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
VENDOR_ID = 0xFFF1
PRODUCT_ID = 0x8000
PAYLOAD_SIZE = 48 * 1024

# (version, version string, min applicable, max applicable)
SAMPLES = [
    (1, "1.0.0", None, None),
    (2, "2.0.0", 1, 1),
    (3, "3.0.0", 1, 2),
]


def payload(version: int, version_string: str) -> bytes:
    banner = (
        f"=== Matter OTA sample firmware ===\n"
        f"vendor 0x{VENDOR_ID:04X} product 0x{PRODUCT_ID:04X}\n"
        f"version {version} ({version_string})\n"
        f"This is not firmware: it is a recognisable payload for testing OTA transfers.\n"
    ).encode()
    pattern = f"[v{version} block filler] ".encode()
    filler = (pattern * (PAYLOAD_SIZE // len(pattern) + 1))[: PAYLOAD_SIZE - len(banner)]
    return banner + filler


def ota_image_command() -> list[str]:
    tool = shutil.which("ota-image")
    return [tool] if tool else [sys.executable, "-m", "ota_provider.core.image_cli"]


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        for version, version_string, min_version, max_version in SAMPLES:
            raw = Path(tmp) / f"v{version}.bin"
            raw.write_bytes(payload(version, version_string))
            command = [
                *ota_image_command(),
                "create",
                "-v", hex(VENDOR_ID),
                "-p", hex(PRODUCT_ID),
                "-vn", str(version),
                "-vs", version_string,
                "-da", "sha256",
            ]  # fmt: skip
            if min_version is not None:
                command += ["-mi", str(min_version)]
            if max_version is not None:
                command += ["-ma", str(max_version)]
            command += [str(raw), str(HERE / f"sample-fff1-8000-v{version}.ota")]
            subprocess.run(command, check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
