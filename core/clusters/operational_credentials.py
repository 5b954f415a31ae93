"""Node Operational Credentials (0x003E): attestation, CSR, trusted root, NOCs, fabrics."""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from ..attestation.credentials import attestation_elements, nocsr_elements, sign_with_challenge
from ..codec import tlv
from ..codec.im_status import ImStatus
from ..codec.schema import Bool, EmptyAsAbsent, OctetString, TLVStruct, UInt8, UInt16, UInt64, Utf8String, tlv_field
from ..codec.tlv import UInt
from ..crypto.certificates import CertificateError, MatterCertificate
from ..crypto.primitives import public_key_bytes
from ..fabric.acl import AccessControlEntry, AccessControlTarget, Privilege
from ..fabric.table import MAX_FABRICS, Fabric, FabricError
from ..im.model import AttributeSpec, Cluster, CommandSpec, ImError, RequestContext
from ..session.secure import AuthMode
from .services import FabricAdmin

log = logging.getLogger(__name__)

OTA_PROVIDER_CLUSTER = 0x0029

# NodeOperationalCertStatusEnum
OK, INVALID_PUBLIC_KEY, INVALID_NODE_OP_ID, INVALID_NOC, MISSING_CSR, TABLE_FULL = 0, 1, 2, 3, 4, 5
INVALID_ADMIN_SUBJECT, FABRIC_CONFLICT, LABEL_CONFLICT, INVALID_FABRIC_INDEX = 6, 9, 10, 11


@dataclass(frozen=True)
class AttestationRequest(TLVStruct):
    nonce: bytes = tlv_field(0, OctetString(32, 32))


@dataclass(frozen=True)
class CertificateChainRequest(TLVStruct):
    certificate_type: int = tlv_field(0, UInt8)


@dataclass(frozen=True)
class CsrRequest(TLVStruct):
    nonce: bytes = tlv_field(0, OctetString(32, 32))
    is_for_update_noc: bool | None = tlv_field(1, Bool, optional=True)


@dataclass(frozen=True, kw_only=True)
class AddNoc(TLVStruct):
    noc: bytes = tlv_field(0, OctetString(1, 400))
    icac: bytes | None = tlv_field(1, EmptyAsAbsent(OctetString(1, 400)), optional=True)
    ipk: bytes = tlv_field(2, OctetString(16, 16))
    case_admin_subject: int = tlv_field(3, UInt64)
    admin_vendor_id: int = tlv_field(4, UInt16)


@dataclass(frozen=True)
class UpdateNoc(TLVStruct):
    noc: bytes = tlv_field(0, OctetString(1, 400))
    icac: bytes | None = tlv_field(1, EmptyAsAbsent(OctetString(1, 400)), optional=True)


@dataclass(frozen=True)
class UpdateFabricLabel(TLVStruct):
    label: str = tlv_field(0, Utf8String(0, 32))


@dataclass(frozen=True)
class RemoveFabric(TLVStruct):
    fabric_index: int = tlv_field(0, UInt8)


@dataclass(frozen=True)
class AddTrustedRoot(TLVStruct):
    root: bytes = tlv_field(0, OctetString(1, 400))


def _noc_response(status: int, fabric_index: int | None = None, text: str = "") -> tuple[int, tlv.Structure]:
    out = tlv.Structure({0: UInt(status)})
    if fabric_index is not None:
        out[1] = UInt(fabric_index)
    if text:
        out[2] = text
    return 0x08, out


def _csr(key: ec.EllipticCurvePrivateKey) -> bytes:
    request = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "CSA")]))
        .sign(key, hashes.SHA256())
    )
    return request.public_bytes(serialization.Encoding.DER)


class OperationalCredentialsCluster(Cluster):
    id = 0x003E
    revision = 1

    def __init__(self, services: FabricAdmin) -> None:
        super().__init__()
        self.services = services
        admin = Privilege.ADMINISTER
        # NOC and ICAC are fabric-sensitive; the Fabrics list has no fabric-sensitive field.
        self.attribute(
            AttributeSpec(
                0x0000, self._nocs, read_privilege=admin, is_list=True, fabric_scoped=True, sensitive_fields=(1, 2)
            )
        )
        self.attribute(AttributeSpec(0x0001, self._fabrics, is_list=True, fabric_scoped=True))
        self.constant(0x0002, UInt(MAX_FABRICS))
        self.attribute(AttributeSpec(0x0003, lambda _c: UInt(len(services.fabrics))))
        self.attribute(AttributeSpec(0x0004, lambda _c: tlv.Array(f.rcac for f in services.fabrics), is_list=True))
        self.attribute(AttributeSpec(0x0005, lambda ctx: UInt(ctx.fabric_index)))
        for command_id, handler, response, scoped in (
            (0x00, self._attestation, 0x01, False),
            (0x02, self._certificate_chain, 0x03, False),
            (0x04, self._csr_request, 0x05, False),
            (0x06, self._add_noc, 0x08, False),
            (0x07, self._update_noc, 0x08, True),
            (0x09, self._update_label, 0x08, True),
            (0x0A, self._remove_fabric, 0x08, False),
            (0x0B, self._add_trusted_root, None, False),
        ):
            self.command(CommandSpec(command_id, handler, admin, response_id=response, fabric_scoped=scoped))

    # ------------------------------------------------------------------ attributes

    def _nocs(self, _ctx) -> tlv.Array:
        return tlv.Array(
            tlv.Structure({1: f.noc, 2: f.icac, 0xFE: UInt(f.fabric_index)}) for f in self.services.fabrics
        )

    def _fabrics(self, _ctx) -> tlv.Array:
        return tlv.Array(
            tlv.Structure(
                {
                    1: f.root_public_key,
                    2: UInt(f.vendor_id),
                    3: UInt(f.fabric_id),
                    4: UInt(f.node_id),
                    5: f.label,
                    0xFE: UInt(f.fabric_index),
                }
            )
            for f in self.services.fabrics
        )

    # ------------------------------------------------------------------ attestation

    def _attestation(self, ctx: RequestContext, fields) -> tuple[int, tlv.Structure]:
        request = AttestationRequest.from_tlv(fields)
        creds = self.services.credentials
        elements = attestation_elements(creds.certification_declaration, request.nonce)
        signature = sign_with_challenge(creds.dac_key, elements, ctx.session.keys.attestation_challenge)
        return 0x01, tlv.Structure({0: elements, 1: signature})

    def _certificate_chain(self, _ctx, fields) -> tuple[int, tlv.Structure]:
        kind = CertificateChainRequest.from_tlv(fields).certificate_type
        creds = self.services.credentials
        if kind not in (1, 2):
            raise ImError(ImStatus.INVALID_COMMAND, reason="certificate type must be 1 (DAC) or 2 (PAI)")
        return 0x03, tlv.Structure({0: creds.dac if kind == 1 else creds.pai})

    def _csr_request(self, ctx: RequestContext, fields) -> tuple[int, tlv.Structure]:
        request = CsrRequest.from_tlv(fields)
        failsafe = self.services.failsafe
        if not failsafe.armed:
            raise ImError(ImStatus.FAILSAFE_REQUIRED)
        if failsafe.added_fabric is not None:
            raise ImError(ImStatus.CONSTRAINT_ERROR, reason="a NOC was already added in this fail-safe")
        key = ec.generate_private_key(ec.SECP256R1())
        failsafe.pending_key = key
        failsafe.csr_for_update = bool(request.is_for_update_noc)
        elements = nocsr_elements(_csr(key), request.nonce)
        signature = sign_with_challenge(
            self.services.credentials.dac_key, elements, ctx.session.keys.attestation_challenge
        )
        return 0x05, tlv.Structure({0: elements, 1: signature})

    def _add_trusted_root(self, _ctx, fields) -> None:
        root = AddTrustedRoot.from_tlv(fields).root
        failsafe = self.services.failsafe
        if not failsafe.armed:
            raise ImError(ImStatus.FAILSAFE_REQUIRED)
        if failsafe.pending_root is not None or failsafe.added_fabric is not None:
            raise ImError(ImStatus.CONSTRAINT_ERROR, reason="a trusted root was already added")
        try:
            certificate = MatterCertificate.from_tlv(root)
            certificate.verify_signature(certificate.public_key)
        except CertificateError as exc:
            raise ImError(ImStatus.INVALID_COMMAND, reason=str(exc)) from None
        if not certificate.is_ca or certificate.subject != certificate.issuer:
            raise ImError(ImStatus.INVALID_COMMAND, reason="not a self-signed root certificate")
        failsafe.pending_root = root

    # ------------------------------------------------------------------ NOCs

    def _add_noc(self, ctx: RequestContext, fields) -> tuple[int, tlv.Structure]:
        request = AddNoc.from_tlv(fields)
        failsafe = self.services.failsafe
        if not failsafe.armed:
            raise ImError(ImStatus.FAILSAFE_REQUIRED)
        if failsafe.added_fabric is not None or failsafe.csr_for_update:
            raise ImError(ImStatus.CONSTRAINT_ERROR, reason="AddNOC already done in this fail-safe")
        if failsafe.pending_key is None or failsafe.pending_root is None:
            return _noc_response(MISSING_CSR, text="CSRRequest and AddTrustedRootCertificate come first")
        if len(self.services.fabrics) >= MAX_FABRICS:
            return _noc_response(TABLE_FULL)
        noc = self._check_noc(request.noc, failsafe.pending_key)
        if isinstance(noc, tuple):
            return noc
        subject = request.case_admin_subject
        if not (1 <= subject <= 0xFFFF_FFEF_FFFF_FFFF or subject >> 32 == 0xFFFF_FFFD):
            return _noc_response(INVALID_ADMIN_SUBJECT)
        index = self.services.fabrics.next_index()
        try:
            fabric = Fabric.create(
                index,
                rcac=failsafe.pending_root,
                icac=request.icac,
                noc=request.noc,
                ipk_epoch_key=request.ipk,
                vendor_id=request.admin_vendor_id,
                operational_key=failsafe.pending_key,
            )
        except FabricError as exc:
            log.info("AddNOC refused: %s", exc)
            return _noc_response(INVALID_NOC, text=str(exc))
        for other in self.services.fabrics:
            if (other.root_public_key, other.fabric_id) == (fabric.root_public_key, fabric.fabric_id):
                return _noc_response(FABRIC_CONFLICT)
        entries = [AccessControlEntry(index, Privilege.ADMINISTER, AuthMode.CASE, subjects=(subject,))]
        if self.services.allow_ota_from_fabric:
            ota = (AccessControlTarget(cluster=OTA_PROVIDER_CLUSTER),)
            entries.append(AccessControlEntry(index, Privilege.OPERATE, AuthMode.CASE, targets=ota))
        changed_by = ctx.subject if ctx.session.auth_mode == AuthMode.CASE else None
        self.services.add_provisional_fabric(fabric, entries, changed_by)
        failsafe.added_fabric = index
        # The fail-safe now belongs to the new fabric (the SDK's SetAddNocCommandInvoked), so the
        # commissioner may re-arm it over CASE on that fabric (matter.js does, in its reconnect step).
        failsafe.armed_by_fabric = index
        if ctx.session.auth_mode == AuthMode.PASE:
            ctx.session.fabric_index = index  # the commissioning session now acts on the new fabric
        self.changed()
        return _noc_response(OK, index)

    def _check_noc(self, noc_tlv: bytes, key: ec.EllipticCurvePrivateKey) -> MatterCertificate | tuple:
        try:
            noc = MatterCertificate.from_tlv(noc_tlv)
        except CertificateError as exc:
            return _noc_response(INVALID_NOC, text=str(exc))
        if noc.public_key != public_key_bytes(key.public_key()):
            return _noc_response(INVALID_PUBLIC_KEY)
        if noc.node_id is None:
            return _noc_response(INVALID_NODE_OP_ID)
        return noc

    def _update_noc(self, ctx: RequestContext, fields) -> tuple[int, tlv.Structure]:
        request = UpdateNoc.from_tlv(fields)
        failsafe = self.services.failsafe
        if not failsafe.armed:
            raise ImError(ImStatus.FAILSAFE_REQUIRED)
        if failsafe.pending_key is None or not failsafe.csr_for_update:
            return _noc_response(MISSING_CSR)
        current = self.services.fabrics.get(ctx.fabric_index)
        if current is None:
            return _noc_response(INVALID_FABRIC_INDEX)
        noc = self._check_noc(request.noc, failsafe.pending_key)
        if isinstance(noc, tuple):
            return noc
        try:
            updated = Fabric.create(
                current.fabric_index,
                rcac=current.rcac,
                icac=request.icac,
                noc=request.noc,
                ipk_epoch_key=current.ipk_epoch_key,
                vendor_id=current.vendor_id,
                operational_key=failsafe.pending_key,
                label=current.label,
            )
        except FabricError as exc:
            return _noc_response(INVALID_NOC, text=str(exc))
        if updated.fabric_id != current.fabric_id:
            return _noc_response(INVALID_NOC, text="the fabric id may not change")
        failsafe.updated_fabric = current
        self.services.update_provisional_fabric(updated, current)
        self.changed()
        return _noc_response(OK, current.fabric_index)

    def _update_label(self, ctx: RequestContext, fields) -> tuple[int, tlv.Structure]:
        label = UpdateFabricLabel.from_tlv(fields).label
        current = self.services.fabrics.get(ctx.fabric_index)
        if current is None:
            return _noc_response(INVALID_FABRIC_INDEX)
        if label and any(f.label == label and f.fabric_index != current.fabric_index for f in self.services.fabrics):
            return _noc_response(LABEL_CONFLICT)
        self.services.save_fabric(dataclasses.replace(current, label=label))
        self.changed()
        return _noc_response(OK, current.fabric_index)

    def _remove_fabric(self, _ctx, fields) -> tuple[int, tlv.Structure]:
        index = RemoveFabric.from_tlv(fields).fabric_index
        if self.services.fabrics.get(index) is None:
            return _noc_response(INVALID_FABRIC_INDEX)
        # Removal closes the fabric's sessions, perhaps the one carrying this response: send first.
        self.services.call_soon(lambda: self.services.remove_fabric(index))
        self.changed()
        return _noc_response(OK, index)
