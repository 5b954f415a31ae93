"""Interaction Model messages and information blocks (Core spec 10.6, 8.x).

Paths are TLV *lists* whose members may be absent (a wildcard); data is arbitrary TLV. So
these types decode from and encode to the generic TLV values of :mod:`..codec.tlv`, with
every shape check raising :class:`ImDecodeError` (a TLVError), which the server turns into
INVALID_ACTION or a per-path status.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..codec import tlv
from ..codec.tlv import TLVError, TLVList, UInt

__all__ = [
    "INTERACTION_MODEL_REVISION",
    "AttributeData",
    "AttributePath",
    "AttributeStatus",
    "CommandData",
    "CommandPath",
    "CommandStatus",
    "DataVersionFilter",
    "EventFilter",
    "EventPath",
    "ImDecodeError",
    "InvokeRequest",
    "InvokeResponse",
    "ReadRequest",
    "ReportData",
    "StatusIB",
    "StatusResponse",
    "SubscribeRequest",
    "SubscribeResponse",
    "TimedRequest",
    "WriteRequest",
    "WriteResponse",
]

INTERACTION_MODEL_REVISION = 11
_REVISION_TAG = 0xFF


class ImDecodeError(TLVError):
    """A well-formed TLV element that is not a valid Interaction Model message."""


def _struct(value: Any, what: str) -> tlv.Structure:
    if not isinstance(value, tlv.Structure):
        raise ImDecodeError(f"{what} must be a structure")
    return value


def _array(value: Any, what: str) -> tlv.Array:
    if not isinstance(value, tlv.Array):
        raise ImDecodeError(f"{what} must be an array")
    return value


def _uint(value: Any, bits: int, what: str, *, optional: bool = False) -> int | None:
    if value is None and optional:
        return None
    if not isinstance(value, UInt) or value >= 1 << bits:
        raise ImDecodeError(f"{what} must be an unsigned {bits}-bit integer")
    return int(value)


def _bool(value: Any, what: str, default: bool = False) -> bool:
    if value is None:
        return default
    if not isinstance(value, bool):
        raise ImDecodeError(f"{what} must be a boolean")
    return value


def _list_members(value: Any, what: str) -> dict[int, Any]:
    if not isinstance(value, TLVList):
        raise ImDecodeError(f"{what} must be a list")
    members: dict[int, Any] = {}
    for tag, item in value:
        if not isinstance(tag, int) or tag in members:
            raise ImDecodeError(f"{what}: bad or repeated tag {tag!r}")
        members[tag] = item
    return members


def _with_revision(structure: tlv.Structure) -> tlv.Structure:
    structure[_REVISION_TAG] = UInt(INTERACTION_MODEL_REVISION)
    return structure


# ---------------------------------------------------------------------------- paths


@dataclass(frozen=True)
class EventPath:
    """EventPathIB (a TLV list); None fields are wildcards."""

    endpoint: int | None = None
    cluster: int | None = None
    event: int | None = None
    node: int | None = None
    is_urgent: bool = False

    @property
    def is_wildcard(self) -> bool:
        return self.endpoint is None or self.cluster is None or self.event is None

    def matches(self, endpoint: int, cluster: int, event: int) -> bool:
        return all(
            want is None or want == got
            for want, got in ((self.endpoint, endpoint), (self.cluster, cluster), (self.event, event))
        )

    @classmethod
    def from_tlv(cls, value: Any) -> EventPath:
        m = _list_members(value, "EventPathIB")
        urgent = m.get(4, False)
        if not isinstance(urgent, bool):
            raise ImDecodeError("IsUrgent must be a boolean")
        return cls(
            node=_uint(m.get(0), 64, "Node", optional=True),
            endpoint=_uint(m.get(1), 16, "Endpoint", optional=True),
            cluster=_uint(m.get(2), 32, "Cluster", optional=True),
            event=_uint(m.get(3), 32, "Event", optional=True),
            is_urgent=urgent,
        )

    def to_tlv(self) -> TLVList:
        items = TLVList()
        for tag, value in ((0, self.node), (1, self.endpoint), (2, self.cluster), (3, self.event)):
            if value is not None:
                items.append((tag, UInt(value)))
        return items


@dataclass(frozen=True)
class EventFilter:
    """EventFilterIB: report only events numbered EventMin or above."""

    event_min: int
    node: int | None = None

    @classmethod
    def from_tlv(cls, value: Any) -> EventFilter:
        s = _struct(value, "EventFilterIB")
        return cls(_uint(s.get(1), 64, "EventMin"), _uint(s.get(0), 64, "Node", optional=True))  # type: ignore[arg-type]


@dataclass(frozen=True)
class AttributePath:
    """AttributePathIB; None fields are wildcards."""

    endpoint: int | None = None
    cluster: int | None = None
    attribute: int | None = None
    node: int | None = None
    list_index: int | None = None
    list_index_present: bool = False  # ListIndex may be present and null (append)
    wildcard_path_flags: int = 0

    @property
    def is_wildcard(self) -> bool:
        return self.endpoint is None or self.cluster is None or self.attribute is None

    @classmethod
    def from_tlv(cls, value: Any) -> AttributePath:
        m = _list_members(value, "AttributePathIB")
        list_index_present = 5 in m
        list_index = m.get(5)
        if list_index is not None:
            list_index = _uint(list_index, 16, "ListIndex")
        return cls(
            node=_uint(m.get(1), 64, "Node", optional=True),
            endpoint=_uint(m.get(2), 16, "Endpoint", optional=True),
            cluster=_uint(m.get(3), 32, "Cluster", optional=True),
            attribute=_uint(m.get(4), 32, "Attribute", optional=True),
            list_index=list_index,
            list_index_present=list_index_present,
            wildcard_path_flags=_uint(m.get(6), 32, "WildcardPathFlags", optional=True) or 0,
        )

    def to_tlv(self) -> TLVList:
        items: TLVList = TLVList()
        if self.node is not None:
            items.append((1, UInt(self.node)))
        if self.endpoint is not None:
            items.append((2, UInt(self.endpoint)))
        if self.cluster is not None:
            items.append((3, UInt(self.cluster)))
        if self.attribute is not None:
            items.append((4, UInt(self.attribute)))
        if self.list_index_present:
            items.append((5, None if self.list_index is None else UInt(self.list_index)))
        return items


@dataclass(frozen=True)
class CommandPath:
    endpoint: int | None
    cluster: int
    command: int

    @classmethod
    def from_tlv(cls, value: Any) -> CommandPath:
        m = _list_members(value, "CommandPathIB")
        cluster, command = m.get(1), m.get(2)
        if cluster is None or command is None:
            raise ImDecodeError("CommandPathIB needs a cluster and a command")
        return cls(
            endpoint=_uint(m.get(0), 16, "Endpoint", optional=True),
            cluster=_uint(cluster, 32, "Cluster"),  # type: ignore[arg-type]
            command=_uint(command, 32, "Command"),  # type: ignore[arg-type]
        )

    def to_tlv(self) -> TLVList:
        items = TLVList()
        if self.endpoint is not None:
            items.append((0, UInt(self.endpoint)))
        items.append((1, UInt(self.cluster)))
        items.append((2, UInt(self.command)))
        return items


@dataclass(frozen=True)
class StatusIB:
    status: int
    cluster_status: int | None = None

    @classmethod
    def from_tlv(cls, value: Any) -> StatusIB:
        s = _struct(value, "StatusIB")
        return cls(_uint(s.get(0), 16, "Status"), _uint(s.get(1), 16, "ClusterStatus", optional=True))  # type: ignore[arg-type]

    def to_tlv(self) -> tlv.Structure:
        out = tlv.Structure({0: UInt(self.status)})
        if self.cluster_status is not None:
            out[1] = UInt(self.cluster_status)
        return out


@dataclass(frozen=True)
class DataVersionFilter:
    endpoint: int
    cluster: int
    data_version: int

    @classmethod
    def from_tlv(cls, value: Any) -> DataVersionFilter:
        s = _struct(value, "DataVersionFilterIB")
        path = _list_members(s.get(0), "ClusterPathIB")
        endpoint, cluster = path.get(1), path.get(2)
        return cls(
            _uint(endpoint, 16, "Endpoint"),  # type: ignore[arg-type]
            _uint(cluster, 32, "Cluster"),  # type: ignore[arg-type]
            _uint(s.get(1), 32, "DataVersion"),  # type: ignore[arg-type]
        )


# ---------------------------------------------------------------------------- data and status IBs


@dataclass(frozen=True)
class AttributeData:
    path: AttributePath
    data: Any
    data_version: int | None = None

    @classmethod
    def from_tlv(cls, value: Any) -> AttributeData:
        s = _struct(value, "AttributeDataIB")
        if 1 not in s or 2 not in s:
            raise ImDecodeError("AttributeDataIB needs a path and data")
        return cls(AttributePath.from_tlv(s[1]), s[2], _uint(s.get(0), 32, "DataVersion", optional=True))

    def to_tlv(self) -> tlv.Structure:
        out = tlv.Structure()
        if self.data_version is not None:
            out[0] = UInt(self.data_version)
        out[1] = self.path.to_tlv()
        out[2] = self.data
        return out


@dataclass(frozen=True)
class AttributeStatus:
    path: AttributePath
    status: StatusIB

    def to_tlv(self) -> tlv.Structure:
        return tlv.Structure({0: self.path.to_tlv(), 1: self.status.to_tlv()})

    @classmethod
    def from_tlv(cls, value: Any) -> AttributeStatus:
        s = _struct(value, "AttributeStatusIB")
        return cls(AttributePath.from_tlv(s.get(0)), StatusIB.from_tlv(s.get(1)))


@dataclass(frozen=True)
class CommandData:
    path: CommandPath
    fields: Any = None
    ref: int | None = None

    @classmethod
    def from_tlv(cls, value: Any) -> CommandData:
        s = _struct(value, "CommandDataIB")
        return cls(CommandPath.from_tlv(s.get(0)), s.get(1), _uint(s.get(2), 16, "CommandRef", optional=True))

    def to_tlv(self) -> tlv.Structure:
        out = tlv.Structure({0: self.path.to_tlv()})
        if self.fields is not None:
            out[1] = self.fields
        if self.ref is not None:
            out[2] = UInt(self.ref)
        return out


@dataclass(frozen=True)
class CommandStatus:
    path: CommandPath
    status: StatusIB
    ref: int | None = None

    def to_tlv(self) -> tlv.Structure:
        out = tlv.Structure({0: self.path.to_tlv(), 1: self.status.to_tlv()})
        if self.ref is not None:
            out[2] = UInt(self.ref)
        return out


# ---------------------------------------------------------------------------- messages


def _decode_message(data: bytes, what: str) -> tlv.Structure:
    return _struct(tlv.decode(data), what)


@dataclass(frozen=True)
class ReadRequest:
    attribute_requests: tuple[AttributePath, ...] = ()
    event_requests: tuple[EventPath, ...] = ()
    is_fabric_filtered: bool = True
    data_version_filters: tuple[DataVersionFilter, ...] = ()
    event_filters: tuple[EventFilter, ...] = ()

    @classmethod
    def decode(cls, data: bytes) -> ReadRequest:
        s = _decode_message(data, "ReadRequestMessage")
        attributes = tuple(AttributePath.from_tlv(p) for p in _array(s.get(0, tlv.Array()), "AttributeRequests"))
        events = tuple(EventPath.from_tlv(p) for p in _array(s.get(1, tlv.Array()), "EventRequests"))
        event_filters = tuple(EventFilter.from_tlv(f) for f in _array(s.get(2, tlv.Array()), "EventFilters"))
        filters = tuple(DataVersionFilter.from_tlv(f) for f in _array(s.get(4, tlv.Array()), "DataVersionFilters"))
        return cls(attributes, events, _bool(s.get(3), "IsFabricFiltered", True), filters, event_filters)


@dataclass(frozen=True)
class SubscribeRequest:
    keep_subscriptions: bool
    min_interval_floor: int
    max_interval_ceiling: int
    attribute_requests: tuple[AttributePath, ...] = ()
    event_requests: tuple[EventPath, ...] = ()
    is_fabric_filtered: bool = True
    data_version_filters: tuple[DataVersionFilter, ...] = ()
    event_filters: tuple[EventFilter, ...] = ()

    @classmethod
    def decode(cls, data: bytes) -> SubscribeRequest:
        s = _decode_message(data, "SubscribeRequestMessage")
        return cls(
            keep_subscriptions=_bool(s.get(0), "KeepSubscriptions"),
            min_interval_floor=_uint(s.get(1), 16, "MinIntervalFloor"),  # type: ignore[arg-type]
            max_interval_ceiling=_uint(s.get(2), 16, "MaxIntervalCeiling"),  # type: ignore[arg-type]
            attribute_requests=tuple(
                AttributePath.from_tlv(p) for p in _array(s.get(3, tlv.Array()), "AttributeRequests")
            ),
            event_requests=tuple(EventPath.from_tlv(p) for p in _array(s.get(4, tlv.Array()), "EventRequests")),
            event_filters=tuple(EventFilter.from_tlv(f) for f in _array(s.get(5, tlv.Array()), "EventFilters")),
            is_fabric_filtered=_bool(s.get(7), "IsFabricFiltered", True),
            data_version_filters=tuple(
                DataVersionFilter.from_tlv(f) for f in _array(s.get(8, tlv.Array()), "DataVersionFilters")
            ),
        )


@dataclass(frozen=True)
class SubscribeResponse:
    subscription_id: int
    max_interval: int

    def encode(self) -> bytes:
        return tlv.encode(_with_revision(tlv.Structure({0: UInt(self.subscription_id), 2: UInt(self.max_interval)})))


@dataclass
class ReportData:
    reports: list[tlv.Structure] = field(default_factory=list)  # encoded AttributeReportIBs
    subscription_id: int | None = None
    more_chunked: bool = False
    suppress_response: bool = False
    event_reports: list[tlv.Structure] = field(default_factory=list)  # encoded EventReportIBs

    @staticmethod
    def data_report(data: AttributeData) -> tlv.Structure:
        return tlv.Structure({1: data.to_tlv()})

    @staticmethod
    def status_report(status: AttributeStatus) -> tlv.Structure:
        return tlv.Structure({0: status.to_tlv()})

    def encode(self) -> bytes:
        out = tlv.Structure()
        if self.subscription_id is not None:
            out[0] = UInt(self.subscription_id)
        if self.reports:
            out[1] = tlv.Array(self.reports)
        if self.event_reports:
            out[2] = tlv.Array(self.event_reports)
        if self.more_chunked:
            out[3] = True
        if self.suppress_response:
            out[4] = True
        return tlv.encode(_with_revision(out))

    @classmethod
    def decode(cls, data: bytes) -> ReportData:
        s = _decode_message(data, "ReportDataMessage")
        return cls(
            reports=list(_array(s.get(1, tlv.Array()), "AttributeReports")),
            event_reports=list(_array(s.get(2, tlv.Array()), "EventReports")),
            subscription_id=_uint(s.get(0), 32, "SubscriptionId", optional=True),
            more_chunked=_bool(s.get(3), "MoreChunkedMessages"),
            suppress_response=_bool(s.get(4), "SuppressResponse"),
        )


@dataclass(frozen=True)
class InvokeRequest:
    suppress_response: bool
    timed_request: bool
    invoke_requests: tuple[CommandData, ...]

    @classmethod
    def decode(cls, data: bytes) -> InvokeRequest:
        s = _decode_message(data, "InvokeRequestMessage")
        return cls(
            _bool(s.get(0), "SuppressResponse"),
            _bool(s.get(1), "TimedRequest"),
            tuple(CommandData.from_tlv(c) for c in _array(s.get(2, tlv.Array()), "InvokeRequests")),
        )

    def encode(self) -> bytes:
        return tlv.encode(
            _with_revision(
                tlv.Structure(
                    {
                        0: self.suppress_response,
                        1: self.timed_request,
                        2: tlv.Array(c.to_tlv() for c in self.invoke_requests),
                    }
                )
            )
        )


@dataclass
class InvokeResponse:
    responses: list[CommandData | CommandStatus] = field(default_factory=list)
    suppress_response: bool = False
    more_chunked: bool = False

    def encode(self) -> bytes:
        items = tlv.Array(
            tlv.Structure({0: r.to_tlv()}) if isinstance(r, CommandData) else tlv.Structure({1: r.to_tlv()})
            for r in self.responses
        )
        out = tlv.Structure({0: self.suppress_response, 1: items})
        if self.more_chunked:
            out[2] = True
        return tlv.encode(_with_revision(out))

    @classmethod
    def decode(cls, data: bytes) -> InvokeResponse:
        s = _decode_message(data, "InvokeResponseMessage")
        responses: list[CommandData | CommandStatus] = []
        for item in _array(s.get(1, tlv.Array()), "InvokeResponses"):
            ib = _struct(item, "InvokeResponseIB")
            if 0 in ib:
                responses.append(CommandData.from_tlv(ib[0]))
            elif 1 in ib:
                st = _struct(ib[1], "CommandStatusIB")
                responses.append(
                    CommandStatus(
                        CommandPath.from_tlv(st.get(0)),
                        StatusIB.from_tlv(st.get(1)),
                        _uint(st.get(2), 16, "CommandRef", optional=True),
                    )
                )
            else:
                raise ImDecodeError("InvokeResponseIB holds neither data nor status")
        return cls(responses, _bool(s.get(0), "SuppressResponse"), _bool(s.get(2), "MoreChunkedMessages"))


@dataclass(frozen=True)
class WriteRequest:
    suppress_response: bool
    timed_request: bool
    write_requests: tuple[AttributeData, ...]
    more_chunked: bool = False

    @classmethod
    def decode(cls, data: bytes) -> WriteRequest:
        s = _decode_message(data, "WriteRequestMessage")
        return cls(
            _bool(s.get(0), "SuppressResponse"),
            _bool(s.get(1), "TimedRequest"),
            tuple(AttributeData.from_tlv(a) for a in _array(s.get(2, tlv.Array()), "WriteRequests")),
            _bool(s.get(3), "MoreChunkedMessages"),
        )


@dataclass
class WriteResponse:
    statuses: list[AttributeStatus] = field(default_factory=list)

    def encode(self) -> bytes:
        return tlv.encode(_with_revision(tlv.Structure({0: tlv.Array(s.to_tlv() for s in self.statuses)})))


@dataclass(frozen=True)
class StatusResponse:
    status: int

    def encode(self) -> bytes:
        return tlv.encode(_with_revision(tlv.Structure({0: UInt(self.status)})))

    @classmethod
    def decode(cls, data: bytes) -> StatusResponse:
        s = _decode_message(data, "StatusResponseMessage")
        return cls(_uint(s.get(0), 8, "Status"))  # type: ignore[arg-type]


@dataclass(frozen=True)
class TimedRequest:
    timeout_ms: int

    @classmethod
    def decode(cls, data: bytes) -> TimedRequest:
        s = _decode_message(data, "TimedRequestMessage")
        return cls(_uint(s.get(0), 16, "Timeout"))  # type: ignore[arg-type]

    def encode(self) -> bytes:
        return tlv.encode(_with_revision(tlv.Structure({0: UInt(self.timeout_ms)})))
