"""PASE and secured traffic between two processes over real UDP on loopback, with and without loss."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _spawn(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.integration.udp_peer", *args],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture
def responder(request):
    params = getattr(request, "param", {})
    proc = _spawn("responder", "--loss", str(params.get("loss", 0)), "--seed", "11",
                  "--echo-back", str(params.get("echo_back", 0)), "--expect", str(params.get("expect", 0)))  # fmt: skip
    line = proc.stdout.readline()
    assert line.startswith("PORT "), proc.stderr.read()
    yield proc, int(line.split()[1])
    proc.terminate()
    proc.wait(timeout=10)


def _run_initiator(port: int, *args: str) -> dict:
    result = subprocess.run(
        [sys.executable, "-m", "tests.integration.udp_peer", "initiator", "--port", str(port), *args],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert result.stdout, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("responder", [{"echo_back": 5, "expect": 10}], indirect=True)
def test_pase_then_secured_echo_both_ways(responder):
    proc, port = responder
    summary = _run_initiator(port, "--count", "10", "--expect-back", "5")
    assert "error" not in summary
    assert summary["echo_ok"] == 10
    assert summary["received_back"] == [f"from node {i}" for i in range(5)]
    assert proc.stdout.readline().startswith("SESSION ")
    node = json.loads(proc.stdout.readline())
    assert node["echo_back_ok"] == 5
    assert node["received"] == [f"from client {i}" for i in range(10)]


def test_wrong_passcode_over_udp(responder):
    _, port = responder
    summary = _run_initiator(port, "--passcode", "20202022")
    assert "does not match" in summary["error"]


@pytest.mark.parametrize("responder", [{"loss": 0.2, "echo_back": 10, "expect": 20}], indirect=True)
def test_mrp_across_processes_with_20_percent_loss_each_way(responder):
    proc, port = responder
    summary = _run_initiator(port, "--count", "20", "--expect-back", "10", "--loss", "0.2", "--seed", "5")
    assert "error" not in summary, summary
    assert summary["dropped_by_loss"] > 0 and summary["retransmissions"] > 0
    assert proc.stdout.readline().startswith("SESSION ")
    node = json.loads(proc.stdout.readline())
    # Every request reached the other side exactly once, in order.
    assert node["received"] == [f"from client {i}" for i in range(20)]
    assert summary["received_back"] == [f"from node {i}" for i in range(10)]
    assert node["dropped_by_loss"] > 0
