"""Wi-Fi credentials and Thread datasets: their checks, and that the secrets go nowhere but the
state database (owner-only).

The dataset is the one connectedhomeip's guide prints from ``ot-ctl dataset active -x``
(docs/guides ... setup_qpg7015m: network name OpenThread-e49c, PAN ID 0xE49C, channel 19)."""

from __future__ import annotations

import contextlib
import json
import os
import stat
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ota_provider.core.commissioner.credential_store import CredentialStore
from ota_provider.core.commissioner.network_credentials import (
    CredentialError,
    WifiCredentials,
    dataset_from_tlvs,
    parse_thread_dataset,
)
from ota_provider.core.storage.database import Database

DATASET = (
    "0e080000000000010000000300001335060004001fffe002084fe76e9a8b5edaf50708fde46f999f0698e20510d47f5027a414ffee"
    "baefa92285cc84fa030f4f70656e5468726561642d653439630102e49c0410b92f8c7fbb4f9f3e08492ee3915fbd2f0c0402a0fff8"
)
NETWORK_KEY = "d47f5027a414ffeebaefa92285cc84fa"
PASSPHRASE = "correct horse battery staple"


def test_the_dataset_from_the_sdk_guide():
    dataset = parse_thread_dataset(DATASET)
    assert (dataset.network_name, dataset.pan_id, dataset.channel) == ("OpenThread-e49c", 0xE49C, 19)
    assert dataset.extended_pan_id.hex() == "4fe76e9a8b5edaf5"
    assert NETWORK_KEY not in repr(dataset) and NETWORK_KEY not in dataset.describe()
    assert parse_thread_dataset(" 0x" + DATASET.upper() + "\n").tlvs == dataset.tlvs


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("zz", "hex digits"),
        (DATASET[:-1], "hex digits"),
        (DATASET[:-2], "runs past its end"),
        (DATASET.replace("0510d47f", "0511d47f")[:-2], "TLV 5"),
        ("0102e49c0208" + "00" * 8, "no network key, no channel"),
        ("00" * 256, "at most 254 bytes"),
    ],
)
def test_a_dataset_no_device_would_take_is_one_line(text, why):
    with pytest.raises(CredentialError, match=why):
        parse_thread_dataset(text)


@given(st.binary(max_size=300))
def test_any_dataset_bytes_parse_or_are_refused(data):
    with contextlib.suppress(CredentialError):
        dataset_from_tlvs(data)


@pytest.mark.parametrize(
    ("ssid", "passphrase", "why"),
    [
        (b"", b"12345678", "SSID is 1 to 32"),
        (b"x" * 33, b"12345678", "SSID is 1 to 32"),
        (b"Bench", b"short", "8 to 63"),
    ],
)
def test_wifi_credentials_are_checked(ssid, passphrase, why):
    with pytest.raises(CredentialError, match=why):
        WifiCredentials(ssid, passphrase)
    WifiCredentials(b"Bench", b"f" * 64)  # a 64-hex-digit PSK is accepted
    assert PASSPHRASE not in repr(WifiCredentials(b"Bench", PASSPHRASE.encode()))


def test_the_store_keeps_them_by_name(tmp_path):
    db = Database(tmp_path / "state.sqlite3")
    store = CredentialStore(db)
    store.put("bench", WifiCredentials(b"BenchNet", PASSPHRASE.encode()))
    store.put("otbr", parse_thread_dataset(DATASET))
    assert [n.name for n in store.all()] == ["bench", "otbr"]
    got = store.get("bench")
    assert got is not None and got.credentials == WifiCredentials(b"BenchNet", PASSPHRASE.encode())
    assert store.remove("bench") and not store.remove("bench")
    with pytest.raises(CredentialError):
        store.check_name("has space")
    db.close()


def networks(tmp_path, *args, env=None, stdin=None):
    command = [sys.executable, "-m", "ota_provider.core.cli", "networks", "--storage", str(tmp_path), *args]
    environment = {**os.environ, **(env or {})}
    run = subprocess.run
    return run(command, capture_output=True, text=True, timeout=60, env=environment, input=stdin, check=False)


def test_the_secrets_appear_nowhere_but_the_owner_only_database(tmp_path):
    (tmp_path / "passphrase").write_text(PASSPHRASE + "\n")
    results = [
        networks(tmp_path, "add-wifi", "bench", "--ssid", "BenchNet", "--passphrase-file", f"{tmp_path}/passphrase"),
        networks(tmp_path, "add-thread", "otbr", env={"OTA_PROVIDER_THREAD_DATASET": DATASET}),
        networks(tmp_path, "add-wifi", "lab", "--ssid", "Lab", "--passphrase-file", "-", stdin=PASSPHRASE + "\n"),
        networks(tmp_path, "list"),
        networks(tmp_path, "list", "--json"),
    ]
    assert all(r.returncode == 0 for r in results), [r.stderr for r in results]
    printed = "".join(r.stdout + r.stderr for r in results)
    for secret in (PASSPHRASE, NETWORK_KEY, DATASET):
        assert secret not in printed and secret.upper() not in printed
    listed = [json.loads(line) for line in results[-1].stdout.splitlines()]
    assert [(n["name"], n["kind"]) for n in listed] == [("bench", "wifi"), ("lab", "wifi"), ("otbr", "thread")]
    assert listed[2]["networkName"] == "OpenThread-e49c" and listed[0]["ssid"] == "BenchNet"
    state = tmp_path / "ota-provider.sqlite3"
    assert stat.S_IMODE(state.stat().st_mode) == 0o600
    others = [p for p in tmp_path.rglob("*") if p.is_file() and not p.name.startswith("ota-provider.sqlite3")]
    for path in others:
        if path.name != "passphrase":
            assert PASSPHRASE.encode() not in path.read_bytes(), path


def test_a_secret_with_no_source_and_a_bad_dataset_are_one_line(tmp_path):
    no_source = networks(tmp_path, "add-wifi", "bench", "--ssid", "BenchNet", stdin="")
    assert no_source.returncode == 2 and no_source.stderr.count("\n") == 1
    assert "OTA_PROVIDER_WIFI_PASSPHRASE" in no_source.stderr and "never a flag value" in no_source.stderr
    bad = networks(tmp_path, "add-thread", "otbr", env={"OTA_PROVIDER_THREAD_DATASET": DATASET[:-2]})
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and DATASET[:20] not in bad.stderr
    unknown = networks(tmp_path, "remove", "nothing")
    assert unknown.returncode == 2 and "no network named" in unknown.stderr
