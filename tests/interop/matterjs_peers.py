"""Driving the matter.js peers (tests/interop/matterjs/*.mjs) from the tests.

matter.js 0.17.9 is pinned by the committed package-lock.json; `./run tests` installs it with
`npm ci`. The scripts take one JSON config file and report through a verdict file (peers.py).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

from ota_provider.core.ota.image import HeaderFields, create_image
from tests.interop.netns import NetnsPair
from tests.interop.peers import Verdicts, terminate

MATTERJS = Path(__file__).with_name("matterjs")
# The requestor's OTA timers run this many times faster (the spec's 1..600 s announce jitter and
# matter.js's 120 s minimum busy back-off); its verdicts still say what it asked for.
TIME_FACTOR = 120


def matterjs_unavailable() -> str | None:
    if shutil.which("node") is None:
        return "node not found (./run tests installs Debian's nodejs and npm when run as root)"
    if not (MATTERJS / "node_modules" / "@matter" / "main").is_dir():
        return "matter.js not installed (./run tests runs npm ci in tests/interop/matterjs)"
    return None


def require_matterjs() -> None:
    reason = matterjs_unavailable()
    if reason is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"the matter.js interop tests must run in CI: {reason}")
    pytest.skip(reason)


def _environment(interface: str) -> dict[str, str]:
    return {
        **os.environ,
        "MATTER_MDNS_NETWORKINTERFACE": interface,
        "MATTER_LOG_FORMAT": "plain",
        "MATTER_LOG_LEVEL": "notice",
    }


def _spawn(netns: NetnsPair, namespace: str, interface: str, script: str, config: str, log: Path) -> subprocess.Popen:
    """One of our matter.js scripts in ``namespace``, its mDNS on ``interface``, its output to ``log``."""
    command = [*netns.prefix(namespace), "node", script, config]
    with log.open("a") as out:  # the child keeps its own descriptor
        env = _environment(interface)
        return subprocess.Popen(command, cwd=MATTERJS, env=env, stdout=out, stderr=subprocess.STDOUT)


def _config(path: Path, **settings) -> str:
    path.write_text(json.dumps(settings))
    return str(path)


class MatterJsRequestor:
    """A matter.js OTA Requestor device in the controller's namespace."""

    def __init__(
        self,
        netns: NetnsPair,
        workdir: Path,
        *,
        port: int,
        passcode: int,
        discriminator: int,
        version: int = 1,
        vendor_id: int = 0xFFF1,
        product_id: int = 0x8000,
        timer_cap_ms: int | None = None,
        light: bool = False,
        can_consent: bool = False,
        max_restarts: int = 1,
        ble: Path | None = None,
        network: dict | None = None,
    ) -> None:
        """``light``: an On/Off Light endpoint besides the root, as a product has (see requestor.mjs);
        ``can_consent``: RequestorCanConsent, consent granted at once; ``max_restarts``: how many
        updates it may apply (each is a restart); ``ble``: the socket of its radio (a
        ``Peripheral.relay``), with ``network`` its Network Commissioning cluster (ble_device.mjs)."""
        workdir.mkdir(parents=True, exist_ok=True)
        self.netns, self.workdir = netns, workdir
        self.passcode, self.discriminator, self.port = passcode, discriminator, port
        self.verdicts = Verdicts(workdir / "verdicts.jsonl")
        settings = {
            "verdict": str(self.verdicts.path),
            "storage": str(workdir / "storage"),
            "port": port,
            "passcode": passcode,
            "discriminator": discriminator,
            "vendorId": vendor_id,
            "productId": product_id,
            "version": version,
            "timeFactor": TIME_FACTOR,
            "maxRestarts": max_restarts,
            "light": light,
            "canConsent": can_consent,
        }
        if timer_cap_ms is not None:
            settings["timerCapMs"] = timer_cap_ms
        if ble is not None:
            settings["ble"] = str(ble)
        if network is not None:
            settings["network"] = network
        self.config = _config(workdir / "config.json", **settings)
        self.proc: subprocess.Popen | None = None

    def start(self) -> MatterJsRequestor:
        netns = self.netns
        log = self.workdir / "requestor.log"
        self.proc = _spawn(netns, netns.controller, netns.controller_if, "requestor.mjs", self.config, log)
        self.verdicts.wait_for(lambda v: v.get("event") == "ready", 60, "ready verdict from the matter.js requestor")
        return self

    def reboot(self, timeout: float = 60) -> None:
        """Restart the device into the version it runs (the scripts' ``restart_requestor``)."""
        assert self.proc is not None
        before = len(self.events("ready"))
        self.proc.send_signal(signal.SIGUSR2)
        self.verdicts.wait_for(
            lambda v: v.get("event") == "ready" and len(self.events("ready")) > before, timeout, "ready after a reboot"
        )

    def events(self, name: str) -> list[dict]:
        return [v for v in self.verdicts.read() if v.get("event") == name]

    def wait_for(self, name: str, timeout: float, **fields) -> dict:
        def matches(verdict: dict) -> bool:
            return verdict.get("event") == name and all(verdict.get(k) == v for k, v in fields.items())

        return self.verdicts.wait_for(matches, timeout, f"{name} {fields or ''}")

    def log_tail(self, lines: int = 60) -> str:
        path = self.workdir / "requestor.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""

    def stop(self) -> None:
        terminate(self.proc)


def run_matterjs_controller(
    netns: NetnsPair, storage: Path, steps: list[dict], workdir: Path, timeout: float = 300
) -> list[dict]:
    """Run the matter.js controller over ``steps``; return one outcome per step."""
    tag = time.monotonic_ns()
    verdicts = Verdicts(workdir / f"controller-{tag}.jsonl")
    config = _config(workdir / f"controller-{tag}.json", verdict=str(verdicts.path), storage=str(storage), steps=steps)
    command = [*netns.prefix(netns.controller), "node", "controller.mjs", config]
    result = subprocess.run(
        command,
        cwd=MATTERJS,
        env=_environment(netns.controller_if),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    outcomes = [v for v in verdicts.read() if "step" in v]
    assert len(outcomes) == len(steps), result.stdout[-4000:] + result.stderr[-3000:]
    return outcomes


def update_image(folder: Path) -> tuple[str, str, int]:
    """A 1.2 MB version-2 image for VID 0xFFF1 PID 0x8000 (the requestor's): its path, SHA-256 and size."""
    payload = folder / "payload.bin"
    payload.write_bytes(hashlib.shake_256(b"bench firmware").digest(1_200_000))
    output = folder / "image-v2.ota"
    create_image([payload], output, HeaderFields(0xFFF1, 0x8000, 2, "2.0.0"), "sha256")
    data = output.read_bytes()
    return str(output), hashlib.sha256(data).hexdigest(), len(data)


def assert_updated(requestor: MatterJsRequestor, image_sha256: str, timeout: float = 120) -> None:
    """The requestor downloaded the image byte for byte, restarted into version 2 and said so."""
    try:
        applying = requestor.wait_for("applying", timeout)
        requestor.wait_for("versionApplied", 60, softwareVersion=2)
    except AssertionError:
        print(requestor.log_tail())
        raise
    assert applying["sha256"] == image_sha256 and applying["version"] == 2


class MatterJsProvider:
    """matter.js's own OTA provider (ota_provider.mjs) in the provider's namespace: it commissions the
    requestor at ``address`` and serves it ``image``; the update is forced once :meth:`go` is called."""

    def __init__(
        self, netns: NetnsPair, workdir: Path, image: Path, requestor: MatterJsRequestor, address: str
    ) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.netns, self.workdir = netns, workdir
        self.verdicts = Verdicts(workdir / "verdicts.jsonl")
        self.go_file = workdir / "go"
        self.config = _config(
            workdir / "config.json",
            verdict=str(self.verdicts.path),
            storage=str(workdir / "storage"),
            image=str(image),
            discriminator=requestor.discriminator,
            passcode=requestor.passcode,
            ip=address,
            port=requestor.port,
            vendorId=0xFFF1,
            productId=0x8000,
            version=2,
            goFile=str(self.go_file),
        )
        self.proc: subprocess.Popen | None = None

    def start(self) -> MatterJsProvider:
        netns = self.netns
        log = self.workdir / "provider.log"
        self.proc = _spawn(netns, netns.provider, netns.provider_if, "ota_provider.mjs", self.config, log)
        return self

    def wait_commissioned(self, timeout: float = 120) -> dict:
        return self.verdicts.wait_for(lambda v: v.get("event") == "commissioned", timeout, "the requestor commissioned")

    def go(self) -> None:
        self.go_file.touch()

    def stop(self) -> None:
        terminate(self.proc)
