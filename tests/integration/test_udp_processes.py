"""PASE and secured traffic between two processes over real UDP on loopback, with and without loss."""

from __future__ import annotations

import json
import random
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from ota_provider.core.fabric.authority import FabricAuthority
from ota_provider.core.fabric.store import FabricStore
from ota_provider.core.storage.database import Database

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
    extra = ("--state", params["state"]) if "state" in params else ()
    proc = _spawn(
        "responder",
        "--loss",
        str(params.get("loss", 0)),
        "--seed",
        "11",
        "--echo-back",
        str(params.get("echo_back", 0)),
        "--expect",
        str(params.get("expect", 0)),
        *extra,
    )
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
    # Every request reached the other side at most once, in order; one that did not had all five
    # of its transmissions lost (20% on each side: 0.6% a message), and its sender said so.
    sent, sent_back = [f"from client {i}" for i in range(20)], [f"from node {i}" for i in range(10)]
    assert node["received"] == [m for m in sent if m in node["received"]]
    assert summary["received_back"] == [m for m in sent_back if m in summary["received_back"]]
    assert len(sent) - len(node["received"]) <= 20 - summary["echo_ok"]
    assert len(sent_back) - len(summary["received_back"]) <= 10 - node["echo_back_ok"]
    assert len(node["received"]) >= 18 and len(summary["received_back"]) >= 8
    assert node["dropped_by_loss"] > 0


NODE_ID, CLIENT_ID = 0x64, 0x1B669


@pytest.fixture(scope="module")
def case_states(tmp_path_factory):
    """A fabric shared by both processes: each gets its own state directory with its NOC and key."""
    authority = FabricAuthority(fabric_id=0xFAB000000000001D)
    states = {}
    for name, node_id in (("node", NODE_ID), ("client", CLIENT_ID)):
        directory = tmp_path_factory.mktemp(name)
        FabricStore(Database.in_directory(directory)).save(authority.join(node_id))
        states[name] = str(directory)
    return states


@pytest.fixture
def case_responder(case_states):
    proc = _spawn("responder", "--state", case_states["node"], "--echo-back", "5", "--expect", "10")
    line = proc.stdout.readline()
    assert line.startswith("PORT "), proc.stderr.read()
    yield proc, int(line.split()[1])
    proc.terminate()
    proc.wait(timeout=10)


def test_case_then_secured_echo_both_ways(case_states, case_responder):
    proc, port = case_responder
    summary = _run_initiator(
        port, "--state", case_states["client"], "--peer-node-id", hex(NODE_ID), "--count", "10", "--expect-back", "5"
    )
    assert "error" not in summary, summary
    assert summary["echo_ok"] == 10
    assert summary["received_back"] == [f"from node {i}" for i in range(5)]
    assert proc.stdout.readline().startswith("SESSION ")
    node = json.loads(proc.stdout.readline())
    assert node["received"] == [f"from client {i}" for i in range(10)]


def test_case_to_the_wrong_node_id_fails(case_states, case_responder):
    _, port = case_responder
    summary = _run_initiator(port, "--state", case_states["client"], "--peer-node-id", hex(NODE_ID + 1))
    assert "NO_SHARED_TRUST_ROOTS" in summary["error"]


@pytest.mark.parametrize("responder", [{"echo_back": 5, "expect": 10}], indirect=True)
def test_garbage_flood_while_a_session_works(responder):
    proc, port = responder
    stop = threading.Event()
    sent = [0]

    def blast():
        rng = random.Random(1)
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock:
            while not stop.is_set() and sent[0] < 200_000:
                kind = rng.randrange(4)
                if kind == 0:
                    data = rng.randbytes(rng.randrange(0, 1400))
                elif kind == 1:  # plausible header, unknown session, junk payload
                    data = bytes([0, rng.randrange(256), rng.randrange(256), 0]) + rng.randbytes(40)
                elif kind == 2:  # truncated headers
                    data = bytes([4, 0, 0, 0]) + rng.randbytes(rng.randrange(0, 11))
                else:  # unsecured message claiming an absurd extension length
                    data = bytes.fromhex("00000020") + rng.randbytes(4) + b"\xff\xff" + rng.randbytes(8)
                sock.sendto(data, ("::1", port))
                sent[0] += 1

    flood = threading.Thread(target=blast)
    flood.start()
    try:
        summary = _run_initiator(port, "--count", "10", "--expect-back", "5")
    finally:
        stop.set()
        flood.join()
    assert sent[0] > 1000
    assert "error" not in summary, summary
    assert summary["echo_ok"] == 10
    assert proc.poll() is None  # the node is still running
    assert proc.stdout.readline().startswith("SESSION ")
    node = json.loads(proc.stdout.readline())
    assert node["received"] == [f"from client {i}" for i in range(10)]
    assert sum(node["drops"].values()) > 1000
