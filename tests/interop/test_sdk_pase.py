"""The Matter SDK's own controller establishes PASE with our node over UDP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.interop.conftest import paa_store, sdk_command

REPO = Path(__file__).resolve().parents[2]
SCRIPT = str(Path(__file__).with_name("sdk_controller_pase.py"))


@pytest.fixture
def node():
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.udp_peer", "responder"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = proc.stdout.readline()
    assert line.startswith("PORT "), proc.stderr.read()
    yield proc, int(line.split()[1])
    proc.terminate()
    proc.wait(timeout=10)


def _controller(python: str, port: int, passcode: int, tmp_path: Path) -> dict:
    env = {**os.environ, "PAA_TRUST_STORE": paa_store(tmp_path / "paa-trust-store")}
    verdict = tmp_path / "verdict.json"
    result = subprocess.run(
        sdk_command(python, SCRIPT, "::1", str(port), str(passcode), str(verdict)),
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        check=False,
    )
    assert verdict.exists(), result.stdout[-3000:] + result.stderr[-3000:]
    return json.loads(verdict.read_text())


def test_sdk_controller_establishes_pase(sdk_python, node, tmp_path):
    proc, port = node
    verdict = _controller(sdk_python, port, 20202021, tmp_path)
    assert verdict == {"pase": "ok"}
    assert proc.stdout.readline().startswith("SESSION ")


def test_sdk_controller_with_the_wrong_passcode_is_refused(sdk_python, node, tmp_path):
    _, port = node
    verdict = _controller(sdk_python, port, 20202022, tmp_path)
    assert verdict["pase"] == "failed", verdict
