"""The update history stays bounded and readable: a looping requestor's repeats share a row, the
oldest rows go past the cap, a listing reads only what it shows, one damaged row is shown as such,
and a storage error is said once and never stops an answer."""

from __future__ import annotations

import json
import sqlite3
import stat
import subprocess
import sys

from ota_provider.core.event_base import EngineError
from ota_provider.core.node_ids import Peer
from ota_provider.core.ota.history import PRUNE_EVERY, UpdateHistory
from ota_provider.core.ota.offer_store import OfferStore
from ota_provider.core.ota.types import QueryImageStatus
from ota_provider.core.storage.database import Database
from tests.helpers.provider_model import A, provider, query

PEER = Peer(1, 0xD001)


def test_a_requestor_asking_the_same_question_in_a_loop_gets_one_row_with_a_count(tmp_path):
    history = UpdateHistory(Database(tmp_path / "state.db"))
    for n in range(1000):  # the same answer each time, with a new token in every one
        history.record("query", PEER, "NotAvailable: up to date", {"status": "NOT_AVAILABLE", "updateToken": str(n)})
    history.record("query", PEER, "UpdateAvailable: v3", {"status": "UPDATE_AVAILABLE"})
    history.record("query", Peer(1, 0xD002), "NotAvailable: up to date", {"status": "NOT_AVAILABLE"})
    rows = history.rows()
    assert [(r.node_id, r.summary) for r in rows] == [
        (0xD001, "NotAvailable: up to date"),
        (0xD001, "UpdateAvailable: v3"),
        (0xD002, "NotAvailable: up to date"),
    ]
    assert rows[0].details["repeated"] == 1000 and rows[0].details["lastTime"].endswith("Z")


def test_past_the_cap_the_oldest_rows_go_and_a_listing_reads_only_the_rows_asked_for(tmp_path):
    history = UpdateHistory(Database(tmp_path / "state.db"), max_rows=1000)
    for n in range(5000):
        history.record("transfer", PEER, f"#{n} complete", {"transfer": n})
    kept = history.db.query("SELECT count(*) FROM history")[0][0]
    assert 1000 <= kept <= 1000 + PRUNE_EVERY
    last = history.rows(limit=3)
    assert [r.details["transfer"] for r in last] == [4997, 4998, 4999]
    statements = []
    history.db._conn.set_trace_callback(statements.append)
    history.rows(limit=3)
    assert any("LIMIT" in s for s in statements)


def test_one_damaged_row_is_shown_as_it_is_stored_and_the_listing_goes_on(tmp_path):
    db = Database(tmp_path / "state.db")
    history = UpdateHistory(db)
    history.record("transfer", PEER, "#1 complete", {"transfer": 1})
    with db.transaction() as cursor:
        cursor.execute(
            "INSERT INTO history (time, kind, fabric_index, node_id, summary, details) "
            "VALUES (0, 'transfer', 1, 1, '#2', '{not json')"
        )
    rows = history.rows()
    assert rows[0].details == {"transfer": 1} and rows[1].details == {"unreadable": "{not json"}


def test_the_history_command_reads_without_writing_and_survives_a_damaged_row(tmp_path):
    state = tmp_path / "state"
    db = Database.in_directory(state)
    UpdateHistory(db).record("transfer", PEER, "#1 complete", {"transfer": 1})
    with db.transaction() as cursor:
        cursor.execute(
            "INSERT INTO history (time, kind, fabric_index, node_id, summary, details) "
            "VALUES (0, 'transfer', 1, 1, '#2', 'garbage')"
        )
    db.close()
    database = state / "ota-provider.sqlite3"
    database.chmod(0o640)  # as a copy handed over might be
    before = database.read_bytes()
    result = subprocess.run(
        [sys.executable, "-m", "ota_provider.core.cli", "history", "--storage", str(state), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["summary"] for r in rows] == ["#1 complete", "#2"] and rows[1]["details"] == {"unreadable": "garbage"}
    assert stat.S_IMODE(database.stat().st_mode) == 0o640 and database.read_bytes() == before


def test_a_full_disk_skips_history_rows_says_so_once_and_comes_back(tmp_path, monkeypatch):
    db = Database(tmp_path / "state.db")
    said = []
    history = UpdateHistory(db, on_error=said.append)
    real = Database.transaction

    def full(self):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(Database, "transaction", full)
    for n in range(5):
        history.record("transfer", PEER, f"#{n}", {})
    assert len(said) == 1 and "database or disk is full" in said[0] and history.skipped == 5
    monkeypatch.setattr(Database, "transaction", real)
    history.record("transfer", PEER, "#5", {})
    assert [r.summary for r in history.rows()] == ["#5"] and not history.failing


def test_a_full_disk_still_answers_every_query_and_says_so_once(tmp_path, monkeypatch):
    emitted = []
    p = provider(store=OfferStore(Database(tmp_path / "state.db")), emit=emitted.append)

    def full(self, record):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(OfferStore, "save", full)
    answers = [p.query_image(A, 1, query(1)) for _ in range(3)]
    assert all(a.status == QueryImageStatus.UPDATE_AVAILABLE for a in answers)
    errors = [e for e in emitted if isinstance(e, EngineError)]
    assert len(errors) == 1 and "database or disk is full" in errors[0].message
