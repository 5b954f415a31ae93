"""BLE with no radio: a private D-Bus system bus the test creates, BlueZoo (a user-space mock of
BlueZ's D-Bus API) on it with two adapters that hear each other, and our bleak central on hci0.
Peripherals register on hci1 (ble_peripheral.py). Recipe: ../shared/reference/BLE.md.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.interop.peers import terminate

CENTRAL, PERIPHERAL = "hci0", "hci1"
BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_type="method_call"/>
    <allow send_type="signal"/>
    <allow send_type="method_return"/>
    <allow send_type="error"/>
    <allow receive_type="method_call"/>
    <allow receive_type="signal"/>
    <allow receive_type="method_return"/>
    <allow receive_type="error"/>
  </policy>
</busconfig>
"""


def ble_rig_unavailable() -> str | None:
    if shutil.which("dbus-daemon") is None:
        return "dbus-daemon not found (./run tests installs Debian's dbus-daemon when run as root)"
    if shutil.which("bluezoo", path=str(Path(sys.executable).parent)) is None:
        return "BlueZoo not installed (./run tests installs it with the test extras)"
    return None


class BleRig:
    def __init__(self, workdir: Path) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.workdir = workdir
        self.socket = workdir / "system_bus.sock"
        self.address = f"unix:path={self.socket}"
        self.bus_pid: int | None = None
        self.bluezoo: subprocess.Popen | None = None

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "DBUS_SYSTEM_BUS_ADDRESS": self.address}

    def start(self) -> BleRig:
        config = self.workdir / "bus.conf"
        config.write_text(BUS_CONFIG.format(socket=self.socket))
        started = subprocess.run(
            ["dbus-daemon", f"--config-file={config}", "--fork", "--print-pid"],
            capture_output=True,
            text=True,
            check=True,
        )
        self.bus_pid = int(started.stdout.split()[0])
        bluezoo = str(Path(sys.executable).parent / "bluezoo")
        adapters = ["-a", "00:00:00:01:00:01", "-a", "00:00:00:01:00:02"]
        log = (self.workdir / "bluezoo.log").open("w")
        self.bluezoo = subprocess.Popen(
            [bluezoo, "--auto-enable", "--scan-interval", "1", *adapters], env=self.env, stdout=log, stderr=log
        )
        deadline = time.monotonic() + 20
        while "adapter[1]" not in (self.workdir / "bluezoo.log").read_text():
            if time.monotonic() > deadline or self.bluezoo.poll() is not None:
                raise AssertionError(f"BlueZoo did not start: {(self.workdir / 'bluezoo.log').read_text()[-2000:]}")
            time.sleep(0.1)
        return self

    def stop(self) -> None:
        terminate(self.bluezoo)
        if self.bus_pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.bus_pid, signal.SIGTERM)


class Peripheral:
    """ble_peripheral.py on the peripheral adapter: matter.js's BTP behind a GATT application."""

    def __init__(self, rig: BleRig, *mode: str) -> None:
        script = Path(__file__).with_name("ble_peripheral.py")
        command = [sys.executable, str(script), PERIPHERAL, *mode]
        self.lines: list[str] = []
        self.proc = subprocess.Popen(command, env=rig.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))
            if line.startswith("ready"):
                break
        else:
            raise AssertionError(f"the peripheral did not start: {self.lines[-20:]}")
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def stop(self) -> None:
        terminate(self.proc)

    @classmethod
    def echo(cls, rig: BleRig, service_data: bytes, max_data_size: int = 244) -> Peripheral:
        """Advertising ``service_data``; matter.js's BTP echoes each message reversed."""
        return cls(rig, "--echo", service_data.hex(), str(max_data_size))

    @classmethod
    def relay(cls, rig: BleRig, socket: Path, drop_after_writes: int | None = None) -> Peripheral:
        """The radio of a matter.js device that connects to ``socket`` (ble_device.mjs)."""
        drop = ["--drop-after-writes", str(drop_after_writes)] if drop_after_writes is not None else []
        return cls(rig, "--relay", str(socket), *drop)


def rig_or_skip(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[BleRig]:
    reason = ble_rig_unavailable()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"the BLE tests must run in CI: {reason}")
        pytest.skip(reason)
    rig = BleRig(workdir).start()
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", rig.address)
    try:
        yield rig
    finally:
        rig.stop()
