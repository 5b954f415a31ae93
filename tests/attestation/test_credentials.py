"""Minted attestation credentials follow the SDK's DAC/PAI/CD rules (MATTER_STACK.md §3.9, §4.4)."""

from __future__ import annotations

from pathlib import Path

from asn1crypto import cms
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ota_provider.core.attestation.credentials import (
    PID_OID,
    VID_OID,
    CertificationDeclaration,
    DeviceCredentials,
    attestation_elements,
    sign_with_challenge,
)
from ota_provider.core.codec import tlv
from ota_provider.core.crypto.primitives import ecdsa_verify_raw

# The public test PAA as published with the SDK (credentials/test/attestation), bundled with the product.
TEST_PAA = Path(__file__).resolve().parents[2] / "core/attestation/test_credentials/Chip-Test-PAA-NoVID-Cert.pem"
NOVID_SKID = bytes.fromhex("785CE705B86B8F4E6FC793AA60CB43EA696882D5")
CD_SKID = bytes.fromhex("62FA823359ACFAA9963E1CFA140ADDF504F37160")


def test_dac_chain_verifies_up_to_the_test_paa():
    creds = DeviceCredentials.generate(0xFFF1, 0x8000)
    dac, pai = x509.load_der_x509_certificate(creds.dac), x509.load_der_x509_certificate(creds.pai)
    paa = x509.load_pem_x509_certificate(TEST_PAA.read_bytes())
    assert paa.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest == NOVID_SKID
    dac.verify_directly_issued_by(pai)
    pai.verify_directly_issued_by(paa)
    assert pai.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier == NOVID_SKID
    assert dac.subject.get_attributes_for_oid(VID_OID)[0].value == "FFF1"
    assert dac.subject.get_attributes_for_oid(PID_OID)[0].value == "8000"
    assert pai.subject.get_attributes_for_oid(PID_OID) == []
    assert pai.extensions.get_extension_for_class(x509.BasicConstraints).value.path_length == 0
    usage = dac.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature and not usage.value.key_cert_sign
    assert not dac.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert dac.public_key().public_numbers() == creds.dac_key.public_key().public_numbers()


def test_certification_declaration_is_cms_signed_by_the_test_cd_key():
    creds = DeviceCredentials.generate(0xFFF1, 0x8005)
    info = cms.ContentInfo.load(creds.certification_declaration)
    signed = info["content"]
    signer = signed["signer_infos"][0]
    assert signer["sid"].name == "subject_key_identifier" and signer["sid"].chosen.native == CD_SKID
    assert not signer["signed_attrs"]
    content = signed["encap_content_info"]["content"].native
    cd = tlv.decode(content)
    assert (cd[0], cd[1], list(cd[2]), cd[8]) == (1, 0xFFF1, [0x8005], 0)
    cd_cert = x509.load_pem_x509_certificate(
        (
            Path(__file__).resolve().parents[2] / "core/attestation/test_credentials/Chip-Test-CD-Signing-Cert.pem"
        ).read_bytes()
    )
    cd_cert.public_key().verify(signer["signature"].native, content, ec.ECDSA(hashes.SHA256()))


def test_attestation_signature_covers_elements_and_challenge():
    creds = DeviceCredentials.generate(0xFFF1, 0x8000)
    elements = attestation_elements(creds.certification_declaration, bytes(32))
    signature = sign_with_challenge(creds.dac_key, elements, b"C" * 16)
    ecdsa_verify_raw(creds.dac_key.public_key(), elements + b"C" * 16, signature)


def test_storage_round_trip():
    creds = DeviceCredentials.generate(0xFFF1, 0x8000)
    again = DeviceCredentials.from_storage(creds.to_storage())
    assert (again.dac, again.pai, again.vendor_id, again.product_id) == (creds.dac, creds.pai, 0xFFF1, 0x8000)


# TestCertificationDeclaration.cpp: sTestCMS_CDContent01 and the head of sTestCMS_SignedMessage01.
SDK_CD_CONTENT_01 = bytes.fromhex(
    "152400012501f1ff360205008018250334122c04135a494732303134315a423333303030312d32342405002406002507942624080018"
)


def test_cd_tlv_matches_the_sdk_vector():
    cd = CertificationDeclaration(
        0xFFF1, (0x8000,), device_type_id=0x1234, certificate_id="ZIG20141ZB330001-24", version_number=0x2694
    )
    assert cd.tlv() == SDK_CD_CONTENT_01


def test_cms_envelope_has_the_sdk_layout():
    cd = CertificationDeclaration(
        0xFFF1, (0x8000,), device_type_id=0x1234, certificate_id="ZIG20141ZB330001-24", version_number=0x2694
    )
    key_path = Path(__file__).resolve().parents[2] / "core/attestation/test_credentials"
    cert = x509.load_pem_x509_certificate((key_path / "Chip-Test-CD-Signing-Cert.pem").read_bytes())
    key = serialization.load_pem_private_key((key_path / "Chip-Test-CD-Signing-Key.pem").read_bytes(), None)
    envelope = cd.signed(cert, key)
    # Compare every deterministic part with the SDK's sTestCMS_SignedMessage01 (only the signature differs).
    signed = cms.ContentInfo.load(envelope)["content"]
    signer = signed["signer_infos"][0]
    assert envelope[:2] == bytes.fromhex("3081") and cms.ContentInfo.load(envelope)["content_type"].dotted.endswith(
        ".7.2"
    )
    assert signed["version"].dump() == bytes.fromhex("020103")
    assert signed["digest_algorithms"].dump() == bytes.fromhex("310d300b0609608648016503040201")
    assert signed["encap_content_info"].dump() == bytes.fromhex(
        "304506092a864886f70d010701a0380436" + SDK_CD_CONTENT_01.hex()
    )
    assert signer["version"].dump() + signer["sid"].dump() == bytes.fromhex(
        "020103801462fa823359acfaa9963e1cfa140addf504f37160"
    )
    assert signer["digest_algorithm"].dump() == bytes.fromhex("300b0609608648016503040201")
    assert signer["signature_algorithm"].dump() == bytes.fromhex("300a06082a8648ce3d040302")
    cert.public_key().verify(signer["signature"].native, SDK_CD_CONTENT_01, ec.ECDSA(hashes.SHA256()))
