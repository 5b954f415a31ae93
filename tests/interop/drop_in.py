"""Our ``chip-ota-provider-app`` as the certification scripts run it, in the provider's namespace.

Started with the launcher's argv (tests/helpers/cert_launcher.py); its stdout and stderr merged and
read line by line, as ``OTAProviderSubprocess`` reads them; stopped with SIGTERM
(``terminate_provider``) or SIGKILL (``kill``). What it did is also followed over its control socket
(``KVS.sock``), as ``ota-provider attach`` beside the scripts shows it: typed events, not log text.
"""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from ota_provider.core.api.client import ControlClientError, ProviderClient
from ota_provider.core.api.events import EngineEvent
from ota_provider.core.presentation.sdk_lines import READY_LINE
from tests.helpers.cert_launcher import launcher_command
from tests.interop.netns import NetnsPair
from tests.interop.peers import REPO, terminate


class DropIn:
    def __init__(
        self, netns: NetnsPair, image: Path, *, kvs: Path, extra: Sequence[str] = (), port: int = 5541
    ) -> None:
        self.command = [*netns.prefix(netns.provider), *launcher_command(image, kvs=kvs, port=port, extra=extra)]
        self.kvs = kvs
        self.lines: list[str] = []
        self.events: list[EngineEvent] = []
        self.proc: subprocess.Popen | None = None
        self._client: ProviderClient | None = None
        self._stopping = threading.Event()

    def start(self, timeout: float = 30) -> DropIn:
        """Start and wait for "Server initialization complete", as ``start_provider`` does (30 s)."""
        self.proc = subprocess.Popen(
            self.command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        threading.Thread(target=self._read_stdout, daemon=True).start()
        self.wait_line(READY_LINE, timeout=timeout)
        self._client = ProviderClient.attach(f"{self.kvs}.sock")
        threading.Thread(target=self._follow_events, daemon=True).start()
        return self

    def _read_stdout(self) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def _follow_events(self) -> None:
        assert self._client is not None
        while not self._stopping.is_set():
            try:
                event = self._client.next_event(timeout=0.2)
            except (ControlClientError, OSError):
                return  # the provider went away
            if event is not None:
                self.events.append(event)

    def count(self, line: str) -> int:
        return sum(1 for seen in list(self.lines) if seen == line)

    def wait_line(self, line: str, count: int = 1, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while self.count(line) < count:
            if time.monotonic() > deadline or (self.proc is not None and self.proc.poll() is not None):
                raise AssertionError(f"{count} x {line!r} not printed within {timeout} s; last: {self.lines[-15:]}")
            time.sleep(0.05)

    def of(self, kind: type[EngineEvent]) -> list:
        return [event for event in list(self.events) if isinstance(event, kind)]

    def wait_events(self, kind: type[EngineEvent], count: int, timeout: float = 60) -> list:
        deadline = time.monotonic() + timeout
        while len(self.of(kind)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.of(kind))} {kind.__name__} events, not {count}, within {timeout} s")
            time.sleep(0.05)
        return self.of(kind)

    def wait_event(
        self, kind: type[EngineEvent], matches: Callable[[EngineEvent], bool] = lambda _: True, timeout: float = 60
    ):
        deadline = time.monotonic() + timeout
        while not (found := [event for event in self.of(kind) if matches(event)]):
            if time.monotonic() > deadline:
                seen = [type(event).__name__ for event in self.events[-20:]]
                raise AssertionError(f"no matching {kind.__name__} within {timeout} s; last events: {seen}")
            time.sleep(0.05)
        return found[0]

    def _close_client(self) -> None:
        self._stopping.set()
        if self._client is not None:
            self._client.close()

    def stop(self) -> None:
        """As ``terminate_provider``: SIGTERM."""
        self._close_client()
        terminate(self.proc)

    def kill(self) -> None:
        """As the scripts' ``kill``: SIGKILL, mid-whatever."""
        self._close_client()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)
