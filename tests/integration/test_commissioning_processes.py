"""Our provider commissions another instance of our provider, two processes over real UDP: the
whole on-network stage list, then the device is on the bench fabric and we on its ACL."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.helpers.commissioning import MANUAL_CODE, stop
from tests.helpers.processes import IMAGE, start_provider, wait_for


def test_one_provider_commissions_another(tmp_path):
    device, device_events = start_provider(tmp_path / "device")
    port = next(e["port"] for e in device_events if e["event"] == "Listening")
    try:
        ours, events = start_provider(tmp_path / "ours", ["--commission", f"{MANUAL_CODE}@[::1]:{port}"])
        try:
            assert wait_for(
                events,
                lambda ev: any(
                    e["event"] == "CommissioningFailed"
                    or (e["event"] == "DeviceStep" and e["step"] == "point it at us")
                    for e in ev
                ),
                timeout=30,
            )
            (done,) = [e for e in events if e["event"] == "DeviceCommissioned"]
            stages = [e["stage"] for e in events if e["event"] == "CommissioningStage" and e["state"] == "done"]
            fabrics = [e for e in events if e["event"] == "Fabrics"]
            steps = [(e["step"], e["state"], e["detail"]) for e in events if e["event"] == "DeviceStep"]
        finally:
            stop(ours)
        # The device now lists a second fabric: ours, with us as its administrator.
        assert wait_for(
            device_events, lambda ev: any(e["event"] == "Fabrics" and len(e["fabrics"]) == 2 for e in ev), timeout=10
        )
    finally:
        stop(device)
    assert done["nodeId"] == 0x10 and (done["vendorId"], done["productId"]) == (0xFFF1, 0x8000)
    assert "test device" in done["attestation"]
    assert stages == [
        "secure pairing (PASE)",
        "read commissioning info",
        "arm the fail-safe",
        "regulatory config",
        "device attestation",
        "operational CSR",
        "add trusted root",
        "add NOC",
        "operational session (CASE)",
        "commissioning complete",
    ]
    assert any(f["label"] == "bench" for e in fabrics for f in e["fabrics"])  # we joined our own bench fabric
    # Our provider has no OTA Requestor cluster: read, listed as such, and left alone.
    (read, point) = steps
    assert read[:2] == ("read the device", "done") and "version 1 (0.1.0)" in read[2] and "no OTA requestor" in read[2]
    assert point[:2] == ("point it at us", "skipped") and "no OTA Requestor cluster" in point[2]
    listed = subprocess.run(
        [
            sys.executable,
            "-m",
            "ota_provider.core.cli",
            "devices",
            "--json",
            "--storage",
            str(tmp_path / "ours" / "state"),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    (record,) = [json.loads(line) for line in listed.stdout.splitlines()]
    assert (record["nodeId"], record["state"], record["softwareVersion"]) == (0x10, "no OTA requestor", 1)
    assert record["address"] == "::1" and record["port"] == port


def test_a_bad_code_is_one_line_and_exit_2(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ota_provider.core.cli",
            "-f",
            str(IMAGE),
            "--storage",
            str(tmp_path),
            "--headless",
            "--commission",
            "3497-011-2333@[::1]:5540",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 2 and "check digit is wrong" in result.stderr
    assert len(result.stderr.strip().splitlines()) <= 2 and "Traceback" not in result.stderr  # usage + the line


def test_an_unreachable_device_ends_exit_when_updated_with_one_line(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "ota_provider.core.cli",
            "-f",
            str(IMAGE),
            "--storage",
            str(tmp_path),
            "--port",
            "0",
            "--json",
            "--commission",
            f"{MANUAL_CODE}@[::1]:9",
            "--exit-when-updated",
            "--stage-timeout",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line == (
        f"ota-provider: error: {MANUAL_CODE}@[::1]:9 was not commissioned: secure pairing (PASE) failed: "
        "no answer from [::1]:9 within 1 s: is the device on that address, and its commissioning window "
        "open?"
    )
    listed = subprocess.run(
        [sys.executable, "-m", "ota_provider.core.cli", "devices", "--json", "--storage", str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert listed.stdout == ""  # nothing half-written in our state
