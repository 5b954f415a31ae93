"""Locating the Matter SDK's Python controller for the interop tests.

`./run tests` installs it into `.venv-interop` (PyPI: home-assistant-chip-core). The tests
skip with the reason when it is missing or the machine cannot run it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"


def controller_python() -> str | None:
    candidate = os.environ.get("OTA_INTEROP_PYTHON") or str(REPO / ".venv-interop" / "bin" / "python")
    return candidate if Path(candidate).exists() else None


@pytest.fixture(scope="session")
def sdk_python() -> str:
    python = controller_python()
    if python is None:
        pytest.skip("Matter SDK controller not installed (./run tests installs it into .venv-interop)")
    probe = subprocess.run([python, "-c", "import chip.native"], capture_output=True, text=True, check=False)
    if probe.returncode != 0:
        pytest.skip(f"Matter SDK controller does not load: {probe.stderr.strip().splitlines()[-1:]}")
    if not os.access("/data", os.W_OK) and os.geteuid() != 0:
        pytest.skip("the SDK controller writes /data/chip_*.ini: run as root or create a writable /data")
    return python


def sdk_command(python: str, *args: str) -> list[str]:
    """Run the controller in a private mount namespace with its own /data when we can (root)."""
    command = [python, *args]
    if os.geteuid() == 0 and shutil.which("unshare"):
        Path("/data").mkdir(exist_ok=True)
        script = 'mount -t tmpfs tmpfs /data && exec "$@"'
        return ["unshare", "-m", "sh", "-c", script, "sh", *command]
    return command


def paa_store() -> str:
    return str(SHARED / "attestation" / "paa-trust-store")
