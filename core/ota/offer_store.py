"""Offers (UpdateTokens bound to a requestor) in the state database.

A requestor may download for minutes and apply hours later; if the provider restarts in
between, its ApplyUpdateRequest and NotifyUpdateApplied must still find their offer, or the
download was wasted. Each change is one committed row (a crash loses nothing written).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..storage.database import Database

__all__ = ["OfferRecord", "OfferStore"]


@dataclass(frozen=True)
class OfferRecord:
    """What is kept of an offer: enough to find its image again in the catalog."""

    token: bytes
    fabric_index: int
    node_id: int
    designator: str
    image_path: str
    software_version: int
    issued: float  # wall-clock seconds
    requestor_version: int
    apply_requests: int = 0
    applied_version: int | None = None


_COLUMNS = (
    "token, fabric_index, node_id, designator, image_path, software_version, issued, requestor_version, "
    "apply_requests, applied_version"
)


class OfferStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def save(self, record: OfferRecord) -> None:
        with self.db.transaction() as cursor:
            cursor.execute(
                f"INSERT OR REPLACE INTO offers ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    record.token,
                    record.fabric_index,
                    record.node_id,
                    record.designator,
                    record.image_path,
                    record.software_version,
                    record.issued,
                    record.requestor_version,
                    record.apply_requests,
                    record.applied_version,
                ),
            )

    def delete(self, tokens: list[bytes]) -> None:
        if tokens:
            with self.db.transaction() as cursor:
                cursor.executemany("DELETE FROM offers WHERE token = ?", [(t,) for t in tokens])

    def load(self) -> list[OfferRecord]:
        rows = self.db.query(f"SELECT {_COLUMNS} FROM offers ORDER BY issued")
        return [OfferRecord(bytes(row[0]), *row[1:]) for row in rows]
