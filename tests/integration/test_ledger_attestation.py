"""Attestation against the ledger's approved PAA roots: our provider commissions a device (another
instance of our provider, with credentials the test mints) whose DAC chains to a PAA served by the
replica's PKI endpoints, and refuses one whose PAA the ledger does not list, saying why."""

from __future__ import annotations

import pytest
from cryptography import x509

from tests.dcl.replica import Replica, approve_root, device_files, mint_cd_signer, mint_paa, publish_crl
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
    assert "not revoked (no revocation list on the ledger)" in done["attestation"]


def test_a_pai_the_ledgers_revocation_list_names_is_refused(tmp_path, replica):
    paa, paa_key = mint_paa("Replica Vendor PAA")
    approve_root(replica, paa)
    flags = device_files(tmp_path / "credentials", paa, paa_key)
    pai = x509.load_der_x509_certificate((tmp_path / "credentials" / "pai.der").read_bytes())
    publish_crl(replica, paa, paa_key, [pai.serial_number])
    events = commission(tmp_path, replica, flags)
    assert not [e for e in events if e["event"] == "DeviceCommissioned"]
    (failed,) = [e for e in events if e["event"] == "CommissioningFailed"]
    assert f"the PAI (serial {pai.serial_number:X}) is revoked on DCL 127.0.0.1:{replica.port}" in failed["reason"]


def test_a_revocation_list_that_names_others_lets_the_device_in(tmp_path, replica):
    paa, paa_key = mint_paa("Replica Vendor PAA")
    approve_root(replica, paa)
    publish_crl(replica, paa, paa_key, [12345])
    events = commission(tmp_path, replica, device_files(tmp_path / "credentials", paa, paa_key))
    (done,) = [e for e in events if e["event"] == "DeviceCommissioned"]
    assert "not revoked (1 revocation list on the ledger)" in done["attestation"]


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


def test_a_revocation_list_that_cannot_be_fetched_is_said_and_does_not_stop_the_device(tmp_path, replica):
    paa, paa_key = mint_paa("Replica Vendor PAA")
    approve_root(replica, paa)
    publish_crl(replica, paa, paa_key, [12345])
    replica.files = {path: data for path, data in replica.files.items() if not path.startswith("/crl/")}
    events = commission(tmp_path, replica, device_files(tmp_path / "credentials", paa, paa_key))
    (done,) = [e for e in events if e["event"] == "DeviceCommissioned"]
    assert "revocation not checked (127.0.0.1:" in done["attestation"]


def test_a_production_cd_is_verified_with_its_signer_from_the_ledger(tmp_path, replica):
    """A certified product's CD is signed by a key we do not bundle: its signer is looked up on the
    ledger by key id (as matter.js does), and the verdict is "certified"; without it on the ledger
    the CD is refused, saying which key signed it."""
    paa, paa_key = mint_paa("Replica Vendor PAA")
    approve_root(replica, paa)
    signer = mint_cd_signer()
    flags = device_files(tmp_path / "credentials", paa, paa_key, cd_signer=signer)
    refused = commission(tmp_path / "without", replica, flags)
    (failed,) = [e for e in refused if e["event"] == "CommissioningFailed"]
    assert "certification declaration: signed by an unknown key" in failed["reason"]
    replica.cd_signers.append(signer[0])
    events = commission(tmp_path / "with", replica, flags)
    (done,) = [e for e in events if e["event"] == "DeviceCommissioned"]
    assert done["attestation"].startswith(f"attestation: certified, verified against DCL 127.0.0.1:{replica.port} root")
