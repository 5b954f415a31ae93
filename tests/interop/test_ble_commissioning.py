"""A factory-fresh device on the bench, reachable only over BLE: our provider alone finds its
advertisement, runs PASE over BTP, gives it Wi-Fi credentials (or a Thread dataset), tells it to
connect, finds it on IP, runs CASE there, and updates it.

The device is a matter.js 0.17.9 OTA Requestor whose BTP is matter.js's own BtpSessionHandler
(ble_device.mjs), its radio a GATT application in BlueZoo on a private D-Bus bus (ble_rig.py);
ours is bleak on the other mock adapter. Its IP network is gated: every datagram of its namespace
is dropped (nftables) until ConnectNetwork joins the network the test configured, as a device with
no credentials is on no IP network.
"""

from __future__ import annotations

import json
import stat
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from ota_provider.core.codec.setup_payload import SetupPayload
from tests.interop.ble_rig import CENTRAL, Peripheral, rig_or_skip
from tests.interop.matterjs_peers import MatterJsRequestor, assert_updated, require_matterjs, update_image
from tests.interop.netns import CONTROLLER_V6, NetnsPair, pair_or_skip
from tests.interop.peers import REPO, Provider

SSID, PASSPHRASE = "BenchNet", "correct horse battery"
# The SDK guide's sample dataset (OpenThread-e49c, PAN 0xE49C, channel 19): its network key is a secret.
DATASET = (
    "0e080000000000010000000300001335060004001fffe002084fe76e9a8b5edaf50708fde46f999f0698e20510"
    "d47f5027a414ffeebaefa92285cc84fa030f4f70656e5468726561642d653439630102e49c0410b92f8c7fbb4f"
    "9f3e08492ee3915fbd2f0c0402a0f7f8"
)
NETWORK_KEY = "d47f5027a414ffeebaefa92285cc84fa"
GATE = "blegate"


@pytest.fixture(scope="module")
def netns():
    require_matterjs()
    yield from pair_or_skip()


@pytest.fixture(scope="module")
def image(tmp_path_factory):
    return update_image(tmp_path_factory.mktemp("image"))


@pytest.fixture
def rig(tmp_path, monkeypatch):
    yield from rig_or_skip(tmp_path / "ble", monkeypatch)


def close_the_gate(netns: NetnsPair) -> None:
    """The device's namespace drops every datagram but loopback's until the device joins."""
    run = [*netns.prefix(netns.controller), "nft"]
    subprocess.run([*run, "delete", "table", "inet", GATE], capture_output=True, check=False)
    for command in (
        ["add", "table", "inet", GATE],
        ["add", "chain", "inet", GATE, "in", "{ type filter hook input priority 0; policy drop; }"],
        ["add", "rule", "inet", GATE, "in", "iifname", "lo", "accept"],
        ["add", "chain", "inet", GATE, "out", "{ type filter hook output priority 0; policy drop; }"],
        ["add", "rule", "inet", GATE, "out", "oifname", "lo", "accept"],
    ):
        subprocess.run([*run, *command], check=True, capture_output=True, text=True)


def gate_closed(netns: NetnsPair) -> bool:
    listed = subprocess.run(
        [*netns.prefix(netns.controller), "nft", "list", "tables"], capture_output=True, text=True, check=False
    )
    return GATE in listed.stdout


class BleDevice:
    """A matter.js requestor behind a BlueZoo peripheral, on no IP network until it joins one."""

    def __init__(self, netns, rig, workdir: Path, network: dict, *, drop_after_writes: int | None = None) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.socket = Path("/tmp") / f"ble-{uuid.uuid4().hex[:8]}.sock"  # a unix socket path is short
        self.radio = Peripheral.relay(rig, self.socket, drop_after_writes)
        close_the_gate(netns)
        self.requestor = MatterJsRequestor(
            netns,
            workdir / "device",
            port=5540,
            passcode=20202021,  # the default test code, as a dev kit out of its box
            discriminator=3840,
            ble=self.socket,
            network={**network, "gate": GATE},
        )
        self.requestor.start()
        self.ready = self.requestor.events("ready")[0]

    @property
    def manual_code(self) -> str:
        return self.ready["manual"]

    def stop(self) -> None:
        self.requestor.stop()
        self.radio.stop()
        self.socket.unlink(missing_ok=True)


@pytest.fixture
def device(netns, rig, tmp_path):
    made: list[BleDevice] = []

    def make(network: dict, **options) -> BleDevice:
        made.append(BleDevice(netns, rig, tmp_path / f"device-{len(made)}", network, **options))
        return made[-1]

    yield make
    for each in made:
        each.stop()


@pytest.fixture
def provider(netns, tmp_path, image):
    started: list[Provider] = []

    def start(*args: str) -> Provider:
        made = Provider(netns, tmp_path / "provider-state", "--ble-adapter", CENTRAL, *args, image=image[0])
        made.start()
        started.append(made)
        return made

    yield start
    for each in started:
        each.stop()


def stages(provider: Provider) -> list[tuple[str, str]]:
    return [(e["stage"], e["state"]) for e in provider.named("CommissioningStage")]


def commissioned(provider: Provider, timeout: float = 120) -> dict:
    """The DeviceCommissioned event; on failure, the stages as the provider reported them."""
    try:
        (done,) = provider.wait_for("DeviceCommissioned", timeout=timeout)
    except AssertionError:
        told = [(e["stage"], e["state"], e["detail"]) for e in provider.named("CommissioningStage")]
        raise AssertionError(f"not commissioned: {told} {provider.named('CommissioningFailed')}") from None
    return done


def assert_only_in_the_database(secret: bytes, provider: Provider, trace: Path, state: Path) -> None:
    """The secret is in the state database (owner-only), and in nothing else we wrote: the event
    stream, the trace (where the command's field reads "<redacted>"), any other file of the state."""
    written = "".join(json.dumps(e) for e in provider.events) + trace.read_text()
    assert "<redacted>" in trace.read_text()
    for path in state.rglob("*"):
        if path.is_file() and not path.name.startswith("ota-provider.sqlite3"):
            written += path.read_text(errors="replace")
    for form in (secret.hex(), secret.hex().upper(), secret.decode("latin-1")):
        assert form not in written
    files = [f for f in state.glob("ota-provider.sqlite3*") if f.suffix != ".lock"]  # the database, its journal
    assert secret in b"".join(f.read_bytes() for f in files)
    assert all(stat.S_IMODE(f.stat().st_mode) & 0o077 == 0 for f in files)


def test_a_ble_only_device_is_given_wifi_and_updated_with_one_command(netns, device, provider, image, tmp_path):
    dut = device({"kind": "wifi", "ssid": SSID, "passphrase": PASSPHRASE})
    secret = tmp_path / "passphrase"
    secret.write_text(PASSPHRASE + "\n")
    trace = tmp_path / "trace.jsonl"
    assert SetupPayload.from_qr_code(dut.ready["qr"]).discovery & 0x02  # the code says BLE: no --ble needed
    ours = provider(
        "--commission", dut.ready["qr"], "--wifi", SSID, "--wifi-passphrase-file", str(secret),
        "--trace", str(trace), "--exit-when-updated", "--timeout", "300",
    )  # fmt: skip
    done = commissioned(ours)
    seen = stages(ours)
    expected = ["BLE discovery", "BLE connect", "secure pairing (PASE)", "network credentials", "join the network"]
    expected += ["find on IP", "operational session (CASE)", "commissioning complete"]
    for stage in expected:
        assert (stage, "done") in seen, seen
    found = [e for e in ours.named("CommissioningStage") if e["stage"] == "find on IP" and e["state"] == "done"]
    assert CONTROLLER_V6 in found[0]["detail"] or "fe80::" in found[0]["detail"], found
    assert not gate_closed(netns)  # the device joined the network it was given
    assert [v["command"] for v in dut.requestor.events("network")] == ["add", "connect"]
    assert_updated(dut.requestor, image[1])
    assert ours.proc.wait(timeout=120) == 0
    assert done["vendorId"] == 0xFFF1
    assert_only_in_the_database(PASSPHRASE.encode(), ours, trace, tmp_path / "provider-state")


def test_a_thread_device_is_given_the_dataset_and_the_key_stays_in_the_database(netns, device, provider, tmp_path):
    dut = device({"kind": "thread", "dataset": DATASET})
    trace = tmp_path / "trace.jsonl"
    ours = provider("--commission", dut.manual_code, "--ble", "--thread-dataset", DATASET, "--trace", str(trace))
    commissioned(ours)
    ours.stop()
    assert_only_in_the_database(bytes.fromhex(NETWORK_KEY), ours, trace, tmp_path / "provider-state")
    given = [e for e in ours.named("CommissioningStage") if (e["stage"], e["state"]) == ("network credentials", "done")]
    assert "Thread 'OpenThread-e49c', PAN ID 0xE49C, channel 19" in given[0]["detail"], given


def test_a_refused_passphrase_says_so_and_the_device_stays_off_ip(netns, device, provider, tmp_path):
    dut = device({"kind": "wifi", "ssid": SSID, "passphrase": PASSPHRASE})
    secret = tmp_path / "passphrase"
    secret.write_text("not the passphrase\n")
    ours = provider("--commission", dut.manual_code, "--ble", "--wifi", SSID, "--wifi-passphrase-file", str(secret))
    (failed,) = ours.wait_for("CommissioningFailed", timeout=120)
    assert failed["stage"] == "join the network", failed
    assert "authentication failed" in failed["reason"] and "802.11 code 15" in failed["reason"], failed
    assert gate_closed(netns)
    assert not ours.named("DeviceCommissioned")


def test_a_wrong_passcode_over_btp_fails_pase(netns, device, provider, tmp_path):
    dut = device({"kind": "wifi", "ssid": SSID, "passphrase": PASSPHRASE})
    payload = SetupPayload.from_manual_code(dut.manual_code)
    wrong = SetupPayload(discriminator=payload.discriminator, passcode=20202022).manual_code()
    ours = provider("--commission", wrong, "--ble", "--thread-dataset", DATASET)
    (failed,) = ours.wait_for("CommissioningFailed", timeout=120)
    assert failed["stage"] == "secure pairing (PASE)" and "refused the passcode" in failed["reason"], failed


def test_a_link_dropped_mid_pase_fails_at_once_and_says_so(netns, device, provider):
    dut = device({"kind": "wifi", "ssid": SSID, "passphrase": PASSPHRASE}, drop_after_writes=3)
    ours = provider("--commission", dut.manual_code, "--ble", "--thread-dataset", DATASET)
    (failed,) = ours.wait_for("CommissioningFailed", timeout=60)
    assert failed["stage"] == "secure pairing (PASE)" and "BLE link was lost" in failed["reason"], failed


def test_a_device_that_joins_but_never_appears_on_ip(netns, device, provider, tmp_path):
    dut = device({"kind": "wifi", "ssid": SSID, "passphrase": PASSPHRASE, "onIp": False})
    secret = tmp_path / "passphrase"
    secret.write_text(PASSPHRASE)
    ours = provider(
        "--commission", dut.manual_code, "--ble", "--wifi", SSID, "--wifi-passphrase-file", str(secret),
        "--stage-timeout", "6",
    )  # fmt: skip
    (failed,) = ours.wait_for("CommissioningFailed", timeout=120)
    assert failed["stage"] == "find on IP" and "said it joined but does not answer on IP" in failed["reason"], failed


def test_the_add_device_dialog_lists_the_ble_device_and_commissions_it_with_a_kept_network(
    netns, device, rig, image, tmp_path
):
    """The dashboard, as a technician uses it: the BLE row (no DNS-SD for a device with no network),
    picked, the kept network chosen, the code typed; each stage shown as it happens."""
    dut = device({"kind": "wifi", "ssid": SSID, "passphrase": PASSPHRASE})
    state = tmp_path / "provider-state"
    secret = tmp_path / "passphrase"
    secret.write_text(PASSPHRASE)
    kept = subprocess.run(
        [sys.executable, "-m", "ota_provider.core.cli", "networks", "--storage", str(state), "add-wifi", "BenchNet",
         "--ssid", SSID, "--passphrase-file", str(secret)],
        capture_output=True, text=True, check=False, cwd=REPO,
    )  # fmt: skip
    assert kept.returncode == 0, kept.stderr
    verdicts = tmp_path / "pilot.jsonl"
    payload = SetupPayload.from_manual_code(dut.manual_code)
    command = [
        *netns.prefix(netns.provider), sys.executable, "-m", "tests.interop.add_device_pilot", str(verdicts),
        str(payload.discriminator), str(payload.passcode), "BenchNet", "--",
        "-f", image[0], "--storage", str(state), "--ble-adapter", CENTRAL,
    ]  # fmt: skip
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=240, check=False, env=rig.env)
    lines = [json.loads(line) for line in verdicts.read_text().splitlines()] if verdicts.exists() else []
    assert result.returncode == 0 and len(lines) == 3, (lines, dut.radio.lines[-8:], result.stderr[-3000:])
    found, done, _ = lines
    assert found["listed"] and done["picked"] in found["heard"], found
    assert done["outcome"] == "commissioned", done
    text = " ".join(done["lines"])
    for stage in ("BLE connect: done", "secure pairing (PASE): done", "join the network: done", "find on IP: done"):
        assert stage in text, text
    assert "BLE discovery" not in text  # the picked device's address was used
