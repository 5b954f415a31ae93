"""A demo fabric minted locally, so the provider and simulated requestors can talk with no
commissioner: a root CA, the provider's NOC, NOCs for requestors, and an ACL entry granting
Operate on the OTA Provider cluster to every node of the fabric.

The root key is written to a file (mode 0600) that simulated requestors read to mint their own
NOCs. It is a bench credential: whoever holds the file can join the demo fabric, never more.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ..session.secure import AuthMode
from .acl import AccessControlEntry, AccessControlTarget, Privilege
from .authority import FabricAuthority
from .table import Fabric

__all__ = ["DEMO_FABRIC_FILE", "DEMO_LABEL", "DemoFabric", "DemoFabricError"]

DEMO_FABRIC_FILE = "demo-fabric.json"
DEMO_LABEL = "demo"
DEMO_FABRIC_ID = 0x0000_0000_0000_DE70
DEMO_PROVIDER_NODE_ID = 0x0000_0000_0000_0001
DEMO_VENDOR_ID = 0xFFF1
OTA_PROVIDER_CLUSTER = 0x0029


class DemoFabricError(ValueError):
    pass


@dataclass
class DemoFabric:
    authority: FabricAuthority
    provider_node_id: int = DEMO_PROVIDER_NODE_ID

    @classmethod
    def generate(cls) -> DemoFabric:
        return cls(FabricAuthority(DEMO_FABRIC_ID, vendor_id=DEMO_VENDOR_ID))

    @property
    def fabric_id(self) -> int:
        return self.authority.fabric_id

    @property
    def root_key(self) -> ec.EllipticCurvePrivateKey:
        return self.authority.root_key

    def fabric_for(self, node_id: int, fabric_index: int = 1, label: str = DEMO_LABEL) -> Fabric:
        """Identity of ``node_id`` on this fabric, with a fresh operational key."""
        return self.authority.join(node_id, fabric_index, label=label)

    @staticmethod
    def acl_entries(fabric_index: int) -> list[AccessControlEntry]:
        """Operate on the OTA Provider cluster for any CASE peer on the demo fabric."""
        target = (AccessControlTarget(cluster=OTA_PROVIDER_CLUSTER),)
        return [AccessControlEntry(fabric_index, Privilege.OPERATE, AuthMode.CASE, targets=target)]

    # ------------------------------------------------------------------ file

    def save(self, path: Path) -> None:
        authority = self.authority
        data = {
            "fabricId": authority.fabric_id,
            "rcacId": authority.rcac_id,
            "vendorId": authority.vendor_id,
            "providerNodeId": self.provider_node_id,
            "ipkEpochKey": authority.ipk_epoch_key.hex(),
            "rootKey": authority.root_key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            ).decode(),
        }
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(data, out, indent=2)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> DemoFabric:
        try:
            data = json.loads(path.read_text())
            key = serialization.load_pem_private_key(data["rootKey"].encode(), password=None)
            if not isinstance(key, ec.EllipticCurvePrivateKey):
                raise TypeError("not an EC key")
            ipk = bytes.fromhex(data["ipkEpochKey"])
            if len(ipk) != 16:
                raise ValueError("ipkEpochKey must be 16 bytes")
            authority = FabricAuthority(
                int(data["fabricId"]),
                vendor_id=int(data.get("vendorId", DEMO_VENDOR_ID)),
                root_key=key,
                rcac_id=int(data["rcacId"]),
                ipk_epoch_key=ipk,
            )
            return cls(authority, int(data["providerNodeId"]))
        except OSError as exc:
            raise DemoFabricError(f"cannot read the demo fabric file {path}: {exc.strerror}") from None
        except (ValueError, KeyError, TypeError) as exc:
            raise DemoFabricError(f"{path} is not a demo fabric file ({exc}); delete it to mint a new one") from None

    @classmethod
    def load_or_create(cls, path: Path) -> DemoFabric:
        if path.exists():
            return cls.load(path)
        demo = cls.generate()
        path.parent.mkdir(parents=True, exist_ok=True)
        demo.save(path)
        return demo
