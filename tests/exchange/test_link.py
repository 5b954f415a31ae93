"""Round trips per peer, and the MRP active interval a handshake advertises from them."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ota_provider.core.exchange.echo import ECHO_PROTOCOL, ECHO_REQUEST, EchoServer
from ota_provider.core.exchange.link import FLOOR_MS, STALE_SECONDS, LinkEstimates
from ota_provider.core.session.secure import SessionParameters
from tests.helpers.mrp import B, Collector, paired

CONFIGURED = SessionParameters(idle_interval_ms=500, active_interval_ms=300, active_threshold_ms=4000)
PEER = ("fd00::7", 5540)


def test_an_unknown_peer_gets_the_configured_parameters():
    links = LinkEstimates()
    assert links.parameters_for(PEER, CONFIGURED, now=0.0) == CONFIGURED
    links.sample(PEER, 0.002, now=0.0)
    links.sample(PEER, 0.002, now=0.1)
    assert links.parameters_for(PEER, CONFIGURED, now=0.2) == CONFIGURED  # two round trips say little


def test_a_fast_link_gets_the_floor_and_only_the_active_interval_changes():
    links = LinkEstimates()
    for i in range(5):
        links.sample(PEER, 0.002, now=i)
    advertised = links.parameters_for(PEER, CONFIGURED, now=5)
    assert advertised == dataclasses.replace(CONFIGURED, active_interval_ms=FLOOR_MS)
    assert links.parameters_for(("fd00::8", 5540), CONFIGURED, now=5) == CONFIGURED  # per peer


def test_the_interval_covers_the_round_trip_with_rfc6298s_margin():
    links = LinkEstimates()
    for i, rtt in enumerate([0.120, 0.160, 0.140, 0.150, 0.130]):
        links.sample(PEER, rtt, now=i)
    estimate = links.get(PEER, now=5)
    advertised = links.parameters_for(PEER, CONFIGURED, now=5).active_interval_ms
    # the peer's first retransmission comes after at least 1.1 x the interval: after srtt + 4 rttvar
    assert 1.1 * advertised >= (estimate.srtt + 4 * estimate.rttvar) * 1000
    assert FLOOR_MS < advertised < CONFIGURED.active_interval_ms


def test_a_slow_link_never_gets_more_than_the_configured_interval():
    links = LinkEstimates()
    for i in range(5):
        links.sample(PEER, 0.9, now=i)
    assert links.parameters_for(PEER, CONFIGURED, now=5) == CONFIGURED


def test_a_configured_interval_below_the_floor_is_kept():
    links = LinkEstimates()
    for i in range(5):
        links.sample(PEER, 0.001, now=i)
    fast = dataclasses.replace(CONFIGURED, active_interval_ms=40)
    assert links.parameters_for(PEER, fast, now=5) == fast


def test_an_old_estimate_is_forgotten_and_adaptation_can_be_off():
    links = LinkEstimates()
    for i in range(5):
        links.sample(PEER, 0.002, now=i)
    assert links.parameters_for(PEER, CONFIGURED, now=4 + STALE_SECONDS + 1) == CONFIGURED
    fixed = LinkEstimates(adaptive=False)
    for i in range(5):
        fixed.sample(PEER, 0.002, now=i)
    assert fixed.parameters_for(PEER, CONFIGURED, now=5) == CONFIGURED


@given(st.lists(st.floats(min_value=0.0, max_value=30.0), min_size=1, max_size=50))
def test_any_round_trips_give_an_interval_within_bounds(rtts):
    links = LinkEstimates()
    for i, rtt in enumerate(rtts):
        links.sample(PEER, rtt, now=float(i))
    active = links.parameters_for(PEER, CONFIGURED, now=float(len(rtts))).active_interval_ms
    assert FLOOR_MS <= active <= CONFIGURED.active_interval_ms


def test_the_manager_samples_acknowledged_first_transmissions_only():
    """Karn's rule: a message sent again gives no sample (which copy was acknowledged?)."""
    net, a, b, sa, _ = paired(loss=0.0)
    net.latency = 0.010
    b.register(ECHO_PROTOCOL, EchoServer())
    for _ in range(4):
        a.poll(net.now)  # sans-IO: the manager's time is what it was last given
        a.new_exchange(sa, ECHO_PROTOCOL, Collector()).send(ECHO_REQUEST, b"ping")
        net.run()
    estimate = a.links.get(B, now=net.now)
    assert estimate.samples == 4 and estimate.srtt == pytest.approx(0.020, abs=1e-6)

    lossy, c, d, sc, _ = paired(loss=0.5, seed=3)
    d.register(ECHO_PROTOCOL, EchoServer())
    for _ in range(20):
        c.new_exchange(sc, ECHO_PROTOCOL, Collector()).send(ECHO_REQUEST, b"ping")
        lossy.run(until=lossy.now + 60)
    sampled = c.links.get(B, now=lossy.now)
    assert c.retransmissions > 0
    assert sampled is None or sampled.samples < 20  # never one per transmission


@pytest.mark.parametrize("told_the_peer", [True, False])
def test_acks_wait_less_than_half_the_interval_advertised_on_the_session(told_the_peer):
    """A peer given a 100 ms active interval retransmits after 110 ms: our standalone ack must be out
    before that, though the spec would let it wait 200 ms for a message to ride on. (Without what the
    session advertised, the ack waits the 200 ms and the peer sends its message again.)"""
    net, a, b, sa, sb = paired()
    fast = dataclasses.replace(CONFIGURED, active_interval_ms=100)
    sa.peer_parameters = fast
    if told_the_peer:
        sb.local_parameters = fast

    class Silent(Collector):
        def on_message(self, exchange, message):
            self.messages.append(message.payload)  # no answer: only an ack can go back

    class Handler:
        def on_unsolicited(self, exchange, message):
            return Silent()

    b.register(ECHO_PROTOCOL, Handler())
    a.new_exchange(sa, ECHO_PROTOCOL, Collector()).send(ECHO_REQUEST, b"ping")
    net.run(until=net.now + 0.3)
    assert (a.retransmissions == 0) is told_the_peer


def test_the_table_is_bounded_and_keeps_the_peers_heard_last(monkeypatch):
    monkeypatch.setattr("ota_provider.core.exchange.link.MAX_PEERS", 20)
    links = LinkEstimates()
    for n in range(50):
        links.sample(("fd00::1", 6000 + n), 0.01, now=float(n))
    assert links.get(("fd00::1", 6049), now=50.0) is not None
    assert links.get(("fd00::1", 6000), now=50.0) is None
    assert sum(links.get(("fd00::1", 6000 + n), now=50.0) is not None for n in range(50)) <= 20


def test_our_own_lateness_widens_the_interval_for_a_while():
    """A crowd keeping our event loop busy makes us slow to answer whatever the peer's link."""
    links = LinkEstimates()
    for i in range(5):
        links.sample(PEER, 0.002, now=i)
    links.note_lag(0.080, now=5)
    busy = links.parameters_for(PEER, CONFIGURED, now=6).active_interval_ms
    assert 1.1 * busy >= 2 * 80 and busy <= CONFIGURED.active_interval_ms
    links.note_lag(0.001, now=7)  # a smaller lag does not hide the worse one
    assert links.parameters_for(PEER, CONFIGURED, now=8).active_interval_ms == busy
    assert links.parameters_for(PEER, CONFIGURED, now=5 + 31).active_interval_ms == FLOOR_MS  # forgotten
