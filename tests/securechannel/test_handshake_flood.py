"""Handshakes from peers with no credentials against a whole node on the fake clock: 512 of them
left unfinished (a Sigma1 asking for hour-long retransmission intervals, a PBKDFParamRequest whose
answer is acknowledged and never followed by Pake1) no longer lock out new PASE and CASE; a flood
from one host waits behind nobody else's handshake; every handshake step has a deadline; and a
handler error in queued work never escapes the node's poll."""

from __future__ import annotations

import asyncio

from benchmarks.handshake_flood import datagram as _datagram
from benchmarks.handshake_flood import pbkdf_request as _pbkdf_request
from benchmarks.handshake_flood import sigma1 as _sigma1
from ota_provider.core.client.requestor import OtaRequestorClient
from ota_provider.core.codec.message import MessageHeader, PayloadHeader
from ota_provider.core.codec.protocols import SecureChannelOpcode
from ota_provider.core.exchange.driver import ExchangeDriver
from ota_provider.core.exchange.manager import HANDSHAKE_STEP_SECONDS, ExchangeManager
from ota_provider.core.fabric.demo import DEMO_FABRIC_FILE, DemoFabric
from ota_provider.core.securechannel.case_initiator import CaseInitiator
from ota_provider.core.securechannel.pase_initiator import PaseInitiator
from ota_provider.core.session.unsecured import DEFAULT_MAX_UNSECURED_SESSIONS, STALE_SECONDS
from tests.helpers.engine_helpers import start_engine
from tests.helpers.sim_bench import PROVIDER, SimBench


def _flood(bench: SimBench, make, count: int, *, ack_answers: bool = False) -> None:
    """``count`` handshakes from four hosts, each from a new ephemeral node id; with ``ack_answers``
    the node's answer to each is acknowledged (so only a deadline can end the handshake)."""
    manager = bench.node.manager
    for n in range(count):
        manager.receive(make(1000 + n), (f"attacker-{n % 4}", 40000), bench.net.now)
    bench.net.run(until=bench.net.now + 0.5)
    if ack_answers:
        for out in manager.take_outgoing():
            header, offset = MessageHeader.decode(out.data)
            answer, _ = PayloadHeader.decode(out.data[offset:])
            if answer.needs_ack:
                ack = _datagram(
                    header.destination_node_id,
                    SecureChannelOpcode.STANDALONE_ACK,
                    b"",
                    counter=2,
                    exchange_id=answer.exchange_id,
                    ack=header.message_counter,
                )
                manager.receive(ack, out.address, bench.net.now)
    else:
        manager.take_outgoing()  # lost: the attacker never answers


def _handshake(bench: SimBench, make, within: float = 30.0):
    """Run the initiator ``make()`` builds, trying again after a Busy answer's wait (as
    establish_case does): the last attempt, and when it ended on the fake clock."""
    started = bench.net.now
    while True:
        initiator = make()
        initiator.start(PROVIDER)
        bench.net.run(until=started + within, done=lambda i=initiator: i.result is not None or i.error is not None)
        if initiator.busy_wait is None or bench.net.now >= started + within:
            return initiator, bench.net.now - started
        resume = bench.net.now + initiator.busy_wait
        bench.net.run(until=resume)
        bench.net.now = max(bench.net.now, resume)


def _case(bench: SimBench, node_id: int = 0xD001) -> CaseInitiator:
    client = bench.net.add(("requestor", 5540 + node_id % 1000), ExchangeManager(clock=bench.net.clock))
    initiator, _ = _handshake(
        bench, lambda: CaseInitiator(client, bench.demo.fabric_for(node_id), bench.demo.provider_node_id)
    )
    return initiator


def _pase(bench: SimBench) -> PaseInitiator:
    client = bench.net.add(("commissioner", 5540), ExchangeManager(clock=bench.net.clock))
    initiator, _ = _handshake(bench, lambda: PaseInitiator(client, 20202021))
    return initiator


def test_512_unfinished_sigma1s_asking_for_54_day_retransmissions_do_not_lock_out_case(tmp_path):
    bench = SimBench.open(tmp_path)
    _flood(bench, _sigma1, DEFAULT_MAX_UNSECURED_SESSIONS)
    busy = [s for s in bench.node.manager.unsecured._sessions.values() if s.open_exchanges]
    assert len(busy) == DEFAULT_MAX_UNSECURED_SESSIONS  # every one waits for the ack of its StatusReport
    assert all(s.peer_parameters.idle_interval_ms == 3_600_000 for s in busy)  # capped at the spec's hour
    for attempt in range(3):  # at once (after Busy until a flood handshake goes stale), and later
        started = bench.net.now
        initiator = _case(bench, 0xD001 + attempt)
        assert initiator.error is None and initiator.result is not None, initiator.error
        assert bench.net.now - started < STALE_SECONDS + 2
        bench.net.run(until=bench.net.now + 30)
    assert bench.node.manager.unsecured.evicted_handshakes >= 1


def test_512_pbkdf_requests_acknowledged_and_never_followed_by_pake1_do_not_lock_out_pase(tmp_path):
    bench = SimBench.open(tmp_path)
    bench.node.windows.open_commissioning_window()
    _flood(bench, _pbkdf_request, DEFAULT_MAX_UNSECURED_SESSIONS, ack_answers=True)
    manager = bench.node.manager
    assert sum(1 for s in manager.unsecured._sessions.values() if s.open_exchanges) == DEFAULT_MAX_UNSECURED_SESSIONS
    initiator = _pase(bench)
    assert initiator.error is None and initiator.result is not None, initiator.error
    bench.net.run(until=bench.net.now + HANDSHAKE_STEP_SECONDS + 1)  # every abandoned step meets its deadline
    assert not any(s.open_exchanges for s in manager.unsecured._sessions.values())
    assert manager.drops["handshake timed out"] >= DEFAULT_MAX_UNSECURED_SESSIONS - 1
    assert not manager.sessions._reserved  # the session ids they reserved are free again
    assert _case(bench).result is not None


def test_a_flood_from_one_host_does_not_queue_ahead_of_another_hosts_handshake(tmp_path):
    bench = SimBench.open(tmp_path, latency=0.0)
    manager = bench.node.manager
    for n in range(300):  # 300 Sigma1s queued for public-key work before anyone else's
        manager.receive(_sigma1(1000 + n), ("attacker", 40000), bench.net.now)
    queued = len(bench.node.work._slow)
    assert queued == 128  # the rest were answered Busy at once: one host holds a quarter of the sessions
    assert bench.node.case.busy + manager.busy_without_state == 300 - queued
    client = bench.net.add(("requestor", 5541), ExchangeManager(clock=bench.net.clock))
    initiator = CaseInitiator(client, bench.demo.fabric_for(0xD001), bench.demo.provider_node_id)
    initiator.start(PROVIDER)
    pieces = 0
    while initiator.result is None and initiator.error is None:
        assert pieces < 10, "the requestor's handshake waited behind the flood"
        while bench.net.deliver_all():
            pass
        bench.node.poll(bench.net.now)  # one piece of public-key work per poll
        pieces += 1
    assert initiator.error is None and len(bench.node.work._slow) > 100  # the flood still waits its turn


def test_a_handler_error_in_queued_work_is_counted_and_the_rest_of_the_poll_runs(tmp_path):
    bench = SimBench.open(tmp_path)
    ran = []

    def broken() -> None:
        raise RuntimeError("a bug in a handler")

    bench.node.call_soon(broken)
    bench.node.call_soon(lambda: ran.append("after"))
    bench.node.work.defer_slow("somewhere", broken)
    bench.node.poll(bench.net.now)
    assert ran == ["after"] and bench.node.manager.drops["handler error"] == 2


def test_requestors_answered_busy_try_again_after_the_wait_and_all_get_in(tmp_path):
    """Past its host's share of the handshake queue a Sigma1 is answered Busy with a wait; our
    initiator (as the SDK's session setup) tries again after it, so a crowd from one host is served
    in turn instead of refused. A Sigma3 is never refused: its handshake is half done."""
    engine = start_engine(tmp_path / "state")
    engine.node.work._slow.max_per_source = 2  # a small share, so that ten at once meet it
    demo = DemoFabric.load(tmp_path / "state" / DEMO_FABRIC_FILE)

    async def crowd() -> list[bool]:
        drivers = [await ExchangeDriver.open(ExchangeManager(), port=0, host="::1") for _ in range(10)]
        clients = [
            OtaRequestorClient(driver, demo.fabric_for(0xD000 + n), demo.provider_node_id, ("::1", engine.port, 0, 0))
            for n, driver in enumerate(drivers)
        ]
        try:
            await asyncio.gather(*(client.connect(timeout=30) for client in clients))
            return [client.session is not None for client in clients]
        finally:
            for driver in drivers:
                driver.close()

    try:
        assert all(asyncio.run(crowd()))
        assert engine.node.case.busy > 0  # some were told to wait, and got in after
    finally:
        engine.stop()
