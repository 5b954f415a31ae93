"""The devices we commissioned onto the bench fabric, in the state database: who they are, where,
and what we last learnt of them, so a restart reconnects to them and ``ota-provider devices``
lists them. Each change is one committed row."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any

from ..storage.database import Database

__all__ = ["DeviceRecord", "DeviceStore"]


@dataclass(frozen=True)
class DeviceRecord:
    node_id: int
    fabric_index: int  # the bench fabric's index on our node
    vendor_id: int
    product_id: int
    address: str
    port: int
    attestation: str
    commissioned: float
    software_version: int | None = None
    version_string: str | None = None
    product_name: str | None = None
    requestor_endpoint: int | None = None
    state: str = "commissioned"
    updated: float = 0.0
    next_event: int = 0  # EventMin for the next subscription: the events before it were shown

    def as_json(self) -> dict[str, Any]:
        return {
            "nodeId": self.node_id,
            "fabricIndex": self.fabric_index,
            "vendorId": self.vendor_id,
            "productId": self.product_id,
            "address": self.address,
            "port": self.port,
            "attestation": self.attestation,
            "commissioned": self.commissioned,
            "softwareVersion": self.software_version,
            "softwareVersionString": self.version_string,
            "productName": self.product_name,
            "requestorEndpoint": self.requestor_endpoint,
            "state": self.state,
            "updated": self.updated,
        }


_FIELDS = [f.name for f in dataclasses.fields(DeviceRecord)]


class DeviceStore:
    def __init__(self, db: Database, clock=time.time) -> None:
        self.db = db
        self.clock = clock

    def save(self, record: DeviceRecord) -> DeviceRecord:
        record = dataclasses.replace(record, updated=self.clock())
        with self.db.transaction() as cursor:
            cursor.execute(
                f"INSERT OR REPLACE INTO devices ({', '.join(_FIELDS)}) VALUES ({', '.join('?' for _ in _FIELDS)})",
                dataclasses.astuple(record),
            )
        return record

    def update(self, node_id: int, **changes: Any) -> DeviceRecord | None:
        record = self.get(node_id)
        return None if record is None else self.save(dataclasses.replace(record, **changes))

    def delete(self, node_id: int) -> None:
        with self.db.transaction() as cursor:
            cursor.execute("DELETE FROM devices WHERE node_id = ?", (node_id,))

    def get(self, node_id: int) -> DeviceRecord | None:
        rows = self.db.query(f"SELECT {', '.join(_FIELDS)} FROM devices WHERE node_id = ?", (node_id,))
        return DeviceRecord(*rows[0]) if rows else None

    def all(self) -> list[DeviceRecord]:
        return [
            DeviceRecord(*row) for row in self.db.query(f"SELECT {', '.join(_FIELDS)} FROM devices ORDER BY node_id")
        ]
