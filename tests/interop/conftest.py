"""Locating the Matter SDK's Python controller for the interop tests.

`./run tests` installs it into `.venv-interop` (PyPI: home-assistant-chip-core). The tests
skip with the reason when it is missing or the machine cannot run it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.interop.netns import NetnsPair
from tests.interop.peers import Verdicts

REPO = Path(__file__).resolve().parents[2]
TEST_PAAS = REPO / "core" / "attestation" / "test_credentials"
CONTROLLER_SCRIPT = Path(__file__).with_name("sdk_controller.py")


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
    """A PAA trust store for the SDK controller (a directory of DER files): the public test PAAs our
    DACs and matter.js's chain to (NoVID and FFF1)."""
    directory.mkdir(parents=True, exist_ok=True)
    for certificate in TEST_PAAS.glob("*.der"):
        (directory / certificate.name).write_bytes(certificate.read_bytes())
    return str(directory)


def run_sdk_controller(
    netns: NetnsPair, storage: Path, steps: list[dict], workdir: Path, *, namespace: str | None = None
) -> list[dict]:
    """Run sdk_controller.py over ``steps`` in the controller's namespace (or ``namespace``); one
    outcome per step."""
    steps_file = workdir / f"steps-{time.monotonic_ns()}.json"
    steps_file.write_text(json.dumps(steps))
    verdicts = steps_file.with_suffix(".verdicts")
    env = {**os.environ, "PAA_TRUST_STORE": paa_store(workdir / "paa-trust-store")}
    python = controller_python() or str(REPO / ".venv-interop" / "bin" / "python")
    command = [
        *netns.prefix(namespace or netns.controller),
        *sdk_command(python, str(CONTROLLER_SCRIPT), str(storage), str(steps_file), str(verdicts)),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=400, env=env, cwd=workdir, check=False)
    outcomes = Verdicts(verdicts).read()
    assert len(outcomes) == len(steps), result.stdout[-3000:] + result.stderr[-3000:]
    return outcomes


class SdkControllerSession:
    """One SDK controller process for many steps (sdk_controller.py with steps on stdin): its start-up
    (2 s) is paid once. Each step's node's sessions are expired before the step, so a node that
    restarted meanwhile is reached over a new CASE session."""

    def __init__(self, netns: NetnsPair, storage: Path, workdir: Path, *, namespace: str | None = None) -> None:
        self.verdicts = Verdicts(workdir / f"session-{time.monotonic_ns()}.verdicts")
        env = {**os.environ, "PAA_TRUST_STORE": paa_store(workdir / "paa-trust-store")}
        python = controller_python() or str(REPO / ".venv-interop" / "bin" / "python")
        command = [
            *netns.prefix(namespace or netns.controller),
            *sdk_command(python, str(CONTROLLER_SCRIPT), str(storage), "-", str(self.verdicts.path)),
        ]
        self.log = (workdir / "sdk-controller.log").open("a")
        self.proc = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=self.log, stderr=subprocess.STDOUT, text=True, env=env, cwd=workdir
        )

    def run(self, steps: list[dict]) -> list[dict]:
        assert self.proc.stdin is not None
        before = len(self.verdicts.read())
        for step in steps:
            self.proc.stdin.write(json.dumps(step) + "\n")
        self.proc.stdin.flush()
        budget = sum(step.get("timeout", 60) for step in steps) + 30
        wanted = before + len(steps)
        self.verdicts.wait_for(lambda _v: len(self.verdicts.read()) >= wanted, budget, f"{len(steps)} controller steps")
        return self.verdicts.read()[before:wanted]

    def close(self) -> None:
        if self.proc.stdin is not None:
            with contextlib.suppress(OSError):
                self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
