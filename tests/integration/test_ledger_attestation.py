"""Attestation against the ledger's approved PAA roots: our provider commissions a device (another
instance of our provider, with credentials the test mints) whose DAC chains to a PAA served by the
replica's PKI endpoints, and refuses one whose PAA the ledger does not list, saying why."""

from __future__ import annotations

import pytest

from tests.dcl.replica import Replica, approve_root, device_files, mint_paa
from tests.helpers.commissioning import MANUAL_CODE, stop
from tests.helpers.processes import start_provider, wait_for


@pytest.fixture
def replica(tmp_path, monkeypatch):
    replica = Replica(tmp_path / "replica")
    monkeypatch.setenv("SSL_CERT_FILE", str(replica.ca_file))
    yield replica
    replica.close()


def commission(tmp_path, replica: Replica, device_flags: list[str]) -> list[dict]:
    device, device_events = start_provider(tmp_path / "device", device_flags)
    port = next(e["port"] for e in device_events if e["event"] == "Listening")
    try:
        ours, events = start_provider(
            tmp_path / "ours", ["--dcl", replica.url, "--commission", f"{MANUAL_CODE}@[::1]:{port}"]
        )
        try:
            assert wait_for(
                events,
                lambda ev: any(e["event"] in ("DeviceCommissioned", "CommissioningFailed") for e in ev),
                timeout=40,
            )
        finally:
            stop(ours)
    finally:
        stop(device)
    return events


def test_a_dac_chained_to_a_root_the_ledger_approves_is_verified_and_says_so(tmp_path, replica):
    paa, paa_key = mint_paa("Replica Vendor PAA")
    approve_root(replica, paa)
    events = commission(tmp_path, replica, device_files(tmp_path / "credentials", paa, paa_key))
    (loaded,) = [e for e in events if e["event"] == "LedgerRootsLoaded"]
    assert loaded["roots"] == 1
    (done,) = [e for e in events if e["event"] == "DeviceCommissioned"]
    assert f"verified against DCL 127.0.0.1:{replica.port} root " in done["attestation"]
    assert "CN=Replica Vendor PAA" in done["attestation"]


def test_a_dac_whose_paa_the_ledger_does_not_list_is_refused_with_the_reason(tmp_path, replica):
    approved, _ = mint_paa("Replica Vendor PAA")
    approve_root(replica, approved)
    other, other_key = mint_paa("Unlisted PAA")
    events = commission(tmp_path, replica, device_files(tmp_path / "credentials", other, other_key))
    assert not [e for e in events if e["event"] == "DeviceCommissioned"]
    (failed,) = [e for e in events if e["event"] == "CommissioningFailed"]
    stages = [e for e in events if e["event"] == "CommissioningStage" and e["stage"] == "device attestation"]
    said = failed["reason"] + " " + " ".join(e["detail"] for e in stages)
    assert "is not in the PAA trust store (test PAAs and 1 roots from DCL 127.0.0.1:" in said
    assert "--dcl mainnet" in said
