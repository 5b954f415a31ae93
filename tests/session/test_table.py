"""Session table: least-recently-used eviction and sessions tied to their fabric."""

from __future__ import annotations

from ota_provider.core.codec.message import MessageHeader
from ota_provider.core.session.secure import AuthMode, SecureSession, SessionKeys
from ota_provider.core.session.table import SessionTable
from ota_provider.core.session.unsecured import STALE_SECONDS, UnsecuredSessions

KEYS = SessionKeys(bytes(16), bytes(16), bytes(16))


def session(table: SessionTable, fabric_index: int = 0) -> SecureSession:
    return SecureSession(table.allocate_id(), 1, KEYS, False, AuthMode.CASE, fabric_index=fabric_index)


def test_allocated_ids_are_unique_and_non_zero():
    table = SessionTable()
    ids = {table.allocate_id() for _ in range(2000)}
    assert len(ids) == 2000 and 0 not in ids


def test_least_recently_used_session_is_evicted_when_full():
    table = SessionTable(max_sessions=2)
    a, b, c = session(table), session(table), session(table)
    assert table.add(a) == [] and table.add(b) == []
    table.get(a.local_session_id)  # a is now the most recently used
    assert table.add(c) == [b]
    assert table.get(b.local_session_id) is None
    assert {s.local_session_id for s in table} == {a.local_session_id, c.local_session_id}
    assert table.evicted == 1


def test_removing_a_fabric_drops_its_sessions():
    table = SessionTable()
    on_one = [session(table, 1), session(table, 1)]
    on_two = session(table, 2)
    for s in [*on_one, on_two]:
        table.add(s)
    assert set(map(id, table.remove_fabric(1))) == set(map(id, on_one))
    assert list(table) == [on_two]


def test_a_session_with_an_open_exchange_is_evicted_last():
    busy: set[int] = set()
    table = SessionTable(max_sessions=2, in_use=lambda s: s.local_session_id in busy)
    a, b, c = session(table), session(table), session(table)
    table.add(a)
    table.add(b)
    busy.add(a.local_session_id)  # a carries a transfer; b is idle though more recent
    assert table.add(c) == [b]
    busy.update({a.local_session_id, c.local_session_id})
    d = session(table)
    assert table.add(d) == [a]  # every session busy: the least recently used goes


def test_an_idle_older_session_of_the_same_peer_goes_first():
    table = SessionTable(max_sessions=3)
    lone = SecureSession(table.allocate_id(), 1, KEYS, False, AuthMode.CASE, peer_node_id=7, fabric_index=1)
    old = SecureSession(table.allocate_id(), 1, KEYS, False, AuthMode.CASE, peer_node_id=8, fabric_index=1)
    new = SecureSession(table.allocate_id(), 1, KEYS, False, AuthMode.CASE, peer_node_id=8, fabric_index=1)
    for s in (lone, old, new):
        table.add(s)
    assert table.add(session(table)) == [old]


def _sigma1(sessions, node_id: int, host: str = "::1", now: float = 0.0):
    return sessions.for_incoming(MessageHeader(message_counter=1, source_node_id=node_id), (host, 5000), now)


def test_a_full_table_makes_room_from_idle_or_stale_sessions_never_a_handshake_making_progress():
    evicted = []
    sessions = UnsecuredSessions(max_sessions=4, on_evict=evicted.append)
    sessions.max_per_host = 4  # the table's own bound, not a host's share, is what this is about
    first, second = _sigma1(sessions, 1, "a"), _sigma1(sessions, 2, "a")
    third, fourth = _sigma1(sessions, 3, "b"), _sigma1(sessions, 4, "b")
    for session in (first, second, third, fourth):
        session.open_exchanges = 1
    second.open_exchanges = 0  # its handshake is over
    assert _sigma1(sessions, 5, "c", now=1.0) is not None and second not in sessions._sessions.values()
    assert evicted == []  # an idle session made room: nothing failed
    sessions._sessions[next(iter(sessions._sessions))].open_exchanges = 1
    assert _sigma1(sessions, 6, "c", now=2.0) is None and sessions.refused == 1  # all making progress: refused
    assert _sigma1(sessions, 6, "c", now=0.0 + STALE_SECONDS + 0.1) is not None  # the first went stale
    assert evicted == [third] and sessions.evicted_handshakes == 1  # of "b", the host holding the most


def test_one_host_holds_at_most_a_quarter_of_the_table_and_makes_room_only_from_its_own():
    evicted = []
    sessions = UnsecuredSessions(max_sessions=16, on_evict=evicted.append)
    requestor = _sigma1(sessions, 1, "requestor")
    requestor.open_exchanges = 1
    flood = [_sigma1(sessions, 10 + n, "attacker") for n in range(4)]
    for session in flood:
        session.open_exchanges = 1
    assert _sigma1(sessions, 99, "attacker", now=1.0) is None  # at its share, all fresh: refused
    assert _sigma1(sessions, 99, "attacker", now=STALE_SECONDS + 1) is not None  # its own oldest went stale
    assert evicted == [flood[0]] and requestor in sessions._sessions.values()
    others = [_sigma1(sessions, 200 + n, "other", now=STALE_SECONDS + 1) for n in range(4)]
    assert all(s is not None for s in others)  # the rest of the table is the others'


def test_sessions_we_opened_ourselves_are_never_evicted_for_a_peers_handshake():
    sessions = UnsecuredSessions(max_sessions=2)
    ours = [sessions.new_initiator(("::1", 5540)) for _ in range(2)]
    for session in ours:
        session.open_exchanges = 1
    stranger = sessions.for_incoming(MessageHeader(message_counter=1, source_node_id=9), ("::1", 5000))
    assert stranger is None and sessions.refused == 1 and len(sessions) == 2


def test_a_handshake_waiting_for_our_work_is_never_stale():
    sessions = UnsecuredSessions(max_sessions=16)
    waiting = _sigma1(sessions, 1, "requestor")
    waiting.open_exchanges = waiting.awaiting_us = 1  # its Sigma1 is queued for our public-key work
    for n in range(3):
        _sigma1(sessions, 10 + n, "requestor").open_exchanges = 1
    assert _sigma1(sessions, 99, "requestor", now=STALE_SECONDS * 10) is not None  # another, stale one made room
    assert waiting in sessions._sessions.values()
