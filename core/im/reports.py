"""Reading the data model for a report, once for Read and for subscriptions (Core spec 8.4,
8.5): paths resolved against the data model and the ACL, fabric filtering, lists split to fit,
and the reports cut into ReportData-sized chunks."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..codec import tlv
from ..codec.im_status import ImStatus
from ..codec.protocols import ImOpcode
from ..exchange.manager import Exchange
from ..fabric.acl import FABRIC_INDEX_TAG, AccessControl, Privilege
from .events import EventLog, event_status_report
from .messages import AttributeData, AttributePath, AttributeStatus, EventPath, ReportData, StatusIB
from .model import AttributeSpec, DataModel, ImError, RequestContext

__all__ = [
    "REPORT_BUDGET",
    "PathAccess",
    "ReportBuilder",
    "ReportChunk",
    "send_next_chunk",
]

REPORT_BUDGET = 1100  # TLV bytes per ReportData, inside a 1280-byte IPv6 datagram with headers and MIC


@dataclass
class ReportChunk:
    """What one ReportData message carries: attribute reports, then event reports."""

    attributes: list[tlv.Structure] = field(default_factory=list)
    events: list[tlv.Structure] = field(default_factory=list)

    def message(self, **fields: Any) -> ReportData:
        return ReportData(self.attributes, event_reports=self.events, **fields)


def send_next_chunk(exchange: Exchange, chunks: list[ReportChunk], *, subscription_id: int | None = None) -> bool:
    """The next ReportData of ``chunks`` on ``exchange`` (a Read's, a priming report's, a
    subscription's); True while more follow. A Read's last chunk asks for no StatusResponse
    (SuppressResponse); a subscription's carries its id and is always acknowledged."""
    chunk = chunks.pop(0)
    more = bool(chunks)
    if subscription_id is None:
        report = chunk.message(more_chunked=more, suppress_response=not more)
    else:
        report = chunk.message(subscription_id=subscription_id, more_chunked=more)
    exchange.send(ImOpcode.REPORT_DATA, report.encode())
    return more


class PathAccess:
    """The ACL check for one path and privilege, with an optional per-interaction cache."""

    def __init__(self, model: DataModel, acl: AccessControl) -> None:
        self.model = model
        self.acl = acl

    def allowed(
        self, ctx: RequestContext, endpoint: int, cluster: int, privilege: Privilege, cache: dict | None = None
    ) -> bool:
        key = (endpoint, cluster, privilege)
        if cache is not None and key in cache:
            return cache[key]
        device_types = self.model.endpoints[endpoint].device_type_ids if endpoint in self.model.endpoints else []
        allowed = self.acl.check(
            ctx.subject, endpoint=endpoint, cluster=cluster, privilege=privilege, device_types=device_types
        )
        if cache is not None:
            cache[key] = allowed
        return allowed


class ReportBuilder:
    def __init__(
        self, model: DataModel, access: PathAccess, budget: int = REPORT_BUDGET, events: EventLog | None = None
    ) -> None:
        self.model = model
        self.access = access
        self.budget = budget
        self.event_log = events

    def attributes(
        self, ctx: RequestContext, paths: Iterable[AttributePath], versions: dict, fabric_filtered: bool
    ) -> list[tlv.Structure]:
        """AttributeReportIBs for ``paths``: wildcards expanded to what the reader may see, a status for
        each concrete path we cannot serve, lists too big for one message split into appends."""
        ctx.is_fabric_filtered = fabric_filtered
        reports: list[tlv.Structure] = []
        for path in paths:
            reports.extend(self._read_path(ctx, path, versions))
        return reports

    def _read_path(self, ctx: RequestContext, path: AttributePath, versions: dict) -> Iterable[tlv.Structure]:
        if not path.is_wildcard:
            yield from self._read_concrete(ctx, path, versions)
            return
        for endpoint, cluster in self.model.clusters():
            if path.endpoint is not None and endpoint.id != path.endpoint:
                continue
            if path.cluster is not None and cluster.id != path.cluster:
                continue
            if versions.get((endpoint.id, cluster.id)) == cluster.data_version:
                continue
            for attribute_id in cluster.attribute_ids():
                if path.attribute is not None and attribute_id != path.attribute:
                    continue
                spec = cluster.attribute_spec(attribute_id)
                if spec is None or not self.access.allowed(ctx, endpoint.id, cluster.id, spec.read_privilege):
                    continue
                concrete = AttributePath(endpoint.id, cluster.id, attribute_id)
                try:
                    value = self._value(ctx, spec)
                except ImError:
                    continue  # wildcard expansion leaves out what cannot be read
                yield from self._data_reports(concrete, value, cluster.data_version)

    def _read_concrete(self, ctx: RequestContext, path: AttributePath, versions: dict) -> Iterable[tlv.Structure]:
        concrete = AttributePath(path.endpoint, path.cluster, path.attribute)
        located = self.model.locate(path.endpoint, path.cluster)
        if isinstance(located, ImStatus):
            yield ReportData.status_report(AttributeStatus(concrete, StatusIB(located)))
            return
        endpoint, cluster = located
        spec = cluster.attribute_spec(path.attribute)  # type: ignore[arg-type]
        if spec is None:
            yield ReportData.status_report(AttributeStatus(concrete, StatusIB(ImStatus.UNSUPPORTED_ATTRIBUTE)))
            return
        if not self.access.allowed(ctx, endpoint.id, cluster.id, spec.read_privilege):
            yield ReportData.status_report(AttributeStatus(concrete, StatusIB(ImStatus.UNSUPPORTED_ACCESS)))
            return
        if versions.get((endpoint.id, cluster.id)) == cluster.data_version:
            return
        try:
            value = self._value(ctx, spec)
        except ImError as exc:
            yield ReportData.status_report(AttributeStatus(concrete, StatusIB(exc.status, exc.cluster_status)))
            return
        yield from self._data_reports(concrete, value, cluster.data_version)

    def _value(self, ctx: RequestContext, spec: AttributeSpec) -> Any:
        value = spec.read(ctx)
        if not spec.fabric_scoped or not isinstance(value, tlv.Array):
            return value
        if ctx.is_fabric_filtered:
            return tlv.Array(
                v for v in value if isinstance(v, tlv.Structure) and v.get(FABRIC_INDEX_TAG) == ctx.fabric_index
            )
        if spec.sensitive_fields:
            return tlv.Array(_for_reader(v, ctx.fabric_index, spec.sensitive_fields) for v in value)
        return value

    def _data_reports(self, path: AttributePath, value: Any, version: int) -> Iterable[tlv.Structure]:
        report = ReportData.data_report(AttributeData(path, value, version))
        if not isinstance(value, tlv.Array) or len(tlv.encode(report)) <= self.budget:
            yield report
            return
        # Too big for one message: replace with an empty list, then append item by item.
        yield ReportData.data_report(AttributeData(path, tlv.Array(), version))
        append = AttributePath(path.endpoint, path.cluster, path.attribute, list_index_present=True)
        for item in value:
            yield ReportData.data_report(AttributeData(append, item, version))

    def chunk(self, reports: list[tlv.Structure], events: Iterable[tlv.Structure] = ()) -> list[ReportChunk]:
        """The reports in ReportData-sized chunks, attributes first; never fewer than one (an empty
        chunk is a subscription's keep-alive)."""
        chunks = [ReportChunk()]
        size = 0
        for kind, report in [*(("attributes", r) for r in reports), *(("events", e) for e in events)]:
            length = len(tlv.encode(report))
            current = chunks[-1]
            if (current.attributes or current.events) and size + length > self.budget:
                chunks.append(ReportChunk())
                size = 0
            getattr(chunks[-1], kind).append(report)
            size += length
        return chunks

    def events(
        self, ctx: RequestContext, paths: Iterable[EventPath], minimum: int, cache: dict | None = None
    ) -> list[tlv.Structure]:
        """EventReportIBs for ``paths``: a status for each concrete path we cannot serve, then
        every logged event numbered ``minimum`` or above that the reader may see."""
        paths = tuple(paths)
        if not paths:
            return []
        cache = {} if cache is None else cache
        reports = []
        for path in paths:
            if not path.is_wildcard:
                status = self._event_path_status(ctx, path, cache)
                if status is not None:
                    reports.append(event_status_report(path, StatusIB(status)))
        for record in self.event_log.since(minimum) if self.event_log is not None else ():
            if not any(p.matches(record.endpoint, record.cluster, record.event) for p in paths):
                continue
            if record.fabric_index is not None and record.fabric_index != ctx.fabric_index:
                continue  # a fabric-sensitive event is for its own fabric only
            cluster = self.model.cluster(record.endpoint, record.cluster)
            privilege = cluster.event_privilege(record.event) if cluster is not None else None
            if privilege is not None and self.access.allowed(ctx, record.endpoint, record.cluster, privilege, cache):
                reports.append(record.report())
        return reports

    def _event_path_status(self, ctx: RequestContext, path: EventPath, cache: dict) -> ImStatus | None:
        located = self.model.locate(path.endpoint, path.cluster)
        if isinstance(located, ImStatus):
            return located
        endpoint, cluster = located
        privilege = cluster.event_privilege(path.event)  # type: ignore[arg-type]
        if privilege is None:
            return ImStatus.UNSUPPORTED_EVENT
        if not self.access.allowed(ctx, endpoint.id, cluster.id, privilege, cache):
            return ImStatus.UNSUPPORTED_ACCESS
        return None


def _for_reader(entry: Any, fabric_index: int, sensitive: tuple[int, ...]) -> Any:
    """A fabric-scoped entry as a reader on ``fabric_index`` may see it: whole if it is that
    fabric's own entry, else without its fabric-sensitive fields."""
    if not isinstance(entry, tlv.Structure) or entry.get(FABRIC_INDEX_TAG) == fabric_index:
        return entry
    return tlv.Structure((tag, v) for tag, v in entry.items() if tag not in sensitive)
