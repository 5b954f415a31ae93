"""Kept CASE sessions: what survives a restart, and what a restart may never repeat."""

from __future__ import annotations

from ota_provider.core.session.secure import AuthMode, SecureSession, SessionKeys, SessionParameters
from ota_provider.core.storage.database import Database
from ota_provider.core.storage.sessions import COUNTER_STEP, SessionStore

KEYS = SessionKeys(bytes(range(16)), bytes(range(16, 32)), bytes(range(32, 48)))


def case_session(local_id=5, mode=AuthMode.CASE):
    return SecureSession(
        local_id,
        900,
        KEYS,
        False,
        mode,
        local_node_id=1,
        peer_node_id=0xD001,
        fabric_index=2,
        peer_cats=(0x00010001,),
        peer_parameters=SessionParameters(800, 400, 5000),
        peer_address=("fd00::7", 5541, 0, 0),
    )


def test_a_kept_session_comes_back_whole_and_never_reuses_a_counter(tmp_path):
    db = Database(tmp_path / "db.sqlite3")
    session = case_session()
    SessionStore(db).keep(session)
    sent = [session.counter.next() for _ in range(10)]
    assert session.window.accept(1_000) and session.window.accept(1_001)
    SessionStore(db).checkpoint([session])  # a fresh store knows nothing kept: nothing written
    store = SessionStore(db)
    (restored,) = store.load()
    assert (restored.local_session_id, restored.peer_session_id, restored.keys, restored.auth_mode) == (
        5,
        900,
        KEYS,
        AuthMode.CASE,
    )
    assert (restored.peer_node_id, restored.fabric_index, restored.peer_cats) == (0xD001, 2, (0x00010001,))
    assert restored.peer_parameters == SessionParameters(800, 400, 5000)
    assert restored.peer_address == ("fd00::7", 5541, 0, 0)
    assert restored.local_parameters is None  # the defaults were advertised
    assert restored.counter.peek >= sent[-1] + 1 and restored.counter.peek >= sent[0] + COUNTER_STEP


def test_the_peer_checkpoint_lets_the_message_being_answered_in_again(tmp_path):
    db = Database(tmp_path / "db.sqlite3")
    store = SessionStore(db)
    session = case_session()
    store.keep(session)
    for counter in (100, 101, 102):
        session.window.accept(counter)
    assert store.checkpoint([session]) == 1 and store.checkpoint([session]) == 0  # only what moved is written
    (restored,) = SessionStore(db).load()
    assert restored.window.accept(102)  # a BlockQuery retransmitted after the restart: taken
    assert not restored.window.accept(101)  # before the checkpoint: still a replay
    assert not restored.window.accept(102)


def test_pase_sessions_are_not_kept_and_forgotten_ones_leave_nothing(tmp_path):
    db = Database(tmp_path / "db.sqlite3")
    store = SessionStore(db)
    store.keep(case_session(1, AuthMode.PASE))
    kept = case_session(2)
    store.keep(kept)
    store.forget(kept)
    assert SessionStore(db).load() == []
    assert db.query("SELECT count(*) FROM counters WHERE name LIKE 'session %'") == [(0,)]


def test_a_damaged_row_costs_that_session_only(tmp_path):
    db = Database(tmp_path / "db.sqlite3")
    store = SessionStore(db)
    store.keep(case_session(1))
    store.keep(case_session(2))
    with db.transaction() as cursor:
        cursor.execute("UPDATE sessions SET auth_mode = 77 WHERE local_session_id = 1")
    assert [s.local_session_id for s in SessionStore(db).load()] == [2]


def test_the_parameters_we_advertised_come_back_with_the_session(tmp_path):
    """The peer keeps retransmitting on the interval it was given; a restart must keep to it."""
    db = Database(tmp_path / "db.sqlite3")
    session = case_session()
    session.local_parameters = SessionParameters(500, 100, 4000)
    SessionStore(db).keep(session)
    (restored,) = SessionStore(db).load()
    assert restored.local_parameters == SessionParameters(500, 100, 4000)
