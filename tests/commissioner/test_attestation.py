"""Device attestation verification against the SDK's published test vectors: each rule of the
SDK's DefaultDACVerifier (MATTER_STACK.md §4.4) gives a verdict naming the check that failed."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import secrets

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st

from ota_provider.core.attestation.credentials import DeviceCredentials, attestation_elements, sign_with_challenge
from ota_provider.core.commissioner.attestation import (
    AttestationInput,
    TrustStore,
    VerdictKind,
    decode_certification_declaration,
    verify_attestation,
)
from tests.commissioner.vectors import (
    CD_FFF1_8000,
    CD_FFF2_WITH_DAC_ORIGIN_FFF1_8000,
    DAC_FFF1_8000_KEY_PEM,
    DAC_FFF1_8000_PEM,
    PAI_FFF1_8000_PEM,
)

DER = serialization.Encoding.DER
DAC = x509.load_pem_x509_certificate(DAC_FFF1_8000_PEM).public_bytes(DER)
PAI = x509.load_pem_x509_certificate(PAI_FFF1_8000_PEM).public_bytes(DER)
DAC_KEY = serialization.load_pem_private_key(DAC_FFF1_8000_KEY_PEM, None)
CHALLENGE, NONCE = bytes(range(16)), bytes(range(32))
TEST_TRUST = TrustStore.with_test_roots()


def sdk_device(cd=CD_FFF1_8000, *, vendor_id=0xFFF1, product_id=0x8000, nonce=NONCE, key=DAC_KEY, **changes):
    """The SDK's test DAC 0000 answering our AttestationRequest, signed with its published key."""
    elements = attestation_elements(cd, nonce)
    signature = sign_with_challenge(key, elements, CHALLENGE)
    data = AttestationInput(DAC, PAI, elements, signature, CHALLENGE, NONCE, vendor_id, product_id)
    return dataclasses.replace(data, **changes)


@pytest.fixture(scope="module")
def trust():
    return TrustStore.with_test_roots()


def test_the_sdk_test_device_is_a_test_device(trust):
    verdict = verify_attestation(sdk_device(), trust)
    assert verdict.kind == VerdictKind.TEST_DEVICE and verdict.ok
    assert "test device" in verdict.describe() and "0xFFF1" in verdict.describe()


def test_an_unknown_paa_is_refused_by_name(trust):
    without_fff1 = {key_id: paa for key_id, paa in trust.paas.items() if "FFF1" not in paa.subject.rfc4514_string()}
    only_novid = TrustStore(paas=without_fff1, cd_keys=trust.cd_keys)
    verdict = verify_attestation(sdk_device(), only_novid)
    assert verdict.kind == VerdictKind.FAILED and verdict.check == "PAA trust"
    assert "--paa-trust-store" in verdict.reason


def test_a_paa_folder_adds_production_roots(tmp_path, trust):
    empty = TrustStore(cd_keys=trust.cd_keys)
    (tmp_path / "paa.pem").write_bytes(
        next(p for p in trust.paas.values() if "FFF1" in p.subject.rfc4514_string()).public_bytes(
            serialization.Encoding.PEM
        )
    )
    (tmp_path / "notes.txt").write_text("ignored")
    assert empty.add_paa_folder(tmp_path) == 1
    assert verify_attestation(sdk_device(), empty).ok
    (tmp_path / "broken.der").write_bytes(b"\x30\x03junk")
    with pytest.raises(ValueError, match=r"broken\.der"):
        empty.add_paa_folder(tmp_path)


@pytest.mark.parametrize(
    ("device", "check"),
    [
        (lambda: sdk_device(nonce=bytes(32)), "attestation nonce"),
        (lambda: sdk_device(key=ec.generate_private_key(ec.SECP256R1())), "attestation signature"),
        (lambda: sdk_device(product_id=0x8001), "VID/PID agreement"),
        (lambda: sdk_device(vendor_id=0xFFF2), "VID/PID agreement"),
        (lambda: sdk_device(dac=b""), "inputs"),
        (lambda: sdk_device(pai=b"not a certificate"), "certificate format"),
        (lambda: sdk_device(elements=bytes(901)), "inputs"),
        (lambda: sdk_device(dac=PAI), "attestation signature"),  # the PAI's key did not sign
        (lambda: sdk_device(pai=DAC), "PAA trust"),  # the chain order swapped: no PAA issued the "PAI"
        (lambda: sdk_device(cd=CD_FFF1_8000[:-8]), "certification declaration"),
    ],
    ids=[
        "replayed nonce",
        "other key",
        "PID not declared",
        "VID differs",
        "no DAC",
        "bad PAI",
        "long elements",
        "PAI as DAC",
        "DAC as PAI",
        "truncated CD",
    ],
)
def test_each_rule_names_its_check(trust, device, check):
    verdict = verify_attestation(device(), trust)
    assert (verdict.kind, verdict.check) == (VerdictKind.FAILED, check), verdict.describe()
    assert verdict.reason and verdict.describe().startswith(f"attestation failed: {check}: ")


def test_an_unknown_cd_key_is_refused(trust):
    verdict = verify_attestation(sdk_device(), TrustStore(paas=trust.paas))
    assert verdict.check == "certification declaration" and "unknown key" in verdict.reason


def test_the_dac_must_be_valid_now(trust):
    verdict = verify_attestation(sdk_device(), trust, now=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    assert verdict.check == "DAC validity"


def test_dac_origin_fields_replace_the_vendor_checks(trust):
    # The SDK's CD 02: VID 0xFFF2 with PIDs 0x8001/0x8002, DACs from VID 0xFFF1 PID 0x8000.
    assert verify_attestation(
        sdk_device(CD_FFF2_WITH_DAC_ORIGIN_FFF1_8000, vendor_id=0xFFF2, product_id=0x8002), trust
    ).ok
    wrong = verify_attestation(
        sdk_device(CD_FFF2_WITH_DAC_ORIGIN_FFF1_8000, vendor_id=0xFFF2, product_id=0x8000), trust
    )
    assert wrong.check == "VID/PID agreement" and "0x8000" in wrong.reason


def test_the_sdk_declarations_decode():
    first, content, signature = decode_certification_declaration(CD_FFF1_8000)
    assert (first.vendor_id, first.product_ids, first.device_type_id) == (0xFFF1, (0x8000,), 0x1234)
    assert (first.certificate_id, first.certification_type) == ("ZIG20141ZB330001-24", 0)
    assert first.dac_origin_vendor_id is None and first.signer_key_id.hex().upper().startswith("62FA8233")
    assert content[:1] == b"\x15" and signature[:1] == b"\x30"
    second, _, _ = decode_certification_declaration(CD_FFF2_WITH_DAC_ORIGIN_FFF1_8000)
    assert (second.vendor_id, second.product_ids) == (0xFFF2, (0x8001, 0x8002))
    assert (second.dac_origin_vendor_id, second.dac_origin_product_id) == (0xFFF1, 0x8000)


def test_our_own_node_attests_as_a_test_device(trust):
    """The credentials our provider mints for itself pass the same verifier (NoVID PAA)."""
    ours = DeviceCredentials.generate(0xFFF1, 0x8000)
    nonce = secrets.token_bytes(32)
    elements = attestation_elements(ours.certification_declaration, nonce)
    data = AttestationInput(
        ours.dac,
        ours.pai,
        elements,
        sign_with_challenge(ours.dac_key, elements, CHALLENGE),
        CHALLENGE,
        nonce,
        0xFFF1,
        0x8000,
    )
    assert verify_attestation(data, trust).kind == VerdictKind.TEST_DEVICE


@settings(max_examples=200, deadline=None)
@given(
    dac=st.binary(max_size=600),
    pai=st.binary(max_size=600),
    elements=st.binary(max_size=1000),
    signature=st.binary(max_size=80),
)
def test_any_bytes_give_a_verdict_never_an_exception(dac, pai, elements, signature):
    data = AttestationInput(dac, pai, elements, signature, CHALLENGE, NONCE, 0xFFF1, 0x8000)
    assert verify_attestation(data, TEST_TRUST).kind == VerdictKind.FAILED


@settings(max_examples=200, deadline=None)
@given(cd=st.binary(max_size=400))
def test_any_bytes_as_a_declaration_give_a_clean_error(cd):
    with contextlib.suppress(ValueError):  # a clean error, or (rarely) a valid declaration
        decode_certification_declaration(cd)
