"""Device attestation: the node's DAC, PAI and Certification Declaration (Core spec 6.2, 6.3).

At first start the node mints a PAI for its vendor id, signed by the public test PAA, and a
DAC for its vendor and product id signed by that PAI; it signs a Certification Declaration
with the public test CD key. Commissioners in test mode accept all three. Users with their
own credentials can load DER files instead (:meth:`DeviceCredentials.from_files`).
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from asn1crypto import algos, cms, core
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ..codec import tlv
from ..codec.tlv import UInt
from ..crypto.primitives import ecdsa_sign_raw

__all__ = [
    "AttestationError",
    "CertificationDeclaration",
    "DeviceCredentials",
    "attestation_elements",
    "nocsr_elements",
    "sign_with_challenge",
]

VID_OID = x509.ObjectIdentifier("1.3.6.1.4.1.37244.2.1")
PID_OID = x509.ObjectIdentifier("1.3.6.1.4.1.37244.2.2")
OTA_PROVIDER_DEVICE_TYPE = 0x0014
_CREDENTIALS = "ota_provider.core.attestation.test_credentials"


class AttestationError(ValueError):
    pass


def _resource(name: str) -> bytes:
    return (resources.files(_CREDENTIALS) / name).read_bytes()


def _hex_attribute(oid: x509.ObjectIdentifier, value: int) -> x509.NameAttribute:
    # The SDK reads VID/PID from UTF8String attributes of four upper-case hex digits.
    return x509.NameAttribute(oid, f"{value:04X}", x509.name._ASN1Type.UTF8String)


def _skid(key: ec.EllipticCurvePublicKey) -> x509.SubjectKeyIdentifier:
    return x509.SubjectKeyIdentifier.from_public_key(key)


def _issue(
    subject: x509.Name,
    key: ec.EllipticCurvePublicKey,
    issuer: x509.Certificate,
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    ca: bool,
    not_before: dt.datetime,
) -> x509.Certificate:
    usage = (
        x509.KeyUsage(False, False, False, False, False, True, True, False, False)
        if ca
        else x509.KeyUsage(True, False, False, False, False, False, False, False, False)
    )
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.subject)
        .public_key(key)
        .serial_number(secrets.randbits(63) + 1)
        .not_valid_before(not_before)
        .not_valid_after(dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.UTC))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=0 if ca else None), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(_skid(key), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier(_skid(issuer_key.public_key()).digest, None, None), critical=False)
        .sign(issuer_key, hashes.SHA256())
    )


@dataclass(frozen=True)
class CertificationDeclaration:
    vendor_id: int
    product_ids: tuple[int, ...]
    device_type_id: int = OTA_PROVIDER_DEVICE_TYPE
    certificate_id: str = "ZIG20142ZB330003-24"
    version_number: int = 1
    certification_type: int = 0  # 0: development and test

    def tlv(self) -> bytes:
        return tlv.encode(
            tlv.Structure(
                {
                    0: UInt(1),  # format_version
                    1: UInt(self.vendor_id),
                    2: tlv.Array(UInt(p) for p in self.product_ids),
                    3: UInt(self.device_type_id),
                    4: self.certificate_id,
                    5: UInt(0),  # security_level
                    6: UInt(0),  # security_information
                    7: UInt(self.version_number),
                    8: UInt(self.certification_type),
                }
            )
        )

    def signed(self, signing_cert: x509.Certificate, signing_key: ec.EllipticCurvePrivateKey) -> bytes:
        """CMS SignedData over the CD TLV, signer identified by its SKID, no signed attributes."""
        content = self.tlv()
        signature = signing_key.sign(content, ec.ECDSA(hashes.SHA256()))
        skid = signing_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
        # The SDK's CMS parser expects AlgorithmIdentifiers without parameters, not with NULL.
        sha256 = algos.DigestAlgorithm({"algorithm": "sha256", "parameters": None})
        signed_data = cms.SignedData(
            {
                "version": "v3",
                "digest_algorithms": [sha256],
                "encap_content_info": {"content_type": "data", "content": core.ParsableOctetString(content)},
                "signer_infos": [
                    {
                        "version": "v3",
                        "sid": cms.SignerIdentifier(name="subject_key_identifier", value=skid),
                        "digest_algorithm": sha256,
                        "signature_algorithm": {"algorithm": "sha256_ecdsa"},
                        "signature": signature,
                    }
                ],
            }
        )
        return cms.ContentInfo({"content_type": "signed_data", "content": signed_data}).dump()


@dataclass(frozen=True)
class DeviceCredentials:
    dac: bytes  # DER
    pai: bytes  # DER
    dac_key: ec.EllipticCurvePrivateKey
    certification_declaration: bytes  # CMS DER
    vendor_id: int
    product_id: int

    @classmethod
    def generate(cls, vendor_id: int, product_id: int, *, now: dt.datetime | None = None) -> DeviceCredentials:
        """Under the public test PAA (NoVID), which every commissioner in test mode trusts."""
        paa = x509.load_pem_x509_certificate(_resource("Chip-Test-PAA-NoVID-Cert.pem"))
        paa_key = serialization.load_pem_private_key(_resource("Chip-Test-PAA-NoVID-Key.pem"), None)
        return cls.generate_under(paa, paa_key, vendor_id, product_id, now=now)  # type: ignore[arg-type]

    @classmethod
    def generate_under(
        cls,
        paa: x509.Certificate,
        paa_key: ec.EllipticCurvePrivateKey,
        vendor_id: int,
        product_id: int,
        *,
        now: dt.datetime | None = None,
        cd_signer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None = None,
        certification_type: int = 0,
    ) -> DeviceCredentials:
        """A PAI and DAC under ``paa``, and a CD signed with ``cd_signer`` (default: the public test
        CD key) of ``certification_type`` (0 development and test, 2 production)."""
        if cd_signer is None:
            cd_cert = x509.load_pem_x509_certificate(_resource("Chip-Test-CD-Signing-Cert.pem"))
            cd_key = serialization.load_pem_private_key(_resource("Chip-Test-CD-Signing-Key.pem"), None)
        else:
            cd_cert, cd_key = cd_signer
        not_before = (now or dt.datetime.now(dt.UTC)) - dt.timedelta(days=1)
        pai_key = ec.generate_private_key(ec.SECP256R1())
        pai_name = x509.Name(
            [x509.NameAttribute(NameOID.COMMON_NAME, "OTA Provider Test PAI"), _hex_attribute(VID_OID, vendor_id)]
        )
        pai = _issue(pai_name, pai_key.public_key(), paa, paa_key, ca=True, not_before=not_before)
        dac_key = ec.generate_private_key(ec.SECP256R1())
        dac_name = x509.Name(
            [
                x509.NameAttribute(NameOID.COMMON_NAME, "OTA Provider Test DAC"),
                _hex_attribute(VID_OID, vendor_id),
                _hex_attribute(PID_OID, product_id),
            ]
        )
        dac = _issue(dac_name, dac_key.public_key(), pai, pai_key, ca=False, not_before=not_before)
        declaration = CertificationDeclaration(vendor_id, (product_id,), certification_type=certification_type)
        cd = declaration.signed(cd_cert, cd_key)  # type: ignore[arg-type]
        der = serialization.Encoding.DER
        return cls(dac.public_bytes(der), pai.public_bytes(der), dac_key, cd, vendor_id, product_id)

    @classmethod
    def from_files(cls, dac: Path, pai: Path, dac_key: Path, cd: Path) -> DeviceCredentials:
        """Load user-supplied credentials (DER certificates, PEM or DER key, CMS DER declaration)."""
        try:
            dac_der, pai_der = dac.read_bytes(), pai.read_bytes()
            key_bytes = dac_key.read_bytes()
            key = (
                serialization.load_pem_private_key(key_bytes, None)
                if key_bytes.startswith(b"-----")
                else serialization.load_der_private_key(key_bytes, None)
            )
            certificate = x509.load_der_x509_certificate(dac_der)
        except (OSError, ValueError) as exc:
            raise AttestationError(f"cannot load attestation credentials: {exc}") from None
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise AttestationError("the DAC key must be a P-256 key")
        public_key = certificate.public_key()
        if not isinstance(public_key, ec.EllipticCurvePublicKey) or public_key.public_numbers() != (
            key.public_key().public_numbers()
        ):
            raise AttestationError("the DAC key does not belong to the DAC certificate")
        try:
            vid = int(certificate.subject.get_attributes_for_oid(VID_OID)[0].value, 16)
            pid = int(certificate.subject.get_attributes_for_oid(PID_OID)[0].value, 16)
            declaration = cd.read_bytes()
        except (IndexError, ValueError, OSError) as exc:
            raise AttestationError(
                f"the DAC must carry Matter VID and PID attributes, and the CD must be readable: {exc}"
            ) from None
        return cls(dac_der, pai_der, key, declaration, vid, pid)

    def to_storage(self) -> dict[str, bytes]:
        key = self.dac_key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        return {"dac": self.dac, "pai": self.pai, "dac_key": key, "cd": self.certification_declaration}

    @classmethod
    def from_storage(cls, items: dict[str, bytes]) -> DeviceCredentials:
        key = serialization.load_der_private_key(items["dac_key"], None)
        certificate = x509.load_der_x509_certificate(items["dac"])
        vid = int(certificate.subject.get_attributes_for_oid(VID_OID)[0].value, 16)
        pid = int(certificate.subject.get_attributes_for_oid(PID_OID)[0].value, 16)
        return cls(items["dac"], items["pai"], key, items["cd"], vid, pid)  # type: ignore[arg-type]


def attestation_elements(cd: bytes, nonce: bytes, timestamp: int = 0) -> bytes:
    return tlv.encode(tlv.Structure({1: cd, 2: nonce, 3: UInt(timestamp)}))


def nocsr_elements(csr: bytes, nonce: bytes) -> bytes:
    return tlv.encode(tlv.Structure({1: csr, 2: nonce}))


def sign_with_challenge(key: ec.EllipticCurvePrivateKey, elements: bytes, challenge: bytes) -> bytes:
    """The attestation and NOCSR signatures cover the elements followed by the session's challenge."""
    return ecdsa_sign_raw(key, elements + challenge)
