"""The provider with ``--dcl`` in its own process, a replica of the ledger over HTTPS, and a
requestor in another process: asked to wait while the ledger's image downloads, then offered it,
downloading it over BDX and applying it; and a ledger that cannot be reached, said in one line."""

from __future__ import annotations

import hashlib
import json
import signal
import subprocess
import sys
import uuid

import pytest

from tests.dcl.replica import Replica, build_image
from tests.helpers.processes import IMAGE, sim, start_provider, wait_for
from tests.interop.netns import netns_unavailable

VID, PID = 0xFFF1, 0x8000  # the sample image's product: v3 locally, v5 on the ledger
# One requestor on version 1 that asks again after Busy as the SDK's does (its 120 s shrunk to 1.2 s),
# allowed more than the SDK's three Busy answers: a loaded machine downloads the image more slowly.
PATIENT_REQUESTOR = ("-n", "1", "--versions", "1", "--sdk-timers", "--time-scale", "0.01", "--query-budget", "10")


@pytest.fixture
def replica(tmp_path, monkeypatch):
    replica = Replica(tmp_path / "replica")
    monkeypatch.setenv("SSL_CERT_FILE", str(replica.ca_file))  # the provider process inherits it
    yield replica
    replica.close()


def ctl_images(control: str) -> list[str]:
    command = [sys.executable, "-m", "ota_provider.core.cli", "ctl", "--socket", control, "images"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)
    return done.stdout.splitlines()


def stop(proc) -> None:
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=20)


def test_a_requestor_waits_for_the_ledgers_image_then_downloads_and_applies_it(replica, tmp_path):
    image = build_image(tmp_path, VID, PID, 5, payload_size=200_000)
    path = replica.publish(image, VID, PID, 5)
    replica.slow[path] = 0.005  # long enough that the first queries come while it downloads
    control = str(tmp_path / "control.sock")
    proc, events = start_provider(tmp_path, ["--dcl", replica.url, "--control", control])
    try:
        result, steps = sim(events, tmp_path, *PATIENT_REQUESTOR)
        assert result.returncode == 0, result.stderr[-2000:]
        answers = [s for s in steps if s["step"] == "queried"]
        assert answers[0]["status"] == "BUSY" and answers[0]["delayedActionTime"] >= 30
        assert answers[-1]["status"] == "UPDATE_AVAILABLE" and answers[-1]["softwareVersion"] == 5
        downloaded = next(s for s in steps if s["step"] == "downloaded")
        with open(downloaded["path"], "rb") as got:
            assert hashlib.sha256(got.read()).digest() == hashlib.sha256(image).digest()
        assert wait_for(events, lambda ev: any(e["event"] == "NotifyUpdateApplied" for e in ev))
        ready = next(e for e in events if e["event"] == "LedgerImageReady")
        assert ready["softwareVersion"] == 5 and ready["downloaded"]
        listed = ctl_images(control)
        assert listed[0].split() == ["#", "file", "from", "VID:PID", "version", "applies", "to", "size", "digest"]
        assert listed[1].split()[:3] == ["0", "sample-fff1-8000-v3.ota", "file"]
        assert listed[2].split()[1:4] == ["fff1-8000-5.ota", f"127.0.0.1:{replica.port}", "FFF1:8000"]
    finally:
        stop(proc)
    history = subprocess.run(
        [sys.executable, "-m", "ota_provider.core.cli", "history", "--storage", str(tmp_path / "state"), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    queries = [json.loads(line) for line in history.stdout.splitlines() if '"query"' in line]
    offered = [q for q in queries if q["summary"] == "UpdateAvailable v5"]
    assert offered and f"from 127.0.0.1:{replica.port}" in offered[0]["details"]["reason"]


def test_the_local_image_wins_when_the_ledger_has_nothing_newer(replica, tmp_path):
    replica.publish(build_image(tmp_path, VID, PID, 2), VID, PID, 2)
    proc, events = start_provider(tmp_path, ["--dcl", replica.url])
    try:
        result, steps = sim(events, tmp_path, *PATIENT_REQUESTOR)
        assert result.returncode == 0, result.stderr[-2000:]
        answers = [s for s in steps if s["step"] == "queried"]
        assert answers[-1]["status"] == "UPDATE_AVAILABLE" and answers[-1]["softwareVersion"] == 3
    finally:
        stop(proc)


def test_an_unreachable_ledger_is_one_line_and_the_provider_keeps_serving(tmp_path):
    proc, events = start_provider(tmp_path, ["--dcl", "https://127.0.0.1:9"])  # nothing listens there
    try:
        assert wait_for(events, lambda ev: any(e["event"] == "LedgerUnreachable" for e in ev), timeout=30)
        down = next(e for e in events if e["event"] == "LedgerUnreachable")
        assert down["ledger"] == "127.0.0.1:9" and down["localImages"] == 1 and down["cached"] == 0
        result, steps = sim(events, tmp_path, "-n", "1", "--versions", "1")
        assert result.returncode == 0, result.stderr[-2000:]
        assert [s["softwareVersion"] for s in steps if s["step"] == "queried"] == [3]
        assert proc.poll() is None
    finally:
        stop(proc)
    assert "Traceback" not in proc.stderr.read()


def _headless_until_the_ledger_is_said(tmp_path, ledger: str, prefix: tuple[str, ...] = ()) -> list[str]:
    command = [
        *prefix,
        sys.executable,
        "-m",
        "ota_provider.core.cli",
        "-f",
        str(IMAGE),
        "--dcl",
        ledger,
        "--port",
        "0",
        "--storage",
        str(tmp_path / "state"),
        "--headless",
    ]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if "unreachable" in line:
                break
        assert proc.poll() is None  # it says so, and keeps running
    finally:
        stop(proc)
    return lines


def test_the_headless_line_for_an_unreachable_ledger_says_what_is_still_served(tmp_path):
    lines = _headless_until_the_ledger_is_said(tmp_path, "https://127.0.0.1:9")
    assert any(line.startswith("Ledgers (asked in this order): 127.0.0.1:9") for line in lines)
    assert "ledger 127.0.0.1:9 unreachable (127.0.0.1:9: " in lines[-1]
    assert "serving 1 local image and nothing cached from it" in lines[-1]


def test_testnet_with_no_network_at_all(tmp_path):
    """``--dcl testnet`` in a network namespace with nothing but loopback: no name resolves."""
    if netns_unavailable():
        pytest.skip(netns_unavailable())
    name = f"ota-nonet-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        subprocess.run(["ip", "-n", name, "link", "set", "lo", "up"], check=True)
        lines = _headless_until_the_ledger_is_said(tmp_path, "testnet", ("ip", "netns", "exec", name))
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)
    assert "ledger TestNet unreachable (on.test-net.dcl.csa-iot.org: " in lines[-1]
    assert "serving 1 local image" in lines[-1]
