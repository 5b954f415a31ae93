"""Fabrics in the state database: every add, update and removal is one transaction."""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_der_private_key,
)

from ..storage.database import Database
from .table import Fabric, FabricError, FabricTable

__all__ = ["FabricStore"]


class FabricStore:
    """Keeps a :class:`FabricTable` and its database rows in step."""

    def __init__(self, db: Database, table: FabricTable | None = None) -> None:
        self.db = db
        self.table = table or FabricTable()

    def load(self) -> FabricTable:
        rows = self.db.query(
            "SELECT fabric_index, rcac, icac, noc, ipk_epoch_key, vendor_id, label, operational_key "
            "FROM fabrics ORDER BY fabric_index"
        )
        for index, rcac, icac, noc, epoch, vendor, label, key_der in rows:
            try:
                key = _operational_key(key_der)
                fabric = Fabric.create(
                    index,
                    rcac=rcac,
                    icac=icac,
                    noc=noc,
                    ipk_epoch_key=epoch,
                    vendor_id=vendor,
                    operational_key=key,
                    label=label,
                )
            except (FabricError, ValueError) as exc:
                raise FabricError(f"stored fabric {index} is unusable: {exc}") from None
            self.table.add(fabric)
        return self.table

    @staticmethod
    def to_record(fabric: Fabric) -> dict[str, object]:
        """The fabric as JSON-ready values (the fail-safe keeps the one an UpdateNOC replaced)."""
        key_der = fabric.operational_key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())
        blobs = {
            "rcac": fabric.rcac,
            "icac": fabric.icac,
            "noc": fabric.noc,
            "ipk": fabric.ipk_epoch_key,
            "key": key_der,
        }
        return {
            "index": fabric.fabric_index,
            "vendor": fabric.vendor_id,
            "label": fabric.label,
            **{name: value.hex() if value is not None else None for name, value in blobs.items()},
        }

    @staticmethod
    def from_record(record: dict) -> Fabric:
        def blob(name: str) -> bytes | None:
            return bytes.fromhex(record[name]) if record.get(name) is not None else None

        def required(name: str) -> bytes:
            value = blob(name)
            if value is None:
                raise FabricError(f"the fabric record has no {name}")
            return value

        return Fabric.create(
            record["index"],
            rcac=required("rcac"),
            icac=blob("icac"),
            noc=required("noc"),
            ipk_epoch_key=required("ipk"),
            vendor_id=record["vendor"],
            operational_key=_operational_key(required("key")),
            label=record["label"],
        )

    def save(self, fabric: Fabric) -> None:
        """Insert or replace the fabric, then update the in-memory table."""
        key_der = fabric.operational_key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())
        with self.db.transaction() as cursor:
            cursor.execute(
                "INSERT OR REPLACE INTO fabrics (fabric_index, rcac, icac, noc, ipk_epoch_key, vendor_id, label, "
                "operational_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    fabric.fabric_index,
                    fabric.rcac,
                    fabric.icac,
                    fabric.noc,
                    fabric.ipk_epoch_key,
                    fabric.vendor_id,
                    fabric.label,
                    key_der,
                ),
            )
            if self.table.get(fabric.fabric_index) is None:
                self.table.add(fabric)
            else:
                self.table.replace(fabric)

    def remove(self, fabric_index: int) -> Fabric | None:
        with self.db.transaction() as cursor:
            cursor.execute("DELETE FROM fabrics WHERE fabric_index = ?", (fabric_index,))
            return self.table.remove(fabric_index)


def _operational_key(der: bytes) -> ec.EllipticCurvePrivateKey:
    key = load_der_private_key(der, password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise FabricError("the stored operational key is not a P-256 key")
    return key
