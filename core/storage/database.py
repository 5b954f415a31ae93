"""The state database: node identity, fabrics, counters (and later ACLs and the update history).

One SQLite file in WAL mode with ``synchronous=FULL``: every change is one transaction,
and a transaction that returned is on disk, so killing the process at any moment loses
nothing already committed. The schema version is SQLite's ``user_version``; each entry in
:data:`MIGRATIONS` moves it up by one, inside the same transaction as its DDL.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

__all__ = ["DATABASE_NAME", "MIGRATIONS", "Database", "StorageError"]

DATABASE_NAME = "ota-provider.sqlite3"


class StorageError(RuntimeError):
    """The state database cannot be opened, is newer than this program, or is damaged."""


MIGRATIONS: tuple[str, ...] = (
    # 1: node settings, fabrics, persisted counters
    """
    CREATE TABLE settings (
        key   TEXT PRIMARY KEY,
        value BLOB NOT NULL
    );
    CREATE TABLE fabrics (
        fabric_index    INTEGER PRIMARY KEY CHECK (fabric_index BETWEEN 1 AND 254),
        rcac            BLOB NOT NULL,
        icac            BLOB,
        noc             BLOB NOT NULL,
        ipk_epoch_key   BLOB NOT NULL,
        vendor_id       INTEGER NOT NULL,
        label           TEXT NOT NULL DEFAULT '',
        operational_key BLOB NOT NULL
    );
    CREATE TABLE counters (
        name  TEXT PRIMARY KEY,
        value INTEGER NOT NULL
    );
    """,
    # 2: access control entries, in list order per fabric
    """
    CREATE TABLE acl (
        fabric_index INTEGER NOT NULL,
        position     INTEGER NOT NULL,
        entry        BLOB NOT NULL,
        PRIMARY KEY (fabric_index, position)
    );
    """,
    # 3: update history: queries answered, transfers, applies, notifications
    """
    CREATE TABLE history (
        id           INTEGER PRIMARY KEY AUTOINCREMENT,
        time         REAL NOT NULL,
        kind         TEXT NOT NULL,
        fabric_index INTEGER,
        node_id      INTEGER,
        summary      TEXT NOT NULL,
        details      TEXT NOT NULL
    );
    CREATE INDEX history_by_node ON history (fabric_index, node_id, time);
    """,
    # 4: outstanding offers (UpdateTokens), so a restart between download and apply wastes nothing
    """
    CREATE TABLE offers (
        token             BLOB PRIMARY KEY,
        fabric_index      INTEGER NOT NULL,
        node_id           INTEGER NOT NULL,
        designator        TEXT NOT NULL,
        image_path        TEXT NOT NULL,
        software_version  INTEGER NOT NULL,
        issued            REAL NOT NULL,
        requestor_version INTEGER NOT NULL,
        apply_requests    INTEGER NOT NULL DEFAULT 0,
        applied_version   INTEGER
    );
    """,
    # 5: devices we commissioned onto the bench fabric, and what we last learnt of each
    """
    CREATE TABLE devices (
        node_id            INTEGER PRIMARY KEY,
        fabric_index       INTEGER NOT NULL,
        vendor_id          INTEGER NOT NULL,
        product_id         INTEGER NOT NULL,
        address            TEXT NOT NULL,
        port               INTEGER NOT NULL,
        attestation        TEXT NOT NULL,
        commissioned       REAL NOT NULL,
        software_version   INTEGER,
        version_string     TEXT,
        product_name       TEXT,
        requestor_endpoint INTEGER,
        state              TEXT NOT NULL DEFAULT 'commissioned',
        updated            REAL NOT NULL
    );
    """,
    # 6: the next event number to ask each device for, so a resubscription is not handed its
    # buffered events again (event numbers only grow, across the device's reboots too)
    """
    ALTER TABLE devices ADD COLUMN next_event INTEGER NOT NULL DEFAULT 0;
    """,
    # 7: the CASE sessions in use and the BDX transfers running, so a provider killed mid-download
    # answers the requestor's next BlockQuery on the same session, in the same transfer. (The
    # outgoing counter of each session is a row of `counters`, reserved in blocks.)
    """
    CREATE TABLE sessions (
        local_session_id INTEGER PRIMARY KEY,
        peer_session_id  INTEGER NOT NULL,
        auth_mode        INTEGER NOT NULL,
        is_initiator     INTEGER NOT NULL,
        fabric_index     INTEGER NOT NULL,
        local_node_id    INTEGER NOT NULL,
        peer_node_id     INTEGER NOT NULL,
        peer_cats        TEXT NOT NULL,
        keys             BLOB NOT NULL,
        peer_parameters  TEXT NOT NULL,
        peer_address     TEXT,
        peer_counter     INTEGER NOT NULL
    );
    CREATE TABLE transfers (
        id               INTEGER PRIMARY KEY,
        local_session_id INTEGER NOT NULL,
        exchange_id      INTEGER NOT NULL,
        designator       BLOB NOT NULL,
        image_path       TEXT NOT NULL,
        block_size       INTEGER NOT NULL,
        start_offset     INTEGER NOT NULL,
        end_offset       INTEGER NOT NULL,
        next_counter     INTEGER NOT NULL,
        offset           INTEGER NOT NULL,
        seconds          REAL NOT NULL,
        resumed          INTEGER NOT NULL DEFAULT 0,
        faults           TEXT NOT NULL DEFAULT '[]'
    );
    """,
    # 8: named Wi-Fi credentials and Thread datasets for devices commissioned over BLE (secrets:
    # this file is owner-only, and nothing else ever holds them)
    """
    CREATE TABLE network_credentials (
        name   TEXT PRIMARY KEY,
        kind   TEXT NOT NULL CHECK (kind IN ('wifi', 'thread')),
        ssid   BLOB,
        secret BLOB NOT NULL,
        added  REAL NOT NULL
    );
    """,
    # 9: the MRP parameters our handshake message advertised on each kept session (they follow the
    # peer's link): a restarted provider still acknowledges within the interval the peer was given
    """
    ALTER TABLE sessions ADD COLUMN local_parameters TEXT;
    """,
)


def _owner_only(path: Path) -> None:
    """The database holds operational private keys: owner-only, made so before SQLite opens it
    (SQLite gives its -wal and -shm files the database file's mode). An existing file is tightened."""
    try:
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
        os.chmod(path, 0o600)
    except OSError as exc:
        raise StorageError(f"cannot open the state database {path}: {exc.strerror}") from None


def _refuse_emptied(path: Path) -> None:
    """An empty database file where one was (truncated, a failed copy) would start a blank node and
    lose every fabric without a word: refuse, and say what to do."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return
    except OSError as exc:
        raise StorageError(f"cannot open the state database {path}: {exc.strerror}") from None
    if size == 0 and not path.with_name(path.name + "-wal").exists():
        raise StorageError(
            f"the state database {path} is empty (0 bytes): its fabrics and keys are gone; restore it "
            "from a backup, or delete it to start a node with no fabrics"
        )


class Database:
    def __init__(self, path: str | Path, *, read_only: bool = False) -> None:
        """``read_only``: for the commands that only look (history, devices): nothing is created,
        chmodded or migrated, and a read-only copy of a state directory can be read."""
        self.path = Path(path)
        self._lock = threading.RLock()
        self._depth = 0  # transactions open, the outermost one counting
        try:
            if read_only:
                self._conn = sqlite3.connect(
                    f"{self.path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None, check_same_thread=False
                )
                if self.schema_version > len(MIGRATIONS):
                    raise StorageError(f"the state database {self.path} is from a newer ota-provider: upgrade it")
                return
            self.path.parent.mkdir(parents=True, exist_ok=True)
            _refuse_emptied(self.path)
            _owner_only(self.path)
            self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=FULL")
            self._conn.execute("PRAGMA foreign_keys=ON")
            self._check()
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise StorageError(f"cannot open the state database {self.path}: {exc}") from None

    def _check(self) -> None:
        """SQLite's quick check at start: a damaged file is refused in words, not met mid-update."""
        verdict = self._conn.execute("PRAGMA quick_check").fetchone()[0]
        if verdict != "ok":
            raise StorageError(
                f"the state database {self.path} is damaged ({verdict}): restore it from a backup, "
                "or move it away to start a node with no fabrics"
            )

    @classmethod
    def in_directory(cls, directory: str | Path) -> Database:
        return cls(Path(directory) / DATABASE_NAME)

    @property
    def schema_version(self) -> int:
        return self._conn.execute("PRAGMA user_version").fetchone()[0]

    def _migrate(self) -> None:
        version = self.schema_version
        if version > len(MIGRATIONS):
            raise StorageError(
                f"the state database {self.path} has schema version {version}, newer than this program "
                f"({len(MIGRATIONS)}); upgrade ota-provider or use another --storage directory"
            )
        for number in range(version, len(MIGRATIONS)):
            with self.transaction() as cursor:
                for statement in MIGRATIONS[number].split(";"):
                    if statement.strip():
                        cursor.execute(statement)
                cursor.execute(f"PRAGMA user_version = {number + 1}")

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Cursor]:
        """One atomic change: committed when the block ends, rolled back if it raises. A transaction
        opened inside another is part of it, so changes that belong together (a fabric, its ACL and
        the fail-safe's record of them) are written by their own stores and still land together."""
        with self._lock:
            cursor = self._conn.cursor()
            if self._depth:
                self._depth += 1
                try:
                    yield cursor
                finally:
                    self._depth -= 1
                return
            cursor.execute("BEGIN IMMEDIATE")
            self._depth = 1
            try:
                yield cursor
            except BaseException:
                cursor.execute("ROLLBACK")
                raise
            finally:
                self._depth = 0
            cursor.execute("COMMIT")

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    # ------------------------------------------------------------------ settings

    def get_setting(self, key: str) -> bytes | None:
        rows = self.query("SELECT value FROM settings WHERE key = ?", (key,))
        return rows[0][0] if rows else None

    def set_setting(self, key: str, value: bytes) -> None:
        with self.transaction() as cursor:
            cursor.execute(
                "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

    def delete_setting(self, key: str) -> None:
        with self.transaction() as cursor:
            cursor.execute("DELETE FROM settings WHERE key = ?", (key,))

    # ------------------------------------------------------------------ counters

    def get_counter(self, name: str) -> int | None:
        rows = self.query("SELECT value FROM counters WHERE name = ?", (name,))
        return rows[0][0] if rows else None

    def set_counter(self, name: str, value: int) -> None:
        with self.transaction() as cursor:
            cursor.execute(
                "INSERT INTO counters (name, value) VALUES (?, ?) "
                "ON CONFLICT(name) DO UPDATE SET value = excluded.value",
                (name, value),
            )

    def delete_counter(self, name: str) -> None:
        with self.transaction() as cursor:
            cursor.execute("DELETE FROM counters WHERE name = ?", (name,))

    def integrity_check(self) -> str:
        return self.query("PRAGMA integrity_check")[0][0]

    def close(self) -> None:
        with self._lock:
            self._conn.close()
