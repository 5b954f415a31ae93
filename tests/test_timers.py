"""The one timer interface: keyed deadlines against a plain model, and a group of machines."""

from __future__ import annotations

import logging

from hypothesis import given
from hypothesis import strategies as st

from ota_provider.core.timers import Deadlines, TimerGroup, earliest

operations = st.lists(
    st.one_of(
        st.tuples(st.just("set"), st.integers(0, 5), st.integers(0, 100)),
        st.tuples(st.just("cancel"), st.integers(0, 5), st.just(0)),
        st.tuples(st.just("pop"), st.just(0), st.integers(0, 100)),
    ),
    max_size=60,
)


@given(operations)
def test_deadlines_agree_with_a_dict_of_times(steps):
    deadlines: Deadlines[int] = Deadlines()
    model: dict[int, int] = {}
    for action, key, when in steps:
        if action == "set":
            deadlines.set(key, when)
            model[key] = when
        elif action == "cancel":
            deadlines.cancel(key)
            model.pop(key, None)
        else:
            due = deadlines.pop_due(when)
            expected = [k for k, t in model.items() if t <= when]
            assert sorted(due) == sorted(expected)
            assert [model[k] for k in due] == sorted(model[k] for k in due)  # earliest first
            for k in expected:
                del model[k]
        earliest_due = min(model.values()) if model else None
        if action == "pop":  # a poll settles: then exact
            assert deadlines.next() == earliest_due
        elif earliest_due is None:
            assert deadlines.next() is None
        else:  # otherwise never later than the earliest (a timer fires in time)
            assert deadlines.next() is not None and deadlines.next() <= earliest_due
        assert len(deadlines) == len(model)
        assert all(deadlines.get(k) == t for k, t in model.items())


def test_a_deadline_moved_later_many_times_keeps_one_heap_entry():
    deadlines: Deadlines[str] = Deadlines()
    for block in range(10_000):  # a transfer's idle release, pushed on by every Block
        deadlines.set("idle", 300.0 + block)
    assert len(deadlines._heap) == 1
    assert deadlines.pop_due(10_298.0) == []
    assert deadlines.pop_due(10_299.0) == ["idle"]
    assert deadlines.next() is None


def test_ties_come_out_in_the_order_they_were_set():
    deadlines: Deadlines[str] = Deadlines()
    for key in "cab":
        deadlines.set(key, 5.0)
    assert deadlines.pop_due(5.0) == ["c", "a", "b"]


class Machine:
    def __init__(self, deadline, fail=False):
        self.deadline, self.fail, self.polled = deadline, fail, []

    def next_deadline(self):
        return self.deadline

    def poll(self, now):
        self.polled.append(now)
        if self.fail:
            raise RuntimeError("a bug")


def test_a_group_polls_only_the_machines_that_are_due_and_survives_a_failing_one(caplog):
    early, failing, late, idle = Machine(1.0), Machine(2.0, fail=True), Machine(9.0), Machine(None)
    group = TimerGroup([early, failing, late, idle])
    assert group.next_deadline() == 1.0
    with caplog.at_level(logging.ERROR):
        group.poll(2.0)
    assert (early.polled, failing.polled, late.polled, idle.polled) == ([2.0], [2.0], [], [])
    assert "Machine failed on its timer" in caplog.text
    assert earliest([None, 3.0, None, 2.5]) == 2.5 and earliest([None]) is None
