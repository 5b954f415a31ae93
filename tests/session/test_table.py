"""Session table: least-recently-used eviction and sessions tied to their fabric."""

from __future__ import annotations

from ota_provider.core.session.secure import AuthMode, SecureSession, SessionKeys
from ota_provider.core.session.table import SessionTable

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
