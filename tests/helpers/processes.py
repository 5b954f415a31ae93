"""A provider in its own process (--json), its events collected as they come."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

from tests.helpers.samples import SAMPLES

IMAGE = SAMPLES / "sample-fff1-8000-v3.ota"


def start_provider(tmp_path, flags=(), port=0):
    """``ota-provider --json --demo-fabric`` on loopback; its events are collected as they come."""
    command = [
        sys.executable,
        "-m",
        "ota_provider.core.cli",
        "-f",
        str(IMAGE),
        "--port",
        str(port),
        "--storage",
        str(tmp_path / "state"),
        "--json",
        "--demo-fabric",
        *flags,
    ]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    events: list[dict] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not (events and events[-1]["event"] == "Listening"):
        line = proc.stdout.readline()
        if not line:
            break
        events.append(json.loads(line))
    assert events and events[-1]["event"] == "Listening", proc.stderr.read()[-2000:]

    def collect():
        for line in proc.stdout:
            events.append(json.loads(line))

    threading.Thread(target=collect, daemon=True).start()
    return proc, events


def wait_for(events, predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate(events):
            return True
        time.sleep(0.05)
    return False


def sim(events, tmp_path, *args):
    fabric_file = next(e["file"] for e in events if e["event"] == "DemoFabric")
    port = next(e["port"] for e in events if e["event"] == "Listening")
    command = [
        sys.executable,
        "-m",
        "ota_provider.core.client.sim",
        "--fabric",
        fabric_file,
        "--port",
        str(port),
        "--json",
        "--out",
        str(tmp_path / "out"),
        *args,
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    return result, [json.loads(line) for line in result.stdout.splitlines()]
