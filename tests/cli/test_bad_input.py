"""Bad input from a user that used to slip through: each is one clear line (or a note said once at
start), never a traceback and never silence."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from ota_provider.core.api.client import Refused
from ota_provider.core.ota.catalog import CatalogError, ImageCatalog
from tests.helpers.engine_helpers import start_engine
from tests.helpers.samples import SAMPLES

IMAGE = str(SAMPLES / "sample-fff1-8000-v3.ota")


def _cli(*args: str, program: str = "ota_provider.core.cli") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", program, *args], capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.parametrize(
    "program", ["ota_provider.core.cli", "ota_provider.core.cli.image", "ota_provider.core.client.sim"]
)
def test_every_program_says_its_version(program):
    result = _cli("--version", program=program)
    assert result.returncode == 0 and result.stdout.strip().split()[-1][0].isdigit(), result


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--demo-requestors", "3", "-f", IMAGE], "--demo-requestors goes with --demo"),
        (["--demo-block-interval", "1", "-f", IMAGE], "--demo-block-interval goes with --demo"),
    ],
)
def test_demo_flags_without_the_demo_are_refused(args, says):
    result = _cli(*args)
    assert result.returncode == 2 and says in result.stderr and "Traceback" not in result.stderr


def test_a_sim_of_no_requestors_is_refused():
    result = _cli("--fabric", "x.json", "-n", "0", program="ota_provider.core.client.sim")
    assert result.returncode == 2 and "give at least one requestor" in result.stderr


def test_a_capped_block_size_and_a_uri_that_is_not_one_are_said_at_start(tmp_path):
    result = _cli("-f", IMAGE, "-m", "5000", "-i", "notauri", "--check", "--storage", str(tmp_path))
    assert result.returncode == 0
    assert "note: -m 5000: blocks over UDP carry at most 1024 bytes" in result.stdout
    assert "note: -i 'notauri' is neither a bdx:// nor an https:// URI" in result.stdout
    as_json = _cli("-f", IMAGE, "-m", "5000", "--check", "--json", "--storage", str(tmp_path))
    notes = [json.loads(line) for line in as_json.stdout.splitlines() if '"Note"' in line]
    assert len(notes) == 1 and "1024" in notes[0]["note"]


def test_a_control_socket_under_a_file_is_one_line_about_the_socket(tmp_path):
    (tmp_path / "file").write_text("")
    result = _cli(
        "-f",
        IMAGE,
        "--headless",
        "--port",
        "0",
        "--storage",
        str(tmp_path / "state"),
        "--control",
        str(tmp_path / "file" / "x.sock"),
    )
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"ota-provider: error: cannot create the control socket {tmp_path}/file/x.sock: Not a directory"
    )


def test_a_misspelt_key_in_an_image_list_is_named(tmp_path):
    listing = tmp_path / "list.json"
    listing.write_text(
        json.dumps(
            {
                "deviceSoftwareVersionModel": [
                    {
                        "vendorID": 0xFFF1,
                        "productId": 0x8000,
                        "softwareVersion": 3,
                        "softwareVersionString": "3.0",
                        "cDVersionNumber": 1,
                        "softwareVersionValid": True,
                        "minApplicableSoftwareVersion": 1,
                        "maxApplicableSoftwareVersion": 2,
                        "otaURL": IMAGE,
                    }
                ]
            }
        )
    )
    with pytest.raises(CatalogError, match="unknown key 'vendorID': did you mean 'vendorId'"):
        ImageCatalog.from_list(listing)


def test_forcing_an_image_that_is_not_served_is_refused_at_arm_time(tmp_path):
    engine = start_engine(tmp_path / "state", control=str(tmp_path / "control.sock"))
    try:
        from ota_provider.core.api.client import ProviderClient  # noqa: PLC0415

        with ProviderClient.attach(tmp_path / "control.sock") as client:
            with pytest.raises(Refused, match="no image '7' to force: the images served are 0, 1, 2"):
                client.arm("forcedImage", "7")
            assert client.arm("forcedImage", "1").ok
    finally:
        engine.stop()


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--commission", "3497-011-2332", "--ble"], "--ble --commission needs the network to give the device"),
        (["--wifi-passphrase-file", "/dev/null"], "--wifi-passphrase-file goes with --wifi SSID"),
        (["--wifi", "BenchNet", "--thread-dataset", "Lab"], "not allowed with argument"),
    ],
)
def test_ble_flags_that_cannot_work_are_refused_at_start(args, says):
    result = _cli("-f", IMAGE, *args)
    assert result.returncode == 2 and says in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_a_wifi_network_with_no_passphrase_to_read_is_one_line(tmp_path):
    """No file, no environment variable and no terminal to ask on: said before anything starts."""
    result = subprocess.run(
        [sys.executable, "-m", "ota_provider.core.cli", "-f", IMAGE, "--storage", str(tmp_path), "--wifi", "BenchNet"],
        capture_output=True, text=True, timeout=60, check=False, stdin=subprocess.DEVNULL,
        env={k: v for k, v in os.environ.items() if k != "OTA_PROVIDER_WIFI_PASSPHRASE"},
    )  # fmt: skip
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
    assert "no Wi-Fi passphrase: give --wifi-passphrase-file FILE" in result.stderr
