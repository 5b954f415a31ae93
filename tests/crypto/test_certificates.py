"""Matter certificate TLV <-> X.509 DER against the SDK's published test certificates."""

from __future__ import annotations

import base64
import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509 as cx509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding

from ota_provider.core.crypto.certificates import (
    FABRIC_ID,
    NOC_CAT,
    NODE_ID,
    RCAC_ID,
    CertificateError,
    MatterCertificate,
    issue_certificate,
    validate_operational_chain,
)
from tests.helpers.fuzzing import assert_only_raises, fuzz_inputs

DATA = Path(__file__).with_name("data")
NOW = dt.datetime(2026, 11, 26, tzinfo=dt.UTC)


def load(name: str) -> tuple[bytes, bytes]:
    tlv_bytes = base64.b64decode((DATA / f"{name}.chip-b64").read_text())
    der = cx509.load_pem_x509_certificate((DATA / f"{name}.pem").read_bytes()).public_bytes(Encoding.DER)
    return tlv_bytes, der


@pytest.mark.parametrize("name", ["Chip-Test-Root01-Cert", "Chip-Test-ICA02-Cert"])
def test_tlv_to_der_is_byte_exact(name):
    tlv_bytes, der = load(name)
    assert MatterCertificate.from_tlv(tlv_bytes).to_der() == der


@pytest.mark.parametrize("name", ["Chip-Test-Root01-Cert", "Chip-Test-ICA02-Cert"])
def test_der_to_tlv_is_byte_exact(name):
    tlv_bytes, der = load(name)
    assert MatterCertificate.from_der(der).to_tlv() == tlv_bytes


def test_root01_fields_and_self_signature():
    tlv_bytes, _ = load("Chip-Test-Root01-Cert")
    root = MatterCertificate.from_tlv(tlv_bytes)
    assert root.subject.single(RCAC_ID) == 0xCACACACA00000001
    assert root.is_ca and root.key_usage == 0x60
    root.verify_signature(root.public_key)
    tampered = MatterCertificate.from_tlv(tlv_bytes.replace(b"\xca\xca\xca\xca", b"\xca\xca\xca\xcb", 1))
    with pytest.raises(CertificateError, match="does not verify"):
        tampered.verify_signature(root.public_key)


@pytest.fixture(scope="module")
def chain():
    root_key, ica_key, node_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    root_dn = ((RCAC_ID, 0xCACACACA00000001), (FABRIC_ID, 0xFAB000000000001D))
    ica_dn = ((19, 0xCACACACA00000003), (FABRIC_ID, 0xFAB000000000001D))
    node_dn = ((NODE_ID, 0xDEDEDEDE00010001), (FABRIC_ID, 0xFAB000000000001D), (NOC_CAT, 0xABCD0002))
    root = issue_certificate(
        subject=root_dn,
        public_key=root_key.public_key(),
        issuer=root_dn,
        issuer_key=root_key,
        is_ca=True,
        not_before=start,
        serial=1,
    )
    ica = issue_certificate(
        subject=ica_dn,
        public_key=ica_key.public_key(),
        issuer=root_dn,
        issuer_key=root_key,
        is_ca=True,
        not_before=start,
        serial=2,
        path_len=0,
    )
    noc = issue_certificate(
        subject=node_dn,
        public_key=node_key.public_key(),
        issuer=ica_dn,
        issuer_key=ica_key,
        is_ca=False,
        not_before=start,
        serial=3,
    )
    return root, ica, noc


def test_minted_certificates_survive_tlv_round_trip(chain):
    # cryptography's DER encoder is independent of ours: TLV -> DER must reproduce its bytes.
    for cert in chain:
        again = MatterCertificate.from_tlv(cert.to_tlv())
        again.verify_signature(chain[0].public_key if cert is not chain[2] else chain[1].public_key)


def test_chain_validates_and_yields_identity(chain):
    root, ica, noc = chain
    info = validate_operational_chain(noc, ica, root, at=NOW)
    assert (info.node_id, info.fabric_id, info.cats) == (0xDEDEDEDE00010001, 0xFAB000000000001D, (0xABCD0002,))


def test_chain_rejects_wrong_issuer_and_time(chain):
    root, ica, noc = chain
    with pytest.raises(CertificateError):
        validate_operational_chain(noc, None, root)  # NOC was issued by the ICAC
    with pytest.raises(CertificateError, match="not valid"):
        validate_operational_chain(noc, ica, root, at=dt.datetime(2023, 1, 1, tzinfo=dt.UTC))
    other_key = ec.generate_private_key(ec.SECP256R1())
    rogue_root = issue_certificate(
        subject=((RCAC_ID, 1),),
        public_key=other_key.public_key(),
        issuer=((RCAC_ID, 1),),
        issuer_key=other_key,
        is_ca=True,
        not_before=NOW,
    )
    with pytest.raises(CertificateError):
        validate_operational_chain(noc, ica, rogue_root)


def test_noc_with_out_of_range_node_id_is_rejected(chain):
    root, _, _ = chain
    key = ec.generate_private_key(ec.SECP256R1())
    root_key = ec.generate_private_key(ec.SECP256R1())
    root_dn = ((RCAC_ID, 7),)
    root = issue_certificate(
        subject=root_dn,
        public_key=root_key.public_key(),
        issuer=root_dn,
        issuer_key=root_key,
        is_ca=True,
        not_before=NOW,
    )
    noc = issue_certificate(
        subject=((NODE_ID, 0xFFFFFFFF00000001), (FABRIC_ID, 1)),
        public_key=key.public_key(),
        issuer=root_dn,
        issuer_key=root_key,
        is_ca=False,
        not_before=NOW,
    )
    with pytest.raises(CertificateError, match="operational range"):
        validate_operational_chain(noc, None, root)


def test_fuzz_certificate_parser_raises_only_certificate_error():
    corpus = [load("Chip-Test-Root01-Cert")[0], load("Chip-Test-ICA02-Cert")[0]]

    def parse(data: bytes) -> object:
        cert = MatterCertificate.from_tlv(data)
        return cert.to_der()

    inputs = fuzz_inputs(corpus, count=20_000, seed=0xCE47, max_random_len=300)
    assert assert_only_raises(parse, CertificateError, inputs) == 20_000
