"""Receive window semantics from Core spec 4.6.5 (32-message window, no rollover for encrypted unicast)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ota_provider.core.session.counters import CounterExhausted, LocalCounter, ReceiveWindow, random_initial_counter


def test_initial_counter_range():
    for _ in range(200):
        assert 1 <= random_initial_counter() <= 1 << 28


def test_local_counter_increments_and_does_not_wrap_for_secure_sessions():
    counter = LocalCounter(0xFFFF_FFFE)
    assert counter.next() == 0xFFFF_FFFE
    with pytest.raises(CounterExhausted):
        counter.next()
    wrapping = LocalCounter(0xFFFF_FFFF, wraps=True)
    assert (wrapping.next(), wrapping.next()) == (0xFFFF_FFFF, 0)


def test_encrypted_unicast_window():
    window = ReceiveWindow(rollover=False, initial=0)
    assert window.accept(100)
    assert not window.accept(100)  # duplicate of the max
    assert window.accept(99)  # inside the window, first time
    assert not window.accept(99)
    assert window.accept(68)  # exactly 32 behind: still inside
    assert not window.accept(67)  # 33 behind: a replay for encrypted unicast
    assert window.accept(140)  # jump ahead by 40 clears the bitmap
    assert not window.accept(100)  # now far behind
    assert window.accept(139)
    assert not window.accept(140)


def test_rollover_window_accepts_far_behind_as_new():
    window = ReceiveWindow(rollover=True)
    assert window.accept(0xFFFF_FFF0)  # first message synchronises
    assert window.accept(5)  # wrapped ahead
    assert not window.accept(5)
    assert window.accept(0xFFFF_FFF8)  # within 32 behind across the wrap, unseen
    assert not window.accept(0xFFFF_FFF0)  # seen before the wrap, still in window
    assert window.accept(1000)
    assert window.accept(10)  # 990 behind: rollover mode treats as a fresh start
    assert not window.accept(10)


@given(st.lists(st.integers(1, 200), max_size=300))
def test_no_counter_is_accepted_twice(counters):
    window = ReceiveWindow(rollover=False, initial=0)
    accepted = set()
    for counter in counters:
        if window.accept(counter):
            assert counter not in accepted
            accepted.add(counter)


@given(st.permutations(list(range(1, 33))))
def test_any_reordering_inside_the_window_is_accepted_once(order):
    window = ReceiveWindow(rollover=False, initial=0)
    assert window.accept(33)
    assert all(window.accept(c) for c in order)
    assert not any(window.accept(c) for c in order)
