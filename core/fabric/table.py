"""The fabric table (Core spec 11.18): one entry per fabric this node has joined."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric import ec

from ..crypto.certificates import CertificateError, MatterCertificate, validate_operational_chain
from ..crypto.primitives import hkdf_sha256

__all__ = ["MAX_FABRICS", "Fabric", "FabricError", "FabricTable", "compressed_fabric_id", "operational_group_key"]

MAX_FABRICS = 16
MAX_LABEL_LENGTH = 32


class FabricError(ValueError):
    pass


def compressed_fabric_id(root_public_key: bytes, fabric_id: int) -> bytes:
    """HKDF(root public key without its 0x04 prefix, salt = fabric id big-endian, "CompressedFabric", 8)."""
    return hkdf_sha256(root_public_key[1:], fabric_id.to_bytes(8, "big"), b"CompressedFabric", 8)


def operational_group_key(epoch_key: bytes, compressed_id: bytes) -> bytes:
    """The IPK: HKDF(epoch key, salt = compressed fabric id, "GroupKey v1.0", 16)."""
    return hkdf_sha256(epoch_key, compressed_id, b"GroupKey v1.0", 16)


@dataclass(frozen=True)
class Fabric:
    fabric_index: int
    rcac: bytes  # Matter TLV certificates
    icac: bytes | None
    noc: bytes
    ipk_epoch_key: bytes
    vendor_id: int
    operational_key: ec.EllipticCurvePrivateKey = field(repr=False, compare=False)
    label: str = ""
    node_id: int = 0
    fabric_id: int = 0
    root_public_key: bytes = b""
    cats: tuple[int, ...] = ()

    @classmethod
    def create(
        cls,
        fabric_index: int,
        *,
        rcac: bytes,
        icac: bytes | None,
        noc: bytes,
        ipk_epoch_key: bytes,
        vendor_id: int,
        operational_key: ec.EllipticCurvePrivateKey,
        label: str = "",
    ) -> Fabric:
        """Validate the chain and derive the node's identity on the fabric."""
        try:
            root = MatterCertificate.from_tlv(rcac)
            chain = validate_operational_chain(
                MatterCertificate.from_tlv(noc), MatterCertificate.from_tlv(icac) if icac else None, root
            )
        except CertificateError as exc:
            raise FabricError(str(exc)) from None
        if len(ipk_epoch_key) != 16:
            raise FabricError("the IPK epoch key must be 16 bytes")
        return cls(
            fabric_index=fabric_index,
            rcac=rcac,
            icac=icac,
            noc=noc,
            ipk_epoch_key=ipk_epoch_key,
            vendor_id=vendor_id,
            operational_key=operational_key,
            label=label,
            node_id=chain.node_id,
            fabric_id=chain.fabric_id,
            root_public_key=root.public_key,
            cats=chain.cats,
        )

    @property
    def compressed_fabric_id(self) -> bytes:
        return compressed_fabric_id(self.root_public_key, self.fabric_id)

    @property
    def ipk(self) -> bytes:
        return operational_group_key(self.ipk_epoch_key, self.compressed_fabric_id)

    @property
    def operational_instance_name(self) -> str:
        """The DNS-SD instance name ``<CompressedFabricID>-<NodeID>`` in upper-case hex."""
        return f"{self.compressed_fabric_id.hex().upper()}-{self.node_id:016X}"


class FabricTable:
    def __init__(self, max_fabrics: int = MAX_FABRICS) -> None:
        self._fabrics: dict[int, Fabric] = {}
        self.max_fabrics = max_fabrics

    def __iter__(self) -> Iterator[Fabric]:
        return iter(sorted(self._fabrics.values(), key=lambda f: f.fabric_index))

    def __len__(self) -> int:
        return len(self._fabrics)

    def get(self, fabric_index: int) -> Fabric | None:
        return self._fabrics.get(fabric_index)

    def next_index(self) -> int:
        for index in range(1, 255):
            if index not in self._fabrics:
                return index
        raise FabricError("no fabric index left")

    def add(self, fabric: Fabric) -> Fabric:
        if len(self._fabrics) >= self.max_fabrics:
            raise FabricError(f"the fabric table is full ({self.max_fabrics})")
        for other in self._fabrics.values():
            if (other.root_public_key, other.fabric_id) == (fabric.root_public_key, fabric.fabric_id):
                raise FabricError("this node is already on that fabric")
        if fabric.fabric_index in self._fabrics:
            raise FabricError(f"fabric index {fabric.fabric_index} is in use")
        self._fabrics[fabric.fabric_index] = fabric
        return fabric

    def replace(self, fabric: Fabric) -> None:
        if fabric.fabric_index not in self._fabrics:
            raise FabricError(f"no fabric with index {fabric.fabric_index}")
        self._fabrics[fabric.fabric_index] = fabric

    def remove(self, fabric_index: int) -> Fabric | None:
        return self._fabrics.pop(fabric_index, None)
