"""The bench fabric: the provider's own fabric, on which it commissions the devices under test.

Its root CA and the provider's NOC are minted once and kept in the state database (owner-only,
it holds the root key). The provider is the administrator of the devices it commissions
(CaseAdminSubject = its node id) and grants itself nothing more: on its own node, each device
it commissions gets an Operate entry for the OTA Provider cluster, and nobody else does. The
demo fabric stays separate.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ..fabric.acl import AccessControlEntry, AccessControlTarget, Privilege
from ..fabric.authority import FabricAuthority
from ..session.secure import AuthMode
from ..storage.database import Database

__all__ = ["BENCH_LABEL", "BenchFabric", "BenchFabricError"]

BENCH_LABEL = "bench"
SETTING = "bench/fabric"
PROVIDER_NODE_ID = 0x0000_0000_0000_0001
FIRST_DEVICE_NODE_ID = 0x0000_0000_0000_0010
OTA_PROVIDER_CLUSTER = 0x0029
ADMIN_VENDOR_ID = 0xFFF1  # the test vendor: what chip-tool sends as AdminVendorId
DEVICE_CAT = 0xBE0C_0001  # CASE Authenticated Tag of the devices we commission: id 0xBE0C, version 1
CAT_SUBJECT = 0xFFFF_FFFD_0000_0000 | DEVICE_CAT


class BenchFabricError(ValueError):
    pass


@dataclass
class BenchFabric:
    authority: FabricAuthority
    provider_node_id: int = PROVIDER_NODE_ID
    next_node_id: int = FIRST_DEVICE_NODE_ID

    @property
    def fabric_id(self) -> int:
        return self.authority.fabric_id

    @classmethod
    def load_or_create(cls, db: Database) -> BenchFabric:
        raw = db.get_setting(SETTING)
        if raw is None:
            bench = cls(FabricAuthority(secrets.randbits(63) + 1, vendor_id=ADMIN_VENDOR_ID))
            bench.save(db)
            return bench
        try:
            data = json.loads(raw)
            key = serialization.load_der_private_key(bytes.fromhex(data["rootKey"]), None)
            if not isinstance(key, ec.EllipticCurvePrivateKey):
                raise TypeError("the root key is not an EC key")
            ipk, rcac = bytes.fromhex(data["ipk"]), bytes.fromhex(data["rcac"])
            authority = FabricAuthority(
                int(data["fabricId"]),
                vendor_id=int(data["vendorId"]),
                root_key=key,
                rcac_id=int(data["rcacId"]),
                ipk_epoch_key=ipk,
                rcac_tlv=rcac,
            )
            return cls(authority, int(data["providerNodeId"]), int(data["nextNodeId"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise BenchFabricError(f"the bench fabric in {db.path} is damaged ({exc})") from None

    def save(self, db: Database) -> None:
        authority = self.authority
        key = authority.root_key.private_bytes(
            serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        data = {
            "fabricId": authority.fabric_id,
            "vendorId": authority.vendor_id,
            "rcacId": authority.rcac_id,
            "ipk": authority.ipk_epoch_key.hex(),
            "rcac": authority.rcac.to_tlv().hex(),
            "rootKey": key.hex(),
            "providerNodeId": self.provider_node_id,
            "nextNodeId": self.next_node_id,
        }
        db.set_setting(SETTING, json.dumps(data).encode())

    def allocate_node_id(self, db: Database, wanted: int | None = None) -> int:
        """The next free device node id (or ``wanted``), kept so a restart never hands it out again."""
        node_id = self.next_node_id if wanted is None else wanted
        if not 1 <= node_id <= 0xFFFF_FFEF_FFFF_FFFF or node_id == self.provider_node_id:
            raise BenchFabricError(f"node id 0x{node_id:X} is not an operational node id free on the bench fabric")
        self.next_node_id = max(self.next_node_id, node_id + 1)
        self.save(db)
        return node_id

    def device_noc(self, node_id: int, public_key: ec.EllipticCurvePublicKey):
        """A device's NOC, carrying the bench devices' CASE Authenticated Tag."""
        return self.authority.issue_noc(node_id, public_key, cats=(DEVICE_CAT,))

    @staticmethod
    def acl_entries(fabric_index: int) -> list[AccessControlEntry]:
        """On our own node: Operate on the OTA Provider cluster for the devices we commissioned
        (their NOCs carry DEVICE_CAT), over CASE; nothing for anyone else. One entry, however many
        devices (a CAT subject instead of one subject per device, so the ACL stays in its limits)."""
        return [
            AccessControlEntry(
                fabric_index,
                Privilege.OPERATE,
                AuthMode.CASE,
                subjects=(CAT_SUBJECT,),
                targets=(AccessControlTarget(cluster=OTA_PROVIDER_CLUSTER),),
            )
        ]
