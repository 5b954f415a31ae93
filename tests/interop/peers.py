"""Processes the interop tests run: our provider (headless, JSON events) and the verdict files
through which the SDK and matter.js helper scripts report.

Every helper script writes its verdicts as JSON lines to a file of its own, never to stdout:
native logging shares stdout and could reorder or glue into a verdict line.
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

from tests.interop.netns import NetnsPair

REPO = Path(__file__).resolve().parents[2]
SAMPLE_IMAGE = str(REPO / "sample_images" / "sample-fff1-8000-v3.ota")


class Provider:
    """`ota-provider --json` in the provider's namespace; its events are collected as they come."""

    def __init__(
        self, netns: NetnsPair, storage: Path, *args: str, image: str = SAMPLE_IMAGE, namespace: str | None = None
    ) -> None:
        """``namespace``: the provider's by default; the controller's for a second provider acting
        as a device under test."""
        self.netns, self.storage, self.args, self.image = netns, storage, args, image
        self.namespace = namespace or netns.provider
        self.proc: subprocess.Popen | None = None
        self.events: list[dict] = []

    def start(self) -> None:
        command = [
            *self.netns.prefix(self.namespace),
            sys.executable,
            "-m",
            "ota_provider.core.cli",
            "-f",
            self.image,
            "--storage",
            str(self.storage),
            "--json",
            *self.args,
        ]
        self.proc = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            self.events.append(json.loads(line))
            if self.events[-1].get("event") == "Listening":
                # Keep reading, so the provider never blocks on a full pipe; tests look at the events.
                threading.Thread(target=self._collect, args=(self.proc.stdout,), daemon=True).start()
                time.sleep(0.5)  # first DNS-SD announcements
                return
        raise AssertionError(f"provider did not start; events: {self.events[-5:]}")

    def _collect(self, stream) -> None:
        for line in stream:
            with contextlib.suppress(ValueError):
                self.events.append(json.loads(line))

    def named(self, name: str) -> list[dict]:
        return [e for e in list(self.events) if e.get("event") == name]

    def wait_for(self, name: str, count: int = 1, timeout: float = 60) -> list[dict]:
        deadline = time.monotonic() + timeout
        while len(self.named(name)) < count:
            if time.monotonic() > deadline:
                seen = [e.get("event") for e in self.events[-30:]]
                raise AssertionError(f"provider sent {len(self.named(name))} {name} events, not {count}; last: {seen}")
            time.sleep(0.1)
        return self.named(name)

    def wait_until(self, name: str, matches: Callable[[dict], bool], timeout: float = 60) -> dict:
        """The first ``name`` event that ``matches``."""
        deadline = time.monotonic() + timeout
        while not (found := [e for e in self.named(name) if matches(e)]):
            if time.monotonic() > deadline:
                raise AssertionError(f"no matching {name} event within {timeout} s; seen: {self.named(name)[-5:]}")
            time.sleep(0.1)
        return found[0]

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        terminate(self.proc)


def terminate(proc: subprocess.Popen | None, grace: float = 10) -> None:
    """SIGTERM, and SIGKILL if the process has not ended within ``grace`` seconds."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


class Verdicts:
    """The JSON lines a helper script appends to its verdict file."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> list[dict]:
        if not self.path.exists():
            return []
        lines = self.path.read_text().splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def wait_for(self, predicate: Callable[[dict], bool], timeout: float, what: str = "a verdict") -> dict:
        deadline = time.monotonic() + timeout
        while True:
            for verdict in self.read():
                if predicate(verdict):
                    return verdict
            if time.monotonic() > deadline:
                raise AssertionError(f"no {what} within {timeout} s; verdicts: {self.read()[-15:]}")
            time.sleep(0.1)


def ok(outcome: dict) -> dict:
    assert outcome["ok"], json.dumps(outcome, indent=1)[-6000:]
    return outcome
