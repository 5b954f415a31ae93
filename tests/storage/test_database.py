"""The state database: migrations, atomic transactions, durability across SIGKILL."""

from __future__ import annotations

import os
import random
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ota_provider.core.storage.counters import PersistentCounter
from ota_provider.core.storage.database import MIGRATIONS, Database, StorageError

REPO = Path(__file__).resolve().parents[2]


def test_new_database_is_migrated_and_uses_wal(tmp_path):
    db = Database.in_directory(tmp_path / "state")
    assert db.schema_version == len(MIGRATIONS)
    assert db.query("PRAGMA journal_mode")[0][0] == "wal"
    tables = {row[0] for row in db.query("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"settings", "fabrics", "counters"} <= tables


def test_settings_and_counters_persist(tmp_path):
    db = Database(tmp_path / "s.db")
    db.set_setting("node/passcode", b"x")
    db.set_setting("node/passcode", b"y")
    db.set_counter("c", 41)
    db.close()
    again = Database(tmp_path / "s.db")
    assert again.get_setting("node/passcode") == b"y"
    assert again.get_counter("c") == 41
    assert again.get_setting("missing") is None


def test_failed_transaction_changes_nothing(tmp_path):
    db = Database(tmp_path / "s.db")
    with pytest.raises(RuntimeError), db.transaction() as cursor:
        cursor.execute("INSERT INTO settings (key, value) VALUES ('a', x'01')")
        raise RuntimeError("crash in the middle")
    assert db.get_setting("a") is None


def test_newer_schema_is_refused_with_a_clear_message(tmp_path):
    db = Database(tmp_path / "s.db")
    db.query(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    db.close()
    with pytest.raises(StorageError, match="newer than this program"):
        Database(tmp_path / "s.db")


def test_damaged_file_is_a_storage_error(tmp_path):
    path = tmp_path / "s.db"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StorageError, match="cannot open"):
        Database(path)


def test_persistent_counter_never_repeats_after_restart(tmp_path):
    db = Database(tmp_path / "s.db")
    counter = PersistentCounter(db, "unencrypted", step=10)
    used = [counter.next() for _ in range(25)]
    # A restart (even a crash mid-block) resumes beyond every value handed out.
    restarted = PersistentCounter(Database(tmp_path / "s.db"), "unencrypted", step=10)
    assert restarted.next() > max(used)
    assert used == list(range(used[0], used[0] + 25))


def test_sigkill_mid_write_loses_nothing_committed(tmp_path):
    path = tmp_path / "kill.db"
    rng = random.Random(4)
    last_committed = 0
    for _ in range(15):
        proc = subprocess.Popen(
            [sys.executable, str(REPO / "tests" / "storage" / "kill_writer.py"), str(path)],
            stdout=subprocess.PIPE,
            text=True,
            cwd=REPO,
        )
        time.sleep(0.3 + rng.random() * 0.3)
        os.kill(proc.pid, signal.SIGKILL)
        output, _ = proc.communicate()
        printed = [int(line) for line in output.split() if line.strip().isdigit()]
        if printed:
            last_committed = max(last_committed, printed[-1])
        db = Database(path)
        assert db.integrity_check() == "ok"
        rows = [n for (n,) in db.query("SELECT n FROM journal ORDER BY n")]
        assert rows == list(range(1, len(rows) + 1))  # no gaps, no half-written row
        assert len(rows) >= last_committed  # everything reported as committed is there
        assert db.get_counter("rows") == len(rows)  # both writes of each transaction, or neither
        db.close()
    assert last_committed > 0


def test_the_database_is_owner_only_even_if_it_existed_readable(tmp_path):
    """It holds operational private keys: 0600 from its creation, and tightened when found looser."""
    fresh = Database(tmp_path / "a" / "state.sqlite3")
    fresh.set_setting("x", b"1")
    assert stat.S_IMODE(os.stat(fresh.path).st_mode) == 0o600
    wal = fresh.path.with_name(fresh.path.name + "-wal")
    assert not wal.exists() or stat.S_IMODE(os.stat(wal).st_mode) == 0o600
    loose = tmp_path / "loose.sqlite3"
    Database(loose).close()
    os.chmod(loose, 0o644)
    Database(loose)
    assert stat.S_IMODE(os.stat(loose).st_mode) == 0o600
