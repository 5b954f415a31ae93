"""Session table: least-recently-used eviction and sessions tied to their fabric."""

from __future__ import annotations

from ota_provider.core.codec.message import MessageHeader
from ota_provider.core.session.secure import AuthMode, SecureSession, SessionKeys
from ota_provider.core.session.table import SessionTable
from ota_provider.core.session.unsecured import UnsecuredSessions

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


def test_a_full_unsecured_table_frees_the_oldest_session_if_idle_else_the_oldest_handshake():
    evicted = []
    sessions = UnsecuredSessions(max_sessions=3, on_evict=evicted.append)

    def sigma1_from(node_id: int):
        return sessions.for_incoming(MessageHeader(message_counter=1, source_node_id=node_id), ("::1", 5000))

    first, second, third = sigma1_from(1), sigma1_from(2), sigma1_from(3)
    second.open_exchanges = third.open_exchanges = 1  # handshakes in progress; the first one is over
    fourth = sigma1_from(4)
    assert fourth is not None and sessions.evicted_handshakes == 0 and evicted == []  # the idle first went
    fourth.open_exchanges = 1
    assert sigma1_from(2) is second  # active again: the third is now the least recently active
    fifth = sigma1_from(5)
    assert fifth is not None and evicted == [third] and sessions.evicted_handshakes == 1
    assert sigma1_from(2) is second and sigma1_from(4) is fourth  # the others are untouched
    assert first not in (second, fourth, fifth)


def test_sessions_we_opened_ourselves_are_never_evicted_for_a_peers_handshake():
    sessions = UnsecuredSessions(max_sessions=2)
    ours = [sessions.new_initiator(("::1", 5540)) for _ in range(2)]
    for session in ours:
        session.open_exchanges = 1
    stranger = sessions.for_incoming(MessageHeader(message_counter=1, source_node_id=9), ("::1", 5000))
    assert stranger is None and sessions.refused == 1 and len(sessions) == 2


def test_a_full_table_evicts_the_handshakes_of_the_host_holding_the_most_not_the_newcomers():
    evicted = []
    sessions = UnsecuredSessions(max_sessions=4, on_evict=evicted.append)

    def sigma1(node_id: int, host: str):
        session = sessions.for_incoming(MessageHeader(message_counter=1, source_node_id=node_id), (host, 5000))
        session.open_exchanges = 1
        return session

    requestor = sigma1(1, "requestor")  # the oldest of all, but its host holds one session
    flood = [sigma1(10 + n, "attacker") for n in range(3)]
    for n in range(20):  # the flood goes on: only its own handshakes make room
        sigma1(100 + n, "attacker")
    assert requestor not in evicted and flood[0] in evicted and len(evicted) == 20
    assert sessions.for_incoming(MessageHeader(message_counter=2, source_node_id=1), ("requestor", 5000)) is requestor
