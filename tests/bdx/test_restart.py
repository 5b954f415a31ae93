"""A provider that dies mid-download and comes back from its state database, on the simulated
network with a fake clock: the receiver (written from the spec tables) never notices beyond a
retransmission, and the image arrives whole. The kept session's counter never repeats a value."""

from __future__ import annotations

import random

import pytest

from ota_provider.core.bdx.messages import BdxError
from ota_provider.core.bdx.outcome import Outcome, TransferEnd
from ota_provider.core.bdx.sender import BdxSender, FileSource
from ota_provider.core.bdx.server import BdxServer
from ota_provider.core.codec.protocols import BdxOpcode, ProtocolId
from ota_provider.core.exchange.manager import ExchangeManager
from ota_provider.core.session.secure import AuthMode, SecureSession
from ota_provider.core.storage.database import Database
from ota_provider.core.storage.sessions import SessionStore
from ota_provider.core.storage.transfers import TransferStore
from tests.bdx.receiver import SpecReceiver
from tests.exchange.simnet import SimNet
from tests.helpers.mrp import KEYS
from tests.helpers.samples import SAMPLES
from tests.helpers.transfers import COMPLETE, RESUMED, told

IMAGE = SAMPLES / "sample-fff1-8000-v3.ota"
A, B = ("requestor", 1), ("provider", 2)


def provider_side(net: SimNet, db: Database, events: list) -> tuple[ExchangeManager, BdxServer, SessionStore]:
    """What the node does at start: the kept sessions into the table, the kept transfers into BDX."""
    manager = net.add(B, ExchangeManager(rng=random.Random(7)))
    sessions = SessionStore(db)
    for session in sessions.load():
        manager.add_session(session)
    server = BdxServer(
        lambda _session, _designator: IMAGE,
        clock=net.clock,
        listener=lambda step, t: events.append((told(step, t), t.id)),
        store=TransferStore(db),
    )
    server.restore(server.store.load(), manager.sessions.get)  # type: ignore[union-attr]
    manager.register(ProtocolId.BDX, server)
    net.watch(server)
    return manager, server, sessions


def case_pair(net: SimNet, db: Database, events: list):
    requestor = net.add(A, ExchangeManager(rng=random.Random(3)))
    provider, server, store = provider_side(net, db, events)
    ours = SecureSession(
        22, 11, KEYS, False, AuthMode.CASE, local_node_id=1, peer_node_id=0x1000, fabric_index=1, peer_address=A
    )
    provider.add_session(ours)
    store.keep(ours)
    theirs = SecureSession(
        11, 22, KEYS, True, AuthMode.CASE, local_node_id=0x1000, peer_node_id=1, fabric_index=1, peer_address=B
    )
    requestor.add_session(theirs)
    return requestor, theirs, provider, server, store, ours


def kill_and_restart(net: SimNet, tmp_path, db: Database, events: list, *, requestor_too: bool = False):
    """The provider killed (no goodbye, nothing flushed, its timers gone) and started again on the
    same state: its new manager, BDX server and session store."""
    net.remove(B)
    if requestor_too:
        net.remove(A)
    net.machines.clear()
    db.close()
    db = Database(tmp_path / "state.sqlite3")
    return (db, *provider_side(net, db, events))


def deliver_until(net: SimNet, done) -> None:
    for _ in range(100_000):
        if done():
            return
        net.deliver_all()
    raise AssertionError("never got there")


@pytest.mark.parametrize("lag", [0, 7])  # the checkpoint taken at the crash, or 7 Blocks before it
def test_a_restarted_provider_answers_the_retransmitted_block_query(tmp_path, lag):
    net, events = SimNet(), []
    db = Database(tmp_path / "state.sqlite3")
    requestor, session, provider, server, store, ours = case_pair(net, db, events)
    receiver = SpecReceiver(requestor, session, b"0")
    deliver_until(net, lambda: len(receiver.data) >= 20 * 1024)
    server.checkpoint()
    store.checkpoint([ours])
    deliver_until(net, lambda: len(receiver.data) >= (20 + lag) * 1024)
    sent_before = {int.from_bytes(out.data[4:8], "little") for out in provider.take_outgoing()}  # lost in the crash
    last_counter_before = ours.counter.peek
    events_after: list = []
    db, provider, server, _store = kill_and_restart(net, tmp_path, db, events_after)
    (restored,) = server.transfers.values()
    assert restored.suspended and restored.id == 1
    net.run(until=120, done=lambda: receiver.done)
    assert receiver.done and receiver.status is None
    assert bytes(receiver.data) == IMAGE.read_bytes()
    assert events_after[0] == (RESUMED, 1) and events_after[-1] == (COMPLETE, 1)
    (kept,) = provider.sessions
    assert kept.counter.peek > last_counter_before  # past the reservation: no counter value sent twice
    assert not sent_before & set(range(last_counter_before, kept.counter.peek))
    assert TransferStore(db).load() == []  # the finished transfer leaves no row


def test_a_new_receive_init_with_a_start_offset_continues_the_restored_transfer(tmp_path):
    # The requestor's retransmissions ran out while we were down: it opens a new exchange and asks
    # for the rest. Still one transfer, with its number.
    net, events = SimNet(), []
    db = Database(tmp_path / "state.sqlite3")
    requestor, session, _provider, server, store, ours = case_pair(net, db, events)
    first = SpecReceiver(requestor, session, b"0")
    deliver_until(net, lambda: len(first.data) >= 8 * 1024)
    server.checkpoint()
    store.checkpoint([ours])
    events_after: list = []
    db, _provider, server, _store = kill_and_restart(net, tmp_path, db, events_after)
    requestor.drop_session(session)  # its exchange gave up; the session itself is kept below
    requestor.take_outgoing()
    requestor.add_session(session)
    rest = SpecReceiver(requestor, session, b"0", start_offset=len(first.data))
    net.run(until=120, done=lambda: rest.done)
    assert bytes(first.data) + bytes(rest.data) == IMAGE.read_bytes()
    assert events_after == [(RESUMED, 1), (COMPLETE, 1)]
    assert server.transfers == {} and TransferStore(db).load() == []


def test_a_transfer_nobody_takes_up_after_the_restart_fails_with_a_reason(tmp_path):
    net, events = SimNet(), []
    db = Database(tmp_path / "state.sqlite3")
    requestor, session, _provider, server, _store, _ours = case_pair(net, db, events)
    receiver = SpecReceiver(requestor, session, b"0")
    deliver_until(net, lambda: len(receiver.data) >= 4096)
    server.checkpoint()
    ended: list = []
    db, _provider, server, _store = kill_and_restart(net, tmp_path, db, ended, requestor_too=True)  # never back
    server.listener = lambda step, t: ended.append((told(step, t), t.end))
    net.run(until=400)
    assert ended[-1] == (Outcome.NOT_RESUMED, TransferEnd(Outcome.NOT_RESUMED, seconds=300.0))
    assert TransferStore(db).load() == []


def test_a_restored_sender_rejoins_where_the_query_says_and_refuses_the_impossible():
    source = FileSource(IMAGE)
    size = source.size

    def restored(counter=10, offset=10 * 1024):
        return BdxSender.restored(
            FileSource(IMAGE), block_size=1024, start_offset=0, end_offset=size, next_counter=counter, offset=offset
        )

    query = lambda n: n.to_bytes(4, "little")  # noqa: E731
    opcode, block = restored().on_message(BdxOpcode.BLOCK_QUERY, query(9))  # the one being answered at the crash
    assert opcode == BdxOpcode.BLOCK and block[4:] == IMAGE.read_bytes()[9 * 1024 : 10 * 1024]
    _, block = restored().on_message(BdxOpcode.BLOCK_QUERY, query(14))  # the checkpoint lagged four Blocks
    assert block[4:] == IMAGE.read_bytes()[14 * 1024 : 15 * 1024]
    with pytest.raises(BdxError, match="after the restart"):
        restored().on_message(BdxOpcode.BLOCK_QUERY, query(8))
    with pytest.raises(BdxError, match="after the restart"):
        restored().on_message(BdxOpcode.BLOCK_QUERY, query(size // 1024 + 5))
    last = -(-size // 1024) - 1
    finished = restored()
    assert finished.on_message(BdxOpcode.BLOCK_ACK_EOF, query(last)) is None  # BlockEOF went out before the crash
    assert finished.state.name == "DONE"
    with pytest.raises(BdxError, match="checkpoint does not fit"):
        BdxSender.restored(source, block_size=1024, start_offset=0, end_offset=size + 1, next_counter=0, offset=0)
