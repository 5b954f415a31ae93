"""Device attestation verification, as a commissioner does it before it trusts a device (Core spec
6.2.3; the SDK's DefaultDACVerifier, MATTER_STACK.md §4.4, checks in the same order).

Pure: certificates, elements and keys in, a :class:`Verdict` out, so every rule is tested with the
SDK's published test vectors. The verdict says in words what was checked and, on failure, which
check failed and why; the commissioner stops on a failed verdict unless the user accepts it.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from asn1crypto import cms
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from ..attestation.credentials import PID_OID, VID_OID
from ..codec import tlv
from ..crypto.primitives import CryptoError, ecdsa_verify_raw

__all__ = [
    "MAX_ELEMENTS_LENGTH",
    "TEST_CD_KEY_ID",
    "AttestationInput",
    "CertificationElements",
    "TrustStore",
    "Verdict",
    "VerdictKind",
    "decode_certification_declaration",
    "verify_attestation",
]

MAX_ELEMENTS_LENGTH = 900  # Core spec: attestation_elements_message at most RESP_MAX
TEST_CD_KEY_ID = bytes.fromhex("62FA823359ACFAA9963E1CFA140ADDF504F37160")
_CREDENTIALS = "ota_provider.core.attestation.test_credentials"
_TEST_PAA_FILES = ("Chip-Test-PAA-FFF1-Cert.der", "Chip-Test-PAA-NoVID-Cert.der")
_CD_FILES = ("Chip-Test-CD-Signing-Cert.pem",)


class VerdictKind(enum.Enum):
    CERTIFIED = "certified"
    TEST_DEVICE = "test device"
    FAILED = "failed"


@dataclass(frozen=True)
class Verdict:
    kind: VerdictKind
    check: str = ""  # the check that failed, or "" when none did
    reason: str = ""
    vendor_id: int | None = None
    product_id: int | None = None
    root: str = ""  # where the PAA came from when not bundled or --paa-trust-store: "DCL MainNet root CN=..."
    revocation: str = ""  # what the ledger's revocation lists said ("not revoked (2 revocation lists ...)")

    @property
    def ok(self) -> bool:
        return self.kind != VerdictKind.FAILED

    def describe(self) -> str:
        if self.kind == VerdictKind.FAILED:
            return f"attestation failed: {self.check}: {self.reason}"
        what = f"VID 0x{self.vendor_id:04X} PID 0x{self.product_id:04X}" if self.vendor_id is not None else ""
        shown = (what if self.reason or self.root else "", self.reason, self.revocation)
        details = "; ".join(part for part in shown if part)
        verified = f", verified against {self.root}" if self.root else ""
        return f"attestation: {self.kind.value}{verified}" + (f" ({details})" if details else "")


@dataclass(frozen=True)
class CertificationElements:
    """The Certification Declaration's TLV payload (Core spec 6.3.1)."""

    vendor_id: int
    product_ids: tuple[int, ...]
    device_type_id: int
    certificate_id: str
    certification_type: int
    dac_origin_vendor_id: int | None = None
    dac_origin_product_id: int | None = None
    authorized_paa_list: tuple[bytes, ...] | None = None
    signer_key_id: bytes = b""


@dataclass
class TrustStore:
    """The PAAs (by subject key id) and the CD signing keys (by key id) a commissioner trusts."""

    paas: dict[bytes, x509.Certificate] = field(default_factory=dict)
    cd_keys: dict[bytes, ec.EllipticCurvePublicKey] = field(default_factory=dict)
    test_paa_ids: set[bytes] = field(default_factory=set)
    paa_origins: dict[bytes, str] = field(default_factory=dict)  # PAAs from a ledger: "DCL MainNet"

    def roots_note(self) -> str:
        """Which ledgers' roots the store holds, for a refusal to say where it looked."""
        ledgers = sorted(set(self.paa_origins.values()))
        return f" (test PAAs and {len(self.paa_origins)} roots from {', '.join(ledgers)})" if ledgers else ""

    def add_cd_signer(self, certificate: x509.Certificate) -> bytes | None:
        """A Certification Declaration signer (the ledger's, found by its key id); its key id, or
        None if its key is not P-256."""
        key = certificate.public_key()
        if not isinstance(key, ec.EllipticCurvePublicKey):
            return None
        key_id = _key_id(certificate)
        self.cd_keys.setdefault(key_id, key)
        return key_id

    def add_ledger_paa(self, certificate: x509.Certificate, ledger: str) -> bool:
        """A root the ledger approves; a PAA already trusted (bundled, --paa-trust-store) stays as it is."""
        key_id = _key_id(certificate)
        if key_id in self.paas:
            return False
        self.paas[key_id] = certificate
        self.paa_origins[key_id] = f"DCL {ledger}"
        return True

    @classmethod
    def with_test_roots(cls) -> TrustStore:
        """The SDK's test trust store: the two published test PAAs and the test CD key."""
        store = cls()
        folder = resources.files(_CREDENTIALS)
        for name in _TEST_PAA_FILES:
            paa = x509.load_der_x509_certificate(folder.joinpath(name).read_bytes())
            store.paas[_key_id(paa)] = paa
            store.test_paa_ids.add(_key_id(paa))
        for name in _CD_FILES:
            signer = x509.load_pem_x509_certificate(folder.joinpath(name).read_bytes())
            store.cd_keys[_key_id(signer)] = signer.public_key()  # type: ignore[assignment]
        return store

    def add_paa_folder(self, folder: Path) -> int:
        """Every PAA certificate in ``folder`` (DER or PEM); raises ValueError naming a bad file."""
        count = 0
        for path in sorted(folder.iterdir()):
            if path.suffix.lower() not in (".der", ".pem", ".crt", ".cer"):
                continue
            data = path.read_bytes()
            try:
                paa = (
                    x509.load_pem_x509_certificate(data)
                    if data.lstrip().startswith(b"-----")
                    else x509.load_der_x509_certificate(data)
                )
            except ValueError as exc:
                raise ValueError(f"{path}: not a DER or PEM certificate ({exc})") from None
            self.paas[_key_id(paa)] = paa
            count += 1
        return count


@dataclass(frozen=True)
class AttestationInput:
    """What the device sent (CertificateChainResponse x2, AttestationResponse) and what we know."""

    dac: bytes
    pai: bytes
    elements: bytes
    signature: bytes
    challenge: bytes  # the PASE session's attestation challenge
    nonce: bytes  # the AttestationNonce we sent
    vendor_id: int  # BasicInformation VendorID
    product_id: int  # BasicInformation ProductID


class _Failed(Exception):
    def __init__(self, check: str, reason: str) -> None:
        super().__init__(reason)
        self.check = check
        self.reason = reason


def _key_id(certificate: x509.Certificate) -> bytes:
    try:
        return certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
    except x509.ExtensionNotFound:
        return x509.SubjectKeyIdentifier.from_public_key(certificate.public_key()).digest


def _authority_key_id(certificate: x509.Certificate) -> bytes | None:
    try:
        return certificate.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
    except x509.ExtensionNotFound:
        return None


def _matter_id(certificate: x509.Certificate, oid: x509.ObjectIdentifier, what: str) -> int | None:
    """VID or PID from the subject: the Matter OID attribute, or the legacy ``Mvid:FFF1`` CN form."""
    attributes = certificate.subject.get_attributes_for_oid(oid)
    text = None
    if attributes:
        text = str(attributes[0].value)
    else:
        tag = "Mvid:" if oid == VID_OID else "Mpid:"
        for cn in certificate.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME):
            value = str(cn.value)
            if tag in value:
                text = value.split(tag, 1)[1][:4]
    if text is None:
        return None
    try:
        if len(text) != 4:
            raise ValueError
        return int(text, 16)
    except ValueError:
        raise _Failed(
            "certificate format", f"the {what}'s {'VID' if oid == VID_OID else 'PID'} {text!r} is not four hex digits"
        ) from None


def _load(der: bytes, what: str) -> x509.Certificate:
    if not der:
        raise _Failed("inputs", f"the device sent no {what}")
    try:
        certificate = x509.load_der_x509_certificate(der)
    except ValueError as exc:
        raise _Failed("certificate format", f"the {what} is not a DER X.509 certificate ({exc})") from None
    if not isinstance(certificate.public_key(), ec.EllipticCurvePublicKey):
        raise _Failed("certificate format", f"the {what}'s key is not an EC P-256 key")
    return certificate


def _signed_by(child: x509.Certificate, parent: x509.Certificate, what: str) -> None:
    try:
        child.verify_directly_issued_by(parent)
    except (ValueError, TypeError, InvalidSignature) as exc:
        raise _Failed(
            "certificate chain", f"the {what}'s signature does not verify ({exc or 'bad signature'})"
        ) from None


def decode_certification_declaration(cms_bytes: bytes) -> tuple[CertificationElements, bytes, bytes]:
    """(elements, the signed content, the signature in DER) from a CD's CMS SignedData; raises
    ValueError saying what is malformed."""
    try:
        info = cms.ContentInfo.load(cms_bytes)
        if info["content_type"].native != "signed_data":
            raise ValueError("not a CMS SignedData")
        signed = info["content"]
        content = signed["encap_content_info"]["content"].native
        (signer,) = signed["signer_infos"]
        sid = signer["sid"]
        if sid.name != "subject_key_identifier":
            raise ValueError("the signer is not named by its subject key identifier")
        key_id, signature = sid.native, signer["signature"].native
    except (ValueError, TypeError, KeyError) as exc:
        raise ValueError(f"malformed Certification Declaration: {exc}") from None
    if not isinstance(content, bytes):
        raise ValueError("malformed Certification Declaration: no content")
    try:
        fields = tlv.decode(content)
        if not isinstance(fields, dict):
            raise ValueError("its payload is not a TLV structure")

        optional = fields.get
        paas = optional(11)
        elements = CertificationElements(
            vendor_id=int(fields[1]),
            product_ids=tuple(int(p) for p in fields[2]),
            device_type_id=int(fields[3]),
            certificate_id=str(fields[4]),
            certification_type=int(fields[8]),
            dac_origin_vendor_id=None if optional(9) is None else int(fields[9]),
            dac_origin_product_id=None if optional(10) is None else int(fields[10]),
            authorized_paa_list=None if paas is None else tuple(bytes(p) for p in paas),
            signer_key_id=key_id,
        )
    except (tlv.TLVError, KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"malformed Certification Declaration payload: {exc}") from None
    return elements, content, signature


def _decode_elements(elements: bytes) -> tuple[bytes, bytes]:
    """(certification declaration, attestation nonce) from attestation_elements_message."""
    try:
        fields = tlv.decode(elements)
        return bytes(fields[1]), bytes(fields[2])
    except (tlv.TLVError, KeyError, TypeError, ValueError) as exc:
        raise _Failed("attestation elements", f"malformed attestation elements ({exc})") from None


def cd_signer_key_id(elements: bytes) -> bytes | None:
    """The key id the Certification Declaration in ``elements`` names as its signer (None: not
    readable; verification says why), so a signer not yet trusted can be looked up first."""
    try:
        cd_bytes, _nonce = _decode_elements(elements)
        return decode_certification_declaration(cd_bytes)[0].signer_key_id or None
    except (_Failed, ValueError):
        return None


def verify_attestation(data: AttestationInput, trust: TrustStore, *, now: dt.datetime | None = None) -> Verdict:
    """Every check, in the SDK's order; the first that fails decides the verdict."""
    try:
        return _verify(data, trust, now or dt.datetime.now(dt.UTC))
    except _Failed as failure:
        return Verdict(VerdictKind.FAILED, failure.check, failure.reason)


def _verify(data: AttestationInput, trust: TrustStore, now: dt.datetime) -> Verdict:
    if len(data.elements) > MAX_ELEMENTS_LENGTH:
        raise _Failed(
            "inputs", f"the attestation elements are {len(data.elements)} bytes, more than {MAX_ELEMENTS_LENGTH}"
        )
    dac, pai = _load(data.dac, "DAC"), _load(data.pai, "PAI")
    dac_vid, dac_pid = _matter_id(dac, VID_OID, "DAC"), _matter_id(dac, PID_OID, "DAC")
    pai_vid, pai_pid = _matter_id(pai, VID_OID, "PAI"), _matter_id(pai, PID_OID, "PAI")
    if dac_vid is None or dac_pid is None:
        raise _Failed("certificate format", "the DAC names no vendor id and product id")
    if pai_vid is not None and pai_vid != dac_vid:
        raise _Failed("VID/PID agreement", f"the DAC's VID 0x{dac_vid:04X} differs from the PAI's 0x{pai_vid:04X}")
    if pai_pid is not None and pai_pid != dac_pid:
        raise _Failed("VID/PID agreement", f"the DAC's PID 0x{dac_pid:04X} differs from the PAI's 0x{pai_pid:04X}")
    try:
        ecdsa_verify_raw(dac.public_key(), data.elements + data.challenge, data.signature)  # type: ignore[arg-type]
    except (CryptoError, ValueError):
        raise _Failed(
            "attestation signature",
            "the attestation signature does not verify with the DAC's key "
            "(the device does not hold its DAC's private key, or signed other data)",
        ) from None
    paa_id = _authority_key_id(pai)
    paa = trust.paas.get(paa_id) if paa_id else None
    if paa is None:
        where = paa_id.hex().upper() if paa_id else "no authority key id"
        raise _Failed(
            "PAA trust",
            f"the PAI's issuer ({where}) is not in the PAA trust store{trust.roots_note()}; a production "
            "device needs --dcl mainnet (the ledger's approved roots) or --paa-trust-store DIR with its vendor's PAA",
        )
    paa_vid, paa_pid = _matter_id(paa, VID_OID, "PAA"), _matter_id(paa, PID_OID, "PAA")
    if paa_vid is not None and pai_vid is not None and paa_vid != pai_vid:
        raise _Failed("VID/PID agreement", f"the PAA's VID 0x{paa_vid:04X} differs from the PAI's 0x{pai_vid:04X}")
    if paa_pid is not None:
        raise _Failed("certificate format", "the PAA carries a product id, which a PAA must not")
    if not dac.not_valid_before_utc <= now <= dac.not_valid_after_utc:
        raise _Failed(
            "DAC validity",
            f"the DAC is valid from {dac.not_valid_before_utc:%Y-%m-%d} to {dac.not_valid_after_utc:%Y-%m-%d}, not now",
        )
    _signed_by(pai, paa, "PAI")
    _signed_by(dac, pai, "DAC")
    cd_bytes, nonce = _decode_elements(data.elements)
    if nonce != data.nonce:
        raise _Failed(
            "attestation nonce", "the attestation elements carry another nonce than the one we sent (a replayed answer)"
        )
    cd = _verify_cd(cd_bytes, trust)
    _check_cd(cd, data, dac_vid, dac_pid, pai_vid, pai_pid, _key_id(paa))
    test = _key_id(paa) in trust.test_paa_ids or cd.signer_key_id == TEST_CD_KEY_ID or cd.certification_type != 2
    kind = VerdictKind.TEST_DEVICE if test else VerdictKind.CERTIFIED
    why = "signed with the public test credentials" if test else "certified"
    origin = trust.paa_origins.get(_key_id(paa))
    root = f"{origin} root {paa.subject.rfc4514_string()}" if origin else ""
    return Verdict(kind, reason=why if test else "", vendor_id=data.vendor_id, product_id=data.product_id, root=root)


def _verify_cd(cd_bytes: bytes, trust: TrustStore) -> CertificationElements:
    try:
        cd, content, signature = decode_certification_declaration(cd_bytes)
    except ValueError as exc:
        raise _Failed("certification declaration", str(exc)) from None
    key = trust.cd_keys.get(cd.signer_key_id)
    if key is None:
        raise _Failed("certification declaration", f"signed by an unknown key ({cd.signer_key_id.hex().upper()})")
    try:
        key.verify(signature, content, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise _Failed("certification declaration", "its signature does not verify") from None
    return cd


def _hex(values: Iterable[int]) -> str:
    return ", ".join(f"0x{v:04X}" for v in values)


def _check_cd(
    cd: CertificationElements,
    data: AttestationInput,
    dac_vid: int,
    dac_pid: int,
    pai_vid: int | None,
    pai_pid: int | None,
    paa_id: bytes,
) -> None:
    if cd.vendor_id != data.vendor_id:
        raise _Failed(
            "VID/PID agreement",
            f"BasicInformation says VID 0x{data.vendor_id:04X}, the certification declaration 0x{cd.vendor_id:04X}",
        )
    if data.product_id not in cd.product_ids:
        raise _Failed(
            "VID/PID agreement",
            f"BasicInformation's PID 0x{data.product_id:04X} is not in the "
            f"certification declaration ({_hex(cd.product_ids)})",
        )
    if cd.dac_origin_vendor_id is not None or cd.dac_origin_product_id is not None:
        origin_vid, origin_pid = cd.dac_origin_vendor_id, cd.dac_origin_product_id
        if dac_vid != origin_vid or (pai_vid is not None and pai_vid != origin_vid):
            raise _Failed(
                "VID/PID agreement",
                f"the DAC's VID 0x{dac_vid:04X} is not the declaration's DAC origin VID 0x{origin_vid or 0:04X}",
            )
        if dac_pid != origin_pid or (pai_pid is not None and pai_pid != origin_pid):
            raise _Failed(
                "VID/PID agreement",
                f"the DAC's PID 0x{dac_pid:04X} is not the declaration's DAC origin PID 0x{origin_pid or 0:04X}",
            )
    else:
        if dac_vid != cd.vendor_id or (pai_vid is not None and pai_vid != cd.vendor_id):
            raise _Failed(
                "VID/PID agreement",
                f"the DAC's VID 0x{dac_vid:04X} differs from the certification declaration's 0x{cd.vendor_id:04X}",
            )
        if dac_pid not in cd.product_ids:
            raise _Failed(
                "VID/PID agreement",
                f"the DAC's PID 0x{dac_pid:04X} is not in the certification declaration ({_hex(cd.product_ids)})",
            )
    if cd.authorized_paa_list is not None and paa_id not in cd.authorized_paa_list:
        raise _Failed("certification declaration", "the PAA is not in the declaration's authorized PAA list")
