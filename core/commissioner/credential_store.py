"""Named network credentials in the state database: ``networks add-wifi``, ``add-thread``,
``list``, ``remove``; the BLE commissioner reads one by name. Listing shows what a technician
needs to pick one (the SSID, the Thread network's name, PAN ID and channel), never a secret."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from ..api.values import NetworkChoice
from ..storage.database import Database
from .network_credentials import CredentialError, ThreadDataset, WifiCredentials, dataset_from_tlvs

__all__ = ["CredentialStore", "StoredNetwork"]

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")


@dataclass(frozen=True)
class StoredNetwork:
    name: str
    credentials: WifiCredentials | ThreadDataset
    added: float

    @property
    def kind(self) -> str:
        return "wifi" if isinstance(self.credentials, WifiCredentials) else "thread"

    def as_json(self) -> dict[str, object]:
        shown: dict[str, object] = {"name": self.name, "kind": self.kind, "added": round(self.added, 3)}
        if isinstance(self.credentials, WifiCredentials):
            shown["ssid"] = self.credentials.ssid.decode("utf-8", "replace")
            shown["open"] = not self.credentials.passphrase
        else:
            shown["networkName"] = self.credentials.network_name
            shown["panId"] = self.credentials.pan_id
            shown["channel"] = self.credentials.channel
            shown["extendedPanId"] = self.credentials.extended_pan_id.hex()
        return shown


class CredentialStore:
    NAME = NAME

    def __init__(self, db: Database) -> None:
        self.db = db

    @staticmethod
    def check_name(name: str) -> str:
        if not NAME.fullmatch(name):
            raise CredentialError(f"{name!r} is not a credential name: letters, digits, '.', '_' and '-', at most 63")
        return name

    def put(self, name: str, credentials: WifiCredentials | ThreadDataset) -> None:
        self.check_name(name)
        row: tuple[str, str, bytes | None, bytes, float]
        if isinstance(credentials, WifiCredentials):
            row = (name, "wifi", credentials.ssid, credentials.passphrase, time.time())
        else:
            row = (name, "thread", None, credentials.tlvs, time.time())
        with self.db.transaction() as cursor:
            cursor.execute("INSERT OR REPLACE INTO network_credentials VALUES (?, ?, ?, ?, ?)", row)

    def get(self, name: str) -> StoredNetwork | None:
        rows = self.db.query("SELECT name, kind, ssid, secret, added FROM network_credentials WHERE name = ?", (name,))
        return _stored(rows[0]) if rows else None

    def all(self) -> list[StoredNetwork]:
        rows = self.db.query("SELECT name, kind, ssid, secret, added FROM network_credentials ORDER BY name")
        return [_stored(row) for row in rows]

    def choices(self) -> tuple[NetworkChoice, ...]:
        return tuple(NetworkChoice(n.name, n.credentials.describe()) for n in self.all())

    def remove(self, name: str) -> bool:
        with self.db.transaction() as cursor:
            cursor.execute("DELETE FROM network_credentials WHERE name = ?", (name,))
            return cursor.rowcount > 0


def _stored(row: tuple) -> StoredNetwork:
    name, kind, ssid, secret, added = row
    credentials: WifiCredentials | ThreadDataset = (
        WifiCredentials(bytes(ssid), bytes(secret)) if kind == "wifi" else dataset_from_tlvs(bytes(secret))
    )
    return StoredNetwork(name, credentials, added)
