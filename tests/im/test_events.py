"""Events on the in-memory network: reads with EventMin, statuses for concrete paths, fabric
sensitivity, access, events-only subscriptions, numbers that survive a restart.

Requests are built as the spec's tables lay them out (Core spec 10.6: ReadRequestMessage tag 1
EventRequests of EventPathIB lists, tag 2 EventFilters; SubscribeRequestMessage tags 4 and 5),
and answers are read straight from the ReportDataMessage TLV (tag 2 EventReports)."""

from __future__ import annotations

import time

from ota_provider.core.codec import tlv
from ota_provider.core.codec.im_status import ImStatus
from ota_provider.core.codec.protocols import ImOpcode, ProtocolId
from ota_provider.core.codec.tlv import TLVList, UInt
from ota_provider.core.fabric.acl import AccessControl, AccessControlEntry, Privilege
from ota_provider.core.im.events import EventLog, EventNumbers, Priority
from ota_provider.core.session.secure import AuthMode
from ota_provider.core.storage.database import Database
from tests.im.harness import TEST_CLUSTER, build

C = TEST_CLUSTER


def event_path(endpoint=None, cluster=None, event=None) -> TLVList:
    return TLVList([(tag, UInt(v)) for tag, v in ((1, endpoint), (2, cluster), (3, event)) if v is not None])


class Collect:
    """Sends one request and keeps every ReportData (acknowledging chunks and reports)."""

    def __init__(self, client, session, opcode, body):
        self.reports = []
        client.manager.register(ProtocolId.INTERACTION_MODEL, self)  # later reports open exchanges of their own
        self.exchange = client.manager.new_exchange(session, ProtocolId.INTERACTION_MODEL, self)
        self.exchange.send(opcode, tlv.encode(tlv.Structure({**body, 0xFF: UInt(11)})))

    def on_message(self, exchange, message):
        if message.opcode == ImOpcode.REPORT_DATA:
            report = tlv.decode(message.payload)
            self.reports.append(report)
            if not report.get(4):  # SuppressResponse absent: acknowledge
                exchange.send(ImOpcode.STATUS_RESPONSE, tlv.encode(tlv.Structure({0: UInt(0), 0xFF: UInt(11)})))

    def on_unsolicited(self, exchange, message):
        self.on_message(exchange, message)
        return self

    def on_closed(self, exchange, reason):
        pass

    def event_data(self):
        return [r[1] for report in self.reports for r in report.get(2, []) if 1 in r]

    def event_statuses(self):
        return [r[0] for report in self.reports for r in report.get(2, []) if 0 in r]


def numbers(data):
    return [int(d[1]) for d in data]


def test_read_events_with_event_min_statuses_and_fabric_sensitivity():
    log = EventLog(EventNumbers(None), clock=time.monotonic)
    net, client, session, _, _ = build(events=log)
    first = log.record(0, C, 0x01, Priority.INFO, tlv.Structure({0: UInt(7)}))
    log.record(0, C, 0x01, Priority.CRITICAL, tlv.Structure({0: UInt(8)}))
    log.record(0, C, 0x01, Priority.INFO, tlv.Structure({0: UInt(9)}), fabric_index=2)  # another fabric's
    read = Collect(
        client,
        session,
        ImOpcode.READ_REQUEST,
        {
            1: tlv.Array([event_path(0, C, 0x01), event_path(0, C, 0x7F), event_path(3, C, 0x01), event_path()]),
        },
    )
    net.run(until=5)
    data = read.event_data()
    # Two events, once for the concrete path and once for the wildcard: (0, C, 1) and (*, *, *) both match.
    assert numbers(data) == [first.number, first.number + 1]
    assert [int(d[2]) for d in data] == [Priority.INFO, Priority.CRITICAL]
    assert data[0][7] == {0: 7} and 4 in data[0]  # Data, and a SystemTimestamp
    assert list(data[0][0]) == [(1, 0), (2, C), (3, 0x01)]  # EventPathIB: Endpoint, Cluster, Event
    statuses = {tuple(v for _, v in s[0]): int(s[1][0]) for s in read.event_statuses()}
    assert statuses == {(0, C, 0x7F): ImStatus.UNSUPPORTED_EVENT, (3, C, 0x01): ImStatus.UNSUPPORTED_ENDPOINT}
    # EventMin skips what a reader has already seen.
    event_min = tlv.Array([tlv.Structure({1: UInt(first.number + 1)})])
    again = Collect(client, session, ImOpcode.READ_REQUEST, {1: tlv.Array([event_path(0, C, 0x01)]), 2: event_min})
    net.run(until=10)
    assert numbers(again.event_data()) == [first.number + 1]


def test_an_event_needing_administer_is_refused_to_a_viewer():
    log = EventLog(EventNumbers(None), clock=time.monotonic)
    log.record(0, C, 0x02, Priority.INFO, tlv.Structure())
    viewer = AccessControl([AccessControlEntry(1, Privilege.VIEW, AuthMode.CASE, subjects=(0x1B669,))])
    net, client, session, _, _ = build(auth_mode=AuthMode.CASE, acl=viewer, events=log)
    read = Collect(client, session, ImOpcode.READ_REQUEST, {1: tlv.Array([event_path(0, C, 0x02)])})
    net.run(until=5)
    assert read.event_data() == []
    assert [int(s[1][0]) for s in read.event_statuses()] == [ImStatus.UNSUPPORTED_ACCESS]


def test_an_events_only_subscription_primes_reports_new_events_and_keeps_alive():
    log = EventLog(EventNumbers(None), clock=time.monotonic)
    net, client, session, _, _ = build(events=log)
    old = log.record(0, C, 0x01, Priority.INFO, tlv.Structure({0: UInt(1)}))
    subscription = Collect(
        client,
        session,
        ImOpcode.SUBSCRIBE_REQUEST,
        {
            0: False,
            1: UInt(0),
            2: UInt(5),
            4: tlv.Array([event_path(0, C, 0x01)]),
            5: tlv.Array([tlv.Structure({1: UInt(old.number + 1)})]),
        },
    )
    net.run(until=1)
    assert subscription.reports and numbers(subscription.event_data()) == []  # EventMin excluded the old one
    new = log.record(0, C, 0x01, Priority.INFO, tlv.Structure({0: UInt(2)}))
    net.run(until=20)
    assert new.number in numbers(subscription.event_data())
    assert numbers(subscription.event_data()).count(new.number) == 1  # reported once, not in every report
    keep_alives = [r for r in subscription.reports if 2 not in r and 1 not in r and 0 in r]
    assert keep_alives  # empty reports carrying only the SubscriptionId


def test_event_numbers_keep_growing_across_restarts(tmp_path):
    db = Database.in_directory(tmp_path)
    first = EventLog(EventNumbers(db), clock=time.monotonic)
    last = [first.record(0, C, 1, Priority.INFO, tlv.Structure()).number for _ in range(3)][-1]
    db.close()
    # As after a kill: nothing was flushed.
    again = EventLog(EventNumbers(Database.in_directory(tmp_path)), clock=time.monotonic)
    assert again.record(0, C, 1, Priority.INFO, tlv.Structure()).number > last
