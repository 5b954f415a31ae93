"""Subscriptions (Core spec 8.5): priming reports, reports on change, keep-alives.

After the priming reports and the SubscribeResponse, the node reports again when an
attribute of a subscribed cluster changes (no sooner than MinIntervalFloor after the
previous report) and sends an empty keep-alive report when MaxInterval would otherwise pass
in silence. Each report is a new exchange that the subscriber must answer with a
StatusResponse; a report that is not answered ends the subscription. When each report is due is
a deadline run by :meth:`SubscriptionManager.poll` (see ``core/timers.py``).
"""

from __future__ import annotations

import functools
import logging
import secrets
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..codec import tlv
from ..codec.im_status import ImStatus
from ..codec.protocols import ImOpcode, ProtocolId
from ..exchange.manager import Exchange, ExchangeManager, Message
from ..fabric.acl import SubjectDescriptor
from ..session.secure import SecureSession
from ..timers import Deadlines
from .events import EventLog, EventRecord, event_min
from .messages import AttributePath, EventPath, StatusResponse, SubscribeRequest, SubscribeResponse
from .model import Cluster, DataModel, RequestContext
from .replies import refuse
from .reports import ReportBuilder, send_next_chunk

__all__ = ["MAX_SUBSCRIPTIONS", "Subscription", "SubscriptionManager"]

log = logging.getLogger(__name__)

MAX_SUBSCRIPTIONS = 32
# Every fabric is guaranteed this many (Core spec 8.5.1: at least 3 subscriptions per fabric): when the
# table is full, a fabric below it takes the place of the oldest subscription of the fabric that
# holds the most, so no fabric can hold all of them and lock the others out.
SUBSCRIPTIONS_PER_FABRIC = 3
PUBLISHER_MAX_INTERVAL_LIMIT = 3600  # seconds


@dataclass(eq=False)
class Subscription:
    id: int
    session: SecureSession
    paths: tuple[AttributePath, ...]
    fabric_filtered: bool
    min_interval: int
    max_interval: int
    dirty: set[tuple[int, int]] = field(default_factory=set)  # (endpoint, cluster) changed since the last report
    last_report: float = 0.0
    reporting: bool = False
    active: bool = False
    event_paths: tuple[EventPath, ...] = ()
    next_event: int = 0  # the lowest event number not yet reported
    events_pending: bool = False  # an event it covers was logged since the last report

    def covers(self, endpoint: int, cluster: int) -> bool:
        return any(_matches(p, endpoint, cluster) for p in self.paths)


def _matches(path: AttributePath, endpoint: int, cluster: int) -> bool:
    return (path.endpoint is None or path.endpoint == endpoint) and (path.cluster is None or path.cluster == cluster)


class _ReportExchange:
    """One report (possibly chunked) on an exchange we open; the subscriber acknowledges each chunk."""

    def __init__(self, manager: SubscriptionManager, subscription: Subscription, chunks: list) -> None:
        self.owner = manager
        self.subscription = subscription
        self.chunks = chunks
        self.done = False

    def send_next(self, exchange: Exchange) -> None:
        send_next_chunk(exchange, self.chunks, subscription_id=self.subscription.id)

    def on_message(self, exchange: Exchange, message: Message) -> None:
        ok = False
        if message.opcode == ImOpcode.STATUS_RESPONSE:
            try:
                ok = StatusResponse.decode(message.payload).status == ImStatus.SUCCESS
            except tlv.TLVError:
                ok = False
        if ok and self.chunks:
            self.send_next(exchange)
            return
        self.done = True
        exchange.close("report acknowledged" if ok else "report refused")
        self.owner._report_finished(self.subscription, ok)

    def on_closed(self, exchange: Exchange, reason: str) -> None:
        if not self.done:
            self.done = True
            self.owner._report_finished(self.subscription, False)


class SubscriptionManager:
    """Takes what it needs, not the server: the model it watches, the report builder, the event
    log, who a session's subject is, and where the exchange manager and the clock are (both may be
    given to the server after it is made)."""

    def __init__(
        self,
        model: DataModel,
        reports: ReportBuilder,
        events: EventLog | None,
        subject_of: Callable[[SecureSession], SubjectDescriptor],
        manager: Callable[[], ExchangeManager | None],
        clock: Callable[[], float],
    ) -> None:
        self.reports = reports
        self.events = events
        self.subject_of = subject_of
        self._manager = manager
        self._clock = clock
        self.subscriptions: dict[int, Subscription] = {}
        self._due: Deadlines[int] = Deadlines()  # subscription id: when its next report goes out
        for endpoint, cluster in model.clusters():
            cluster.listeners.append(functools.partial(self._cluster_changed, endpoint.id))
        if events is not None:
            events.listeners.append(self._event_logged)

    def _make_room(self, fabric_index: int) -> bool:
        """End the oldest subscription of the fabric holding the most, if ``fabric_index`` is below its
        guaranteed share and that fabric above it."""
        held = Counter(s.session.fabric_index for s in self.subscriptions.values())
        if held[fabric_index] >= SUBSCRIPTIONS_PER_FABRIC:
            return False
        greediest, count = held.most_common(1)[0]
        if count <= SUBSCRIPTIONS_PER_FABRIC:
            return False
        oldest = next(s for s in self.subscriptions.values() if s.session.fabric_index == greediest)
        self.end(oldest, f"evicted: fabric {fabric_index} needs its guaranteed share")
        return True

    # ------------------------------------------------------------------ set-up (priming)

    def subscribe(self, interaction: Any, exchange: Exchange, ctx: RequestContext, request: SubscribeRequest) -> None:
        if request.min_interval_floor > request.max_interval_ceiling:
            refuse(exchange, ImStatus.INVALID_ACTION, "MinIntervalFloor above MaxIntervalCeiling")
            return
        if not request.attribute_requests and not request.event_requests:
            refuse(exchange, ImStatus.INVALID_ACTION, "nothing to subscribe to")
            return
        if not request.keep_subscriptions:
            for old in [s for s in self.subscriptions.values() if self._same_subscriber(s.session, ctx.session)]:
                self.end(old, "replaced")
        if len(self.subscriptions) >= MAX_SUBSCRIPTIONS and not self._make_room(ctx.session.fabric_index):
            refuse(exchange, ImStatus.RESOURCE_EXHAUSTED, "too many subscriptions")
            return
        max_interval = min(
            max(request.max_interval_ceiling, request.min_interval_floor, 1),
            max(PUBLISHER_MAX_INTERVAL_LIMIT, request.max_interval_ceiling),
        )
        subscription = Subscription(
            id=secrets.randbits(32),
            session=ctx.session,
            paths=request.attribute_requests,
            fabric_filtered=request.is_fabric_filtered,
            min_interval=request.min_interval_floor,
            max_interval=max_interval,
            event_paths=request.event_requests,
            next_event=event_min(request.event_filters),
        )
        versions = {(f.endpoint, f.cluster): f.data_version for f in request.data_version_filters}
        reports = self.reports.attributes(ctx, request.attribute_requests, versions, request.is_fabric_filtered)
        events = self._events_for(subscription, ctx)
        interaction.chunks = self.reports.chunk(reports, events)
        interaction.subscription = subscription
        self.send_priming_chunk(interaction, exchange, None)

    def send_priming_chunk(self, interaction: Any, exchange: Exchange, ack: StatusResponse | None) -> None:
        if ack is not None and ack.status != ImStatus.SUCCESS:
            interaction.chunks = []
            exchange.close("subscriber refused the priming report")
            return
        subscription: Subscription = interaction.subscription
        if interaction.chunks:
            send_next_chunk(exchange, interaction.chunks, subscription_id=subscription.id)
            interaction.awaiting_priming_ack = True
            return
        # Every priming chunk acknowledged: confirm the subscription.
        interaction.subscription = None
        interaction.awaiting_priming_ack = False
        exchange.send(
            ImOpcode.SUBSCRIBE_RESPONSE, SubscribeResponse(subscription.id, subscription.max_interval).encode()
        )
        exchange.close("subscription established")
        subscription.active = True
        subscription.last_report = self._now()
        self.subscriptions[subscription.id] = subscription
        self._schedule(subscription)
        log.info("subscription 0x%08x: max interval %d s", subscription.id, subscription.max_interval)

    @staticmethod
    def _same_subscriber(a: SecureSession, b: SecureSession) -> bool:
        return ((a.fabric_index, a.peer_node_id) == (b.fabric_index, b.peer_node_id) and a.fabric_index != 0) or a is b

    # ------------------------------------------------------------------ reporting

    def _now(self) -> float:
        return self._clock()

    def _cluster_changed(self, endpoint: int, cluster: Cluster) -> None:
        for subscription in list(self.subscriptions.values()):
            if subscription.active and subscription.covers(endpoint, cluster.id):
                subscription.dirty.add((endpoint, cluster.id))
                self._schedule(subscription)

    def _event_logged(self, record: EventRecord) -> None:
        for subscription in list(self.subscriptions.values()):
            if subscription.active and any(
                p.matches(record.endpoint, record.cluster, record.event) for p in subscription.event_paths
            ):
                subscription.events_pending = True
                self._schedule(subscription)

    def _events_for(self, subscription: Subscription, ctx: RequestContext) -> list[tlv.Structure]:
        """The subscribed events not reported yet; afterwards, all of them count as reported."""
        if not subscription.event_paths:
            return []
        events = self.reports.events(ctx, subscription.event_paths, subscription.next_event)
        last = self.events.last_number if self.events is not None else None
        if last is not None:
            subscription.next_event = max(subscription.next_event, last + 1)
        subscription.events_pending = False
        return events

    def next_deadline(self) -> float | None:
        return self._due.next()

    def poll(self, now: float) -> None:
        """Send the reports that are due."""
        for subscription_id in self._due.pop_due(now):
            if (subscription := self.subscriptions.get(subscription_id)) is not None:
                self._report(subscription)

    def _schedule(self, subscription: Subscription) -> None:
        if subscription.reporting:
            self._due.cancel(subscription.id)
            return
        urgent = subscription.dirty or subscription.events_pending
        due = subscription.last_report + (subscription.min_interval if urgent else subscription.max_interval)
        self._due.set(subscription.id, due)

    def _report(self, subscription: Subscription) -> None:
        if not subscription.active:
            return
        manager = self._manager()
        if manager is None or manager.sessions.get(subscription.session.local_session_id) is not subscription.session:
            self.end(subscription, "session closed")
            return
        reports: list[tlv.Structure] = []
        ctx = RequestContext(subscription.session, self.subject_of(subscription.session))
        if subscription.dirty:
            changed = subscription.dirty
            subscription.dirty = set()
            # Each subscribed path, narrowed to the clusters that changed.
            narrowed = [
                AttributePath(endpoint, cluster, path.attribute)
                for path in subscription.paths
                for endpoint, cluster in changed
                if _matches(path, endpoint, cluster)
            ]
            reports = self.reports.attributes(ctx, tuple(dict.fromkeys(narrowed)), {}, subscription.fabric_filtered)
        events = self._events_for(subscription, ctx) if subscription.events_pending else []
        chunks = self.reports.chunk(reports, events)  # nothing to say: one empty report, the keep-alive
        handler = _ReportExchange(self, subscription, chunks)
        exchange = manager.new_exchange(subscription.session, ProtocolId.INTERACTION_MODEL, handler)
        subscription.reporting = True
        subscription.last_report = self._now()
        handler.send_next(exchange)

    def _report_finished(self, subscription: Subscription, ok: bool) -> None:
        subscription.reporting = False
        if not ok:
            self.end(subscription, "report not acknowledged")
            return
        self._schedule(subscription)

    def end(self, subscription: Subscription, reason: str) -> None:
        subscription.active = False
        self._due.cancel(subscription.id)
        self.subscriptions.pop(subscription.id, None)
        log.info("subscription 0x%08x ended: %s", subscription.id, reason)
