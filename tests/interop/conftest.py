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
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

REPO = Path(__file__).resolve().parents[2]
TEST_PAA = REPO / "core" / "attestation" / "test_credentials" / "Chip-Test-PAA-NoVID-Cert.pem"


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


def paa_store(directory: Path) -> str:
    """A PAA trust store for the SDK controller holding the public test PAA our DACs chain to
    (the controller reads DER files from a directory)."""
    directory.mkdir(parents=True, exist_ok=True)
    certificate = x509.load_pem_x509_certificate(TEST_PAA.read_bytes())
    (directory / "Chip-Test-PAA-NoVID-Cert.der").write_bytes(certificate.public_bytes(Encoding.DER))
    return str(directory)
