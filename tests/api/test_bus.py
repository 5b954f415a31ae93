"""The event bus: numbered events, fanned out in one order; a lagging subscriber is cut off alone."""

from __future__ import annotations

import threading

from ota_provider.core.api.bus import EventBus
from ota_provider.core.api.events import EngineError, EngineSnapshot


def publish(bus, count, start=0):
    return [bus.publish(EngineError(f"event {n}")) for n in range(start, start + count)]


def test_every_subscriber_sees_the_same_numbered_events_in_the_same_order():
    bus = EventBus()
    first, _ = bus.subscribe()
    second, _ = bus.subscribe()
    published = publish(bus, 50)
    assert [e.seq for e in published] == list(range(1, 51))
    assert first.take(1000) == second.take(1000) == published
    assert first.last_seq == 50


def test_a_subscriber_that_never_reads_is_cut_off_and_the_others_miss_nothing():
    bus = EventBus()
    slow, _ = bus.subscribe(capacity=10)
    fast, _ = bus.subscribe(capacity=10)
    seen = []
    for n in range(100):
        bus.publish(EngineError(f"event {n}"))
        seen += fast.take()
    assert len(seen) == 100 and slow.lagged and slow.dropped == 90 and bus.cut_off == 1
    assert [e.seq for e in slow.take(100)] == list(range(1, 11))  # what it had, then nothing more


def test_a_full_drop_mode_subscriber_keeps_its_place_and_counts_what_it_lost():
    bus = EventBus()
    local, _ = bus.subscribe(capacity=5, cut_off=False)
    publish(bus, 8)
    assert [e.seq for e in local.take()] == [1, 2, 3, 4, 5] and local.dropped == 3 and not local.lagged
    publish(bus, 1)
    assert [e.seq for e in local.take()] == [9]


def test_a_client_that_reconnects_gets_what_the_replay_buffer_still_holds_and_is_told_what_is_gone():
    bus = EventBus(replay=20)
    publish(bus, 30)
    again, missed = bus.subscribe(after=25)
    assert [e.seq for e in again.take()] == [26, 27, 28, 29, 30] and missed == 0
    late, missed = bus.subscribe(after=5)
    assert late.take()[0].seq == 11 and missed == 5  # 6..10 fell out of the buffer
    current, missed = bus.subscribe(after=30)
    assert current.take() == [] and missed == 0


def test_wait_wakes_on_the_next_event_from_another_thread():
    bus = EventBus()
    subscriber, _ = bus.subscribe()
    threading.Timer(0.05, lambda: bus.publish(EngineError("late"))).start()
    assert subscriber.wait(2.0) and subscriber.take()[0].message == "late"
    assert not subscriber.wait(0.01)


def test_snapshots_go_only_to_subscribers_that_take_them():
    bus = EventBus()
    lines, _ = bus.subscribe(snapshots=False)
    assert not bus.snapshot_readers  # nobody would read one: the engine takes none
    dashboard, _ = bus.subscribe()
    assert bus.snapshot_readers
    snapshot = bus.publish(EngineSnapshot((), 0, 0, 0, 0, (), (), 0, None, None, (), ()))
    publish(bus, 1)
    assert [type(e) for e in lines.take()] == [EngineError]  # not woken for the snapshot
    assert dashboard.take()[0] == snapshot
    dashboard.close()
    assert not bus.snapshot_readers
