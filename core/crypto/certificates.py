"""Matter operational certificates: Matter TLV <-> X.509 DER, byte-exact both ways (Core spec 6.5).

A Matter certificate travels as TLV, but its signature covers the X.509 DER encoding of
the TBSCertificate, so verifying it means rebuilding that DER exactly as the SDK's
``CHIPCert.cpp`` does: each DN attribute in its own RDN, Matter ids as upper-case hex
UTF8Strings, UTCTime before 2050, extensions in TLV order with fixed criticality, minimal
BIT STRINGs. asn1crypto does the DER; this module holds the Matter rules.

Certificates we mint (the demo fabric's root and NOCs) are built with ``cryptography``
and converted to TLV; tests check that converting back gives the very same DER.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from asn1crypto import algos, core, x509
from cryptography import x509 as cx509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import AuthorityKeyIdentifier, SubjectKeyIdentifier
from cryptography.x509.oid import ExtendedKeyUsageOID

from ..codec import tlv
from ..codec.tlv import TLVError, TLVList, UInt
from .primitives import CryptoError, ecdsa_verify_raw, public_key_bytes

__all__ = [
    "DN_OIDS",
    "CertificateError",
    "DistinguishedName",
    "MatterCertificate",
    "issue_certificate",
    "validate_operational_chain",
]

MATTER_EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
NO_EXPIRY = dt.datetime(9999, 12, 31, 23, 59, 59, tzinfo=dt.UTC)
ECDSA_WITH_SHA256 = "1.2.840.10045.4.3.2"
MAX_CATS = 3


class CertificateError(ValueError):
    """A malformed or invalid Matter certificate, or a chain that does not validate."""


# DN attribute tags (Core spec 6.5.6.1): tag -> (OID, kind)
_MATTER = "1.3.6.1.4.1.37244.1."
DN_OIDS: dict[int, tuple[str, str]] = {
    1: ("2.5.4.3", "text"),  # commonName
    2: ("2.5.4.4", "text"),  # surname
    3: ("2.5.4.5", "text"),  # serialNumber
    4: ("2.5.4.6", "text"),  # countryName
    5: ("2.5.4.7", "text"),  # localityName
    6: ("2.5.4.8", "text"),  # stateOrProvinceName
    7: ("2.5.4.10", "text"),  # organizationName
    8: ("2.5.4.11", "text"),  # organizationalUnitName
    9: ("2.5.4.12", "text"),  # title
    10: ("2.5.4.41", "text"),  # name
    11: ("2.5.4.42", "text"),  # givenName
    12: ("2.5.4.43", "text"),  # initials
    13: ("2.5.4.44", "text"),  # generationQualifier
    14: ("2.5.4.46", "text"),  # dnQualifier
    15: ("2.5.4.65", "text"),  # pseudonym
    16: ("0.9.2342.19200300.100.1.25", "ia5"),  # domainComponent
    17: (_MATTER + "1", "id64"),  # matter-node-id
    18: (_MATTER + "2", "id64"),  # matter-firmware-signing-id
    19: (_MATTER + "3", "id64"),  # matter-icac-id
    20: (_MATTER + "4", "id64"),  # matter-rcac-id
    21: (_MATTER + "5", "id64"),  # matter-fabric-id
    22: (_MATTER + "6", "id32"),  # matter-noc-cat
}
_OID_TAGS = {oid: tag for tag, (oid, _) in DN_OIDS.items()}
_PRINTABLE = 0x80
NODE_ID, FW_SIGNING_ID, ICAC_ID, RCAC_ID, FABRIC_ID, NOC_CAT = 17, 18, 19, 20, 21, 22

_EKU = {
    1: "1.3.6.1.5.5.7.3.1",  # serverAuth
    2: "1.3.6.1.5.5.7.3.2",  # clientAuth
    3: "1.3.6.1.5.5.7.3.3",  # codeSigning
    4: "1.3.6.1.5.5.7.3.4",  # emailProtection
    5: "1.3.6.1.5.5.7.3.8",  # timeStamping
    6: "1.3.6.1.5.5.7.3.9",  # OCSPSigning
}
_EKU_TAGS = {oid: tag for tag, oid in _EKU.items()}
_KEY_USAGE_BITS = (
    "digital_signature",
    "non_repudiation",
    "key_encipherment",
    "data_encipherment",
    "key_agreement",
    "key_cert_sign",
    "crl_sign",
    "encipher_only",
    "decipher_only",
)
KU_DIGITAL_SIGNATURE, KU_KEY_CERT_SIGN, KU_CRL_SIGN = 0x01, 0x20, 0x40

# Extension tags inside TLV tag 10.
EXT_BASIC_CONSTRAINTS, EXT_KEY_USAGE, EXT_EXTENDED_KEY_USAGE, EXT_SKID, EXT_AKID, EXT_FUTURE = 1, 2, 3, 4, 5, 6


@dataclass(frozen=True)
class DistinguishedName:
    """An ordered list of (TLV tag, value); the tag carries 0x80 for PrintableString."""

    attributes: tuple[tuple[int, int | str], ...]

    def get(self, base_tag: int) -> list[int | str]:
        return [value for tag, value in self.attributes if tag & 0x7F == base_tag]

    def single(self, base_tag: int) -> int | str | None:
        values = self.get(base_tag)
        if len(values) > 1:
            raise CertificateError(f"DN attribute {base_tag} appears more than once")
        return values[0] if values else None

    @property
    def cats(self) -> tuple[int, ...]:
        return tuple(int(v) for v in self.get(NOC_CAT))

    # --- TLV

    @classmethod
    def from_tlv(cls, value: Any) -> DistinguishedName:
        if not isinstance(value, TLVList):
            raise CertificateError("DN must be a TLV list")
        attributes: list[tuple[int, int | str]] = []
        for tag, item in value:
            if not isinstance(tag, int) or (tag & 0x7F) not in DN_OIDS:
                raise CertificateError(f"unknown DN attribute tag {tag!r}")
            kind = DN_OIDS[tag & 0x7F][1]
            if kind in ("id64", "id32"):
                if tag & _PRINTABLE or not isinstance(item, UInt):
                    raise CertificateError(f"DN attribute {tag} must be an unsigned integer")
                if kind == "id32" and item > 0xFFFF_FFFF:
                    raise CertificateError("CASE Authenticated Tag does not fit 32 bits")
                attributes.append((tag, int(item)))
            else:
                if not isinstance(item, str):
                    raise CertificateError(f"DN attribute {tag} must be a string")
                attributes.append((tag, item))
        return cls(tuple(attributes))

    def to_tlv(self) -> TLVList:
        return TLVList((tag, UInt(value) if isinstance(value, int) else value) for tag, value in self.attributes)

    # --- DER

    def to_asn1(self) -> x509.Name:
        rdns = []
        for tag, value in self.attributes:
            oid, kind = DN_OIDS[tag & 0x7F]
            if kind == "id64":
                der_value: core.Asn1Value = core.UTF8String(f"{value:016X}")
            elif kind == "id32":
                der_value = core.UTF8String(f"{value:08X}")
            elif kind == "ia5":
                der_value = core.IA5String(value)
            elif tag & _PRINTABLE:
                der_value = core.PrintableString(value)
            else:
                der_value = core.UTF8String(value)
            ntv = x509.NameTypeAndValue({"type": oid, "value": der_value})
            rdns.append(x509.RelativeDistinguishedName([ntv]))
        return x509.Name(name="", value=x509.RDNSequence(rdns))

    @classmethod
    def from_asn1(cls, name: x509.Name) -> DistinguishedName:
        attributes: list[tuple[int, int | str]] = []
        for rdn in name.chosen:
            if len(rdn) != 1:
                raise CertificateError("Matter DNs have one attribute per RDN")
            ntv = rdn[0]
            oid = ntv["type"].dotted
            if oid not in _OID_TAGS:
                raise CertificateError(f"DN attribute {oid} has no Matter TLV form")
            tag = _OID_TAGS[oid]
            kind = DN_OIDS[tag][1]
            raw = ntv["value"]
            parsed = raw.parsed if isinstance(raw, core.Any) else raw
            text = parsed.native
            if kind in ("id64", "id32"):
                width = 16 if kind == "id64" else 8
                if not isinstance(parsed, core.UTF8String) or len(text) != width or text.upper() != text:
                    raise CertificateError(f"Matter DN attribute {oid} must be {width} upper-case hex digits")
                attributes.append((tag, int(text, 16)))
            else:
                if isinstance(parsed, core.PrintableString):
                    tag |= _PRINTABLE
                attributes.append((tag, text))
        return cls(tuple(attributes))


def _from_matter_time(seconds: int, *, not_after: bool) -> dt.datetime:
    if seconds == 0 and not_after:
        return NO_EXPIRY
    return MATTER_EPOCH + dt.timedelta(seconds=seconds)


def _to_matter_time(moment: dt.datetime) -> int:
    if moment >= NO_EXPIRY:
        return 0
    return int((moment - MATTER_EPOCH).total_seconds())


def _asn1_time(moment: dt.datetime) -> x509.Time:
    if moment.year < 2050:
        return x509.Time(name="utc_time", value=core.UTCTime(moment))
    return x509.Time(name="general_time", value=core.GeneralizedTime(moment))


@dataclass(frozen=True)
class MatterCertificate:
    serial: bytes
    issuer: DistinguishedName
    not_before: int  # seconds since 2000-01-01 UTC
    not_after: int  # 0 = no well-defined expiry
    subject: DistinguishedName
    public_key: bytes  # 65-byte uncompressed P-256 point
    extensions: tuple[tuple[int, Any], ...]
    signature: bytes  # r || s
    tlv_bytes: bytes = field(default=b"", compare=False, repr=False)

    # ------------------------------------------------------------- TLV

    @classmethod
    def from_tlv(cls, data: bytes) -> MatterCertificate:
        try:
            value = tlv.decode(data)
        except TLVError as exc:
            raise CertificateError(f"certificate TLV is malformed: {exc}") from None
        if not isinstance(value, tlv.Structure):
            raise CertificateError("certificate TLV is not a structure")
        try:
            return cls._from_structure(value, bytes(data))
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, CertificateError):
                raise
            raise CertificateError(f"certificate TLV is invalid: {exc!r}") from None

    @classmethod
    def _from_structure(cls, s: tlv.Structure, raw: bytes) -> MatterCertificate:
        def need(tag: int, kind: type, what: str) -> Any:
            if tag not in s or not isinstance(s[tag], kind) or isinstance(s[tag], bool):
                raise CertificateError(f"certificate field {tag} ({what}) is missing or of the wrong type")
            return s[tag]

        serial = need(1, bytes, "serial number")
        if not 1 <= len(serial) <= 20:
            raise CertificateError("serial number must be 1..20 bytes")
        if need(2, UInt, "signature algorithm") != 1 or need(7, UInt, "public key algorithm") != 1:
            raise CertificateError("only ECDSA-SHA256 with an EC public key is supported")
        if need(8, UInt, "curve") != 1:
            raise CertificateError("only the prime256v1 curve is supported")
        public_key = need(9, bytes, "public key")
        if len(public_key) != 65 or public_key[0] != 0x04:
            raise CertificateError("public key must be a 65-byte uncompressed P-256 point")
        signature = need(11, bytes, "signature")
        if len(signature) != 64:
            raise CertificateError("signature must be 64 bytes (r || s)")
        not_before, not_after = need(4, UInt, "not before"), need(5, UInt, "not after")
        if not_before > 0xFFFF_FFFF or not_after > 0xFFFF_FFFF:
            raise CertificateError("validity times must fit 32 bits")
        extensions = cls._extensions_from_tlv(need(10, TLVList, "extensions"))
        return cls(
            serial=serial,
            issuer=DistinguishedName.from_tlv(need(3, TLVList, "issuer")),
            not_before=int(not_before),
            not_after=int(not_after),
            subject=DistinguishedName.from_tlv(need(6, TLVList, "subject")),
            public_key=public_key,
            extensions=extensions,
            signature=signature,
            tlv_bytes=raw,
        )

    @staticmethod
    def _extensions_from_tlv(items: TLVList) -> tuple[tuple[int, Any], ...]:
        out: list[tuple[int, Any]] = []
        for tag, value in items:
            if tag == EXT_BASIC_CONSTRAINTS:
                if not isinstance(value, tlv.Structure) or not isinstance(value.get(1), bool):
                    raise CertificateError("basic constraints must be {1: is-ca}")
                path_len = value.get(2)
                if path_len is not None and (not isinstance(path_len, UInt) or path_len > 0xFF):
                    raise CertificateError("path length constraint must be an unsigned byte")
                out.append((tag, (value[1], None if path_len is None else int(path_len))))
            elif tag == EXT_KEY_USAGE:
                if not isinstance(value, UInt) or value > 0x1FF:
                    raise CertificateError("key usage must be a 9-bit unsigned integer")
                out.append((tag, int(value)))
            elif tag == EXT_EXTENDED_KEY_USAGE:
                if not isinstance(value, tlv.Array) or not all(isinstance(v, UInt) and v in _EKU for v in value):
                    raise CertificateError("extended key usage must be an array of known purposes")
                out.append((tag, tuple(int(v) for v in value)))
            elif tag in (EXT_SKID, EXT_AKID):
                if not isinstance(value, bytes) or len(value) != 20:
                    raise CertificateError("key identifiers must be 20 bytes")
                out.append((tag, value))
            elif tag == EXT_FUTURE:
                if not isinstance(value, bytes):
                    raise CertificateError("future extension must be DER bytes")
                out.append((tag, value))
            else:
                raise CertificateError(f"unknown extension tag {tag!r}")
        return tuple(out)

    def to_tlv(self) -> bytes:
        extensions = TLVList()
        for tag, value in self.extensions:
            if tag == EXT_BASIC_CONSTRAINTS:
                is_ca, path_len = value
                body = tlv.Structure({1: is_ca})
                if path_len is not None:
                    body[2] = UInt(path_len)
                extensions.append((tag, body))
            elif tag == EXT_KEY_USAGE:
                extensions.append((tag, UInt(value)))
            elif tag == EXT_EXTENDED_KEY_USAGE:
                extensions.append((tag, tlv.Array(UInt(v) for v in value)))
            else:
                extensions.append((tag, value))
        structure = tlv.Structure(
            {
                1: self.serial,
                2: UInt(1),
                3: self.issuer.to_tlv(),
                4: UInt(self.not_before),
                5: UInt(self.not_after),
                6: self.subject.to_tlv(),
                7: UInt(1),
                8: UInt(1),
                9: self.public_key,
                10: extensions,
                11: self.signature,
            }
        )
        return tlv.encode(structure)

    # ------------------------------------------------------------- DER

    def extension(self, tag: int) -> Any:
        for ext_tag, value in self.extensions:
            if ext_tag == tag:
                return value
        return None

    def _asn1_extensions(self) -> x509.Extensions:
        items = []
        for tag, value in self.extensions:
            if tag == EXT_BASIC_CONSTRAINTS:
                is_ca, path_len = value
                ext = {
                    "extn_id": "basic_constraints",
                    "critical": True,
                    "extn_value": {"ca": is_ca, "path_len_constraint": path_len},
                }
            elif tag == EXT_KEY_USAGE:
                bits = {name for i, name in enumerate(_KEY_USAGE_BITS) if value >> i & 1}
                ext = {"extn_id": "key_usage", "critical": True, "extn_value": bits}
            elif tag == EXT_EXTENDED_KEY_USAGE:
                ext = {"extn_id": "extended_key_usage", "critical": True, "extn_value": [_EKU[v] for v in value]}
            elif tag == EXT_SKID:
                ext = {"extn_id": "key_identifier", "critical": False, "extn_value": value}
            elif tag == EXT_AKID:
                ext = {
                    "extn_id": "authority_key_identifier",
                    "critical": False,
                    "extn_value": {"key_identifier": value},
                }
            else:
                items.append(x509.Extension.load(value))
                continue
            items.append(x509.Extension(ext))
        return x509.Extensions(items)

    def tbs_der(self) -> bytes:
        try:
            tbs = x509.TbsCertificate(
                {
                    "version": "v3",
                    "serial_number": core.Integer(contents=self.serial),
                    "signature": {"algorithm": ECDSA_WITH_SHA256},
                    "issuer": self.issuer.to_asn1(),
                    "validity": {
                        "not_before": _asn1_time(_from_matter_time(self.not_before, not_after=False)),
                        "not_after": _asn1_time(_from_matter_time(self.not_after, not_after=True)),
                    },
                    "subject": self.subject.to_asn1(),
                    "subject_public_key_info": {
                        "algorithm": {"algorithm": "ec", "parameters": ("named", "secp256r1")},
                        "public_key": self.public_key,
                    },
                    "extensions": self._asn1_extensions(),
                }
            )
            return tbs.dump(force=True)
        except (ValueError, TypeError, OverflowError) as exc:
            raise CertificateError(f"certificate cannot be expressed in X.509: {exc}") from None

    def to_der(self) -> bytes:
        r, s = int.from_bytes(self.signature[:32], "big"), int.from_bytes(self.signature[32:], "big")
        signature = algos.DSASignature({"r": r, "s": s}).dump()
        certificate = core.Sequence()
        certificate.contents = (
            self.tbs_der()
            + x509.SignedDigestAlgorithm({"algorithm": ECDSA_WITH_SHA256}).dump()
            + core.OctetBitString(signature).dump()
        )
        return certificate.dump()

    @classmethod
    def from_der(cls, der: bytes) -> MatterCertificate:
        try:
            cert = x509.Certificate.load(der)
            tbs = cert["tbs_certificate"]
            spki = tbs["subject_public_key_info"]
            if cert["signature_algorithm"]["algorithm"].dotted != ECDSA_WITH_SHA256:
                raise CertificateError("only ecdsa-with-SHA256 certificates have a Matter form")
            if spki["algorithm"]["parameters"].chosen.native != "secp256r1":
                raise CertificateError("only P-256 keys have a Matter form")
            signature = algos.DSASignature.load(cert["signature_value"].native)
            extensions = []
            for ext in tbs["extensions"]:
                extensions.append(cls._extension_from_asn1(ext))
            return cls(
                serial=tbs["serial_number"].contents,
                issuer=DistinguishedName.from_asn1(tbs["issuer"]),
                not_before=_to_matter_time(tbs["validity"]["not_before"].native),
                not_after=_to_matter_time(tbs["validity"]["not_after"].native),
                subject=DistinguishedName.from_asn1(tbs["subject"]),
                public_key=spki["public_key"].native if isinstance(spki["public_key"].native, bytes) else b"",
                extensions=tuple(extensions),
                signature=signature["r"].native.to_bytes(32, "big") + signature["s"].native.to_bytes(32, "big"),
            )
        except CertificateError:
            raise
        except (ValueError, TypeError, KeyError, OverflowError) as exc:
            raise CertificateError(f"X.509 certificate cannot be converted: {exc}") from None

    @staticmethod
    def _extension_from_asn1(ext: x509.Extension) -> tuple[int, Any]:
        name = ext["extn_id"].native
        value = ext["extn_value"].parsed
        if name == "basic_constraints":
            return EXT_BASIC_CONSTRAINTS, (bool(value["ca"].native), value["path_len_constraint"].native)
        if name == "key_usage":
            bits = value.native
            return EXT_KEY_USAGE, sum(1 << i for i, bit in enumerate(_KEY_USAGE_BITS) if bit in bits)
        if name == "extended_key_usage":
            return EXT_EXTENDED_KEY_USAGE, tuple(_EKU_TAGS[oid.dotted] for oid in value)
        if name == "key_identifier":
            return EXT_SKID, value.native
        if name == "authority_key_identifier":
            return EXT_AKID, value["key_identifier"].native
        return EXT_FUTURE, ext.dump()

    # ------------------------------------------------------------- checks

    def verify_signature(self, issuer_public_key: bytes) -> None:
        try:
            ecdsa_verify_raw(issuer_public_key, self.tbs_der(), self.signature)
        except CryptoError as exc:
            raise CertificateError(f"certificate signature does not verify: {exc}") from None

    @property
    def is_ca(self) -> bool:
        constraints = self.extension(EXT_BASIC_CONSTRAINTS)
        return bool(constraints and constraints[0])

    @property
    def key_usage(self) -> int:
        return self.extension(EXT_KEY_USAGE) or 0

    @property
    def fabric_id(self) -> int | None:
        value = self.subject.single(FABRIC_ID)
        return int(value) if value is not None else None

    @property
    def node_id(self) -> int | None:
        value = self.subject.single(NODE_ID)
        return int(value) if value is not None else None

    def valid_at(self, moment: dt.datetime) -> bool:
        start = _from_matter_time(self.not_before, not_after=False)
        end = _from_matter_time(self.not_after, not_after=True)
        return start <= moment <= end


OPERATIONAL_NODE_ID_MIN, OPERATIONAL_NODE_ID_MAX = 0x0000_0000_0000_0001, 0xFFFF_FFEF_FFFF_FFFF


@dataclass(frozen=True)
class ChainInfo:
    node_id: int
    fabric_id: int
    cats: tuple[int, ...]
    root_public_key: bytes


def _check_issued_by(child: MatterCertificate, parent: MatterCertificate, what: str) -> None:
    if child.issuer != parent.subject:
        raise CertificateError(f"{what}: issuer does not match the issuing certificate's subject")
    akid, skid = child.extension(EXT_AKID), parent.extension(EXT_SKID)
    if akid is None or akid != skid:
        raise CertificateError(f"{what}: authority key id does not match the issuer's subject key id")
    if not parent.is_ca or not parent.key_usage & KU_KEY_CERT_SIGN:
        raise CertificateError(f"{what}: issuer is not a CA allowed to sign certificates")
    child.verify_signature(parent.public_key)


def validate_operational_chain(
    noc: MatterCertificate,
    icac: MatterCertificate | None,
    rcac: MatterCertificate,
    *,
    at: dt.datetime | None = None,
) -> ChainInfo:
    """Validate NOC (-> ICAC) -> RCAC as the SDK does; return the node's identity."""
    if rcac.subject != rcac.issuer or rcac.subject.single(RCAC_ID) is None:
        raise CertificateError("root: not a self-issued Matter root certificate")
    if not rcac.is_ca or rcac.extension(EXT_SKID) != rcac.extension(EXT_AKID):
        raise CertificateError("root: must be a CA whose subject and authority key ids match")
    rcac.verify_signature(rcac.public_key)
    issuer = rcac
    if icac is not None:
        if icac.subject.single(ICAC_ID) is None or not icac.is_ca:
            raise CertificateError("intermediate: not a Matter ICAC")
        _check_issued_by(icac, rcac, "intermediate")
        issuer = icac
    if noc.is_ca or not noc.key_usage & KU_DIGITAL_SIGNATURE:
        raise CertificateError("NOC: must be an end-entity certificate with digitalSignature")
    _check_issued_by(noc, issuer, "NOC")
    node_id, fabric_id = noc.node_id, noc.fabric_id
    if node_id is None or not OPERATIONAL_NODE_ID_MIN <= node_id <= OPERATIONAL_NODE_ID_MAX:
        raise CertificateError("NOC: node id missing or outside the operational range")
    if not fabric_id:
        raise CertificateError("NOC: fabric id missing or zero")
    for cert, what in ((icac, "intermediate"), (rcac, "root")):
        if cert is not None and cert.fabric_id is not None and cert.fabric_id != fabric_id:
            raise CertificateError(f"{what}: fabric id differs from the NOC's")
    cats = noc.subject.cats
    if len(cats) > MAX_CATS or any(cat & 0xFFFF == 0 for cat in cats):
        raise CertificateError("NOC: at most 3 CASE Authenticated Tags, each with a non-zero version")
    if at is not None:
        for cert, what in ((noc, "NOC"), (icac, "intermediate"), (rcac, "root")):
            if cert is not None and not cert.valid_at(at):
                raise CertificateError(f"{what}: not valid at {at.isoformat()}")
    return ChainInfo(node_id, fabric_id, cats, rcac.public_key)


# ------------------------------------------------------------------ minting (demo fabric, tests)

_CX_OIDS = {tag: cx509.ObjectIdentifier(oid) for tag, (oid, _) in DN_OIDS.items()}


def _cx_name(attributes: tuple[tuple[int, int | str], ...]) -> cx509.Name:
    rdns = []
    for tag, value in attributes:
        kind = DN_OIDS[tag & 0x7F][1]
        text = f"{value:016X}" if kind == "id64" else f"{value:08X}" if kind == "id32" else str(value)
        # cryptography chooses PrintableString for some attributes unless told; Matter wants the
        # string type the TLV tag implies, and only this (private) enum can say so.
        string_type = cx509.name._ASN1Type.UTF8String
        if kind == "ia5":
            string_type = cx509.name._ASN1Type.IA5String
        elif tag & _PRINTABLE:
            string_type = cx509.name._ASN1Type.PrintableString
        rdns.append(cx509.RelativeDistinguishedName([cx509.NameAttribute(_CX_OIDS[tag & 0x7F], text, string_type)]))
    return cx509.Name(rdns)


def issue_certificate(
    *,
    subject: tuple[tuple[int, int | str], ...],
    public_key: ec.EllipticCurvePublicKey,
    issuer: tuple[tuple[int, int | str], ...],
    issuer_key: ec.EllipticCurvePrivateKey,
    is_ca: bool,
    not_before: dt.datetime,
    not_after: dt.datetime = NO_EXPIRY,
    serial: int = 1,
    path_len: int | None = None,
) -> MatterCertificate:
    """Mint an RCAC/ICAC (is_ca) or NOC with ``cryptography`` and return its Matter form."""
    builder = (
        cx509.CertificateBuilder()
        .subject_name(_cx_name(subject))
        .issuer_name(_cx_name(issuer))
        .public_key(public_key)
        .serial_number(serial)
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(cx509.BasicConstraints(ca=is_ca, path_length=path_len), critical=True)
    )
    if is_ca:
        usage = cx509.KeyUsage(False, False, False, False, False, True, True, False, False)
    else:
        usage = cx509.KeyUsage(True, False, False, False, False, False, False, False, False)
    builder = builder.add_extension(usage, critical=True)
    if not is_ca:
        eku = cx509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH, ExtendedKeyUsageOID.SERVER_AUTH])
        builder = builder.add_extension(eku, critical=True)
    builder = builder.add_extension(SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    akid = AuthorityKeyIdentifier(SubjectKeyIdentifier.from_public_key(issuer_key.public_key()).digest, None, None)
    builder = builder.add_extension(akid, critical=False)
    certificate = builder.sign(issuer_key, hashes.SHA256())
    matter = MatterCertificate.from_der(certificate.public_bytes(Encoding.DER))
    if matter.public_key != public_key_bytes(public_key):
        raise CertificateError("minted certificate has an unexpected public key")
    return matter
