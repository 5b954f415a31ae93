"""Subscriptions: priming, reports on change after MinIntervalFloor, keep-alives, termination."""

from __future__ import annotations

from ota_provider.core.codec import tlv
from ota_provider.core.codec.tlv import UInt
from ota_provider.core.im.messages import AttributeData, AttributePath
from tests.im.harness import TEST_CLUSTER, build

C = TEST_CLUSTER


def values(report):
    return {
        AttributeData.from_tlv(r[1]).path.attribute: AttributeData.from_tlv(r[1]).data for r in report.reports if 1 in r
    }


def test_priming_then_report_on_change_then_keep_alive():
    net, client, session, _cluster, _server = build()
    reports = []
    result = client.subscribe(
        session,
        [AttributePath(0, C, 1)],
        min_interval=2,
        max_interval=10,
        on_report=lambda r: reports.append((net.now, r)),
    )
    net.run(until=1)
    assert result.done and result.error is None and result.subscription_id is not None
    assert result.max_interval == 10
    assert values_of_priming(result) == {1: 7}
    # A change is reported, but not before MinIntervalFloor (2 s) after the priming report.
    change = client.write(session, [AttributeData(AttributePath(0, C, 1), UInt(9))])
    net.run(until=5)
    assert change.done
    (at, report), *_ = reports
    assert report.subscription_id == result.subscription_id
    assert values(report) == {1: 9}
    assert 1.9 <= at <= 2.5
    # With nothing changing, an empty keep-alive comes within MaxInterval.
    net.run(until=at + 10.5)
    keepalive_at, keepalive = reports[-1]
    assert keepalive.reports == [] and 9.5 <= keepalive_at - at <= 10.5


def values_of_priming(result):
    return {path[2]: value for path, value in result.values().items()}


def test_a_report_nobody_acknowledges_ends_the_subscription():
    net, client, session, _cluster, server = build()
    result = client.subscribe(session, [AttributePath(0, C, None)], 0, 5, on_report=lambda r: None)
    net.run(until=1)
    assert len(server.subscriptions.subscriptions) == 1
    client.report_listeners.clear()  # the subscriber forgets it: it answers INVALID_SUBSCRIPTION
    net.run(until=8)
    assert server.subscriptions.subscriptions == {}
    assert result.subscription_id is not None


def test_wildcard_subscription_reports_only_changed_clusters():
    net, client, session, cluster, _server = build()
    reports = []
    client.subscribe(session, [AttributePath(None, None, None)], 0, 60, on_report=reports.append)
    net.run(until=1)
    cluster.items = ["x"]
    cluster.changed()
    net.run(until=2)
    report = reports[-1]
    paths = {AttributeData.from_tlv(r[1]).path.cluster for r in report.reports if 1 in r}
    assert paths == {C}
    assert values(report)[2] == tlv.Array(["x"])


def test_a_fabric_holding_every_subscription_gives_one_up_to_a_fabric_below_its_guaranteed_share():
    from ota_provider.core.im.subscriptions import MAX_SUBSCRIPTIONS, SUBSCRIPTIONS_PER_FABRIC, Subscription  # noqa: PLC0415
    from ota_provider.core.session.secure import AuthMode, SecureSession  # noqa: PLC0415
    from tests.helpers.mrp import KEYS  # noqa: PLC0415

    net, client, session, _cluster, server = build(AuthMode.CASE, fabric_index=1)
    greedy = SecureSession(30, 40, KEYS, False, AuthMode.CASE, peer_node_id=0x99, fabric_index=2)
    held = server.subscriptions.subscriptions
    for n in range(MAX_SUBSCRIPTIONS):  # another fabric's requestor holds them all
        held[1000 + n] = Subscription(1000 + n, greedy, (AttributePath(0, C, 1),), True, 0, 60)
    result = client.subscribe(session, [AttributePath(0, C, 1)], 0, 60, on_report=lambda r: None)
    net.run(until=1)
    assert result.error is None and result.subscription_id is not None  # not RESOURCE_EXHAUSTED
    assert 1000 not in held and len(held) == MAX_SUBSCRIPTIONS  # the greedy fabric's oldest went
    by_fabric = [s.session.fabric_index for s in held.values()]
    assert by_fabric.count(1) == 1 and by_fabric.count(2) == MAX_SUBSCRIPTIONS - 1
    for n in range(1, SUBSCRIPTIONS_PER_FABRIC):  # fabric 1 reaches its guaranteed share
        held.pop(1000 + n)
        held[2000 + n] = Subscription(2000 + n, session, (AttributePath(0, C, 1),), True, 0, 60)
    assert not server.subscriptions._make_room(1)  # beyond its share, it takes nobody's place
    assert server.subscriptions._make_room(3)  # a third fabric still gets in
