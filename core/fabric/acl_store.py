"""The ACL in the state database: each fabric's entries are replaced in one transaction."""

from __future__ import annotations

from ..codec import tlv
from ..storage.database import Database
from .acl import AccessControl, AccessControlEntry, AclError

__all__ = ["AclStore"]


class AclStore:
    def __init__(self, db: Database, acl: AccessControl | None = None) -> None:
        self.db = db
        self.acl = acl or AccessControl()

    def load(self) -> AccessControl:
        entries = []
        for fabric_index, _position, blob in self.db.query(
            "SELECT fabric_index, position, entry FROM acl ORDER BY fabric_index, position"
        ):
            try:
                entries.append(AccessControlEntry.from_tlv(tlv.decode(blob), fabric_index))
            except (AclError, tlv.TLVError) as exc:
                raise AclError(f"stored ACL entry for fabric {fabric_index} is unusable: {exc}") from None
        self.acl.entries = entries
        return self.acl

    def replace_fabric(self, fabric_index: int, entries: list[AccessControlEntry]) -> None:
        with self.db.transaction() as cursor:
            cursor.execute("DELETE FROM acl WHERE fabric_index = ?", (fabric_index,))
            for position, entry in enumerate(entries):
                cursor.execute(
                    "INSERT INTO acl (fabric_index, position, entry) VALUES (?, ?, ?)",
                    (fabric_index, position, tlv.encode(entry.to_tlv())),
                )
            self.acl.replace_fabric(fabric_index, entries)

    def remove_fabric(self, fabric_index: int) -> None:
        self.replace_fabric(fabric_index, [])
