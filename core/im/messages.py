"""Interaction Model messages and information blocks (Core spec 10.6, 8.x).

The structures are declared field by field with :mod:`..codec.schema`, so each reads like its spec
table (tag, type, optional). Paths are TLV *lists* whose members may be absent (a wildcard), and
ListIndex may be present and null (append): they keep a reader and writer of their own. Data and
command fields are arbitrary TLV. A shape that does not fit raises a :class:`TLVError`
(:class:`ImDecodeError` for a path, :class:`SchemaError` for a structure), which the server turns
into INVALID_ACTION or a per-path status.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from ..codec import tlv
from ..codec.schema import (
    AnyTLV,
    Bool,
    ListOf,
    OneOf,
    SchemaError,
    StructOf,
    TLVStruct,
    UInt8,
    UInt16,
    UInt32,
    UInt64,
    tlv_field,
)
from ..codec.tlv import TLVList, UInt

__all__ = [
    "INTERACTION_MODEL_REVISION",
    "AttributeData",
    "AttributePath",
    "AttributeStatus",
    "ClusterPath",
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


class ImDecodeError(SchemaError):
    """A well-formed TLV element that is not a valid Interaction Model path."""


def _uint(value: Any, bits: int, what: str) -> int | None:
    """A path member: absent or null is a wildcard (None)."""
    if value is None:
        return None
    if not isinstance(value, UInt) or value >= 1 << bits:
        raise ImDecodeError(f"{what} must be an unsigned {bits}-bit integer")
    return int(value)


def _list_members(value: Any, what: str) -> dict[int, Any]:
    if not isinstance(value, TLVList):
        raise ImDecodeError(f"{what} must be a list")
    members: dict[int, Any] = {}
    for tag, item in value:
        if not isinstance(tag, int) or tag in members:
            raise ImDecodeError(f"{what}: bad or repeated tag {tag!r}")
        members[tag] = item
    return members


def _path_list(members: tuple[tuple[int, int | None], ...]) -> TLVList:
    """The members that are not wildcards, in tag order."""
    return TLVList((tag, UInt(value)) for tag, value in members if value is not None)


class ImStruct(TLVStruct):
    """An IM information block: a null where an optional member is expected is read as absent,
    as the IM decoders of the SDK and of matter.js read it."""

    NULL_AS_ABSENT: ClassVar[bool] = True


class ImMessage(ImStruct):
    """A whole IM message: it carries the InteractionModelRevision (tag 0xFF) when sent, and one
    received without it, or with another, is read the same."""

    def to_tlv(self) -> tlv.Structure:
        out = super().to_tlv()
        out[_REVISION_TAG] = UInt(INTERACTION_MODEL_REVISION)
        return out


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
            node=_uint(m.get(0), 64, "Node"),
            endpoint=_uint(m.get(1), 16, "Endpoint"),
            cluster=_uint(m.get(2), 32, "Cluster"),
            event=_uint(m.get(3), 32, "Event"),
            is_urgent=urgent,
        )

    def to_tlv(self) -> TLVList:
        return _path_list(((0, self.node), (1, self.endpoint), (2, self.cluster), (3, self.event)))


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
        return cls(
            node=_uint(m.get(1), 64, "Node"),
            endpoint=_uint(m.get(2), 16, "Endpoint"),
            cluster=_uint(m.get(3), 32, "Cluster"),
            attribute=_uint(m.get(4), 32, "Attribute"),
            list_index=_uint(m.get(5), 16, "ListIndex"),
            list_index_present=list_index_present,
            wildcard_path_flags=_uint(m.get(6), 32, "WildcardPathFlags") or 0,
        )

    def to_tlv(self) -> TLVList:
        items = _path_list(((1, self.node), (2, self.endpoint), (3, self.cluster), (4, self.attribute)))
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
        cluster, command = _uint(m.get(1), 32, "Cluster"), _uint(m.get(2), 32, "Command")
        if cluster is None or command is None:
            raise ImDecodeError("CommandPathIB needs a cluster and a command")
        return cls(endpoint=_uint(m.get(0), 16, "Endpoint"), cluster=cluster, command=command)

    def to_tlv(self) -> TLVList:
        return _path_list(((0, self.endpoint), (1, self.cluster), (2, self.command)))


@dataclass(frozen=True)
class ClusterPath:
    """ClusterPathIB (a TLV list), as a DataVersionFilterIB names its cluster: both given."""

    endpoint: int
    cluster: int
    node: int | None = None

    @classmethod
    def from_tlv(cls, value: Any) -> ClusterPath:
        m = _list_members(value, "ClusterPathIB")
        endpoint, cluster = _uint(m.get(1), 16, "Endpoint"), _uint(m.get(2), 32, "Cluster")
        if endpoint is None or cluster is None:
            raise ImDecodeError("ClusterPathIB in a DataVersionFilterIB needs an endpoint and a cluster")
        return cls(endpoint, cluster, _uint(m.get(0), 64, "Node"))

    def to_tlv(self) -> TLVList:
        return _path_list(((0, self.node), (1, self.endpoint), (2, self.cluster)))


# ---------------------------------------------------------------------------- filters, status, data


@dataclass(frozen=True)
class EventFilter(ImStruct):
    """EventFilterIB: report only events numbered EventMin or above."""

    event_min: int = tlv_field(1, UInt64)
    node: int | None = tlv_field(0, UInt64, optional=True)


@dataclass(frozen=True)
class DataVersionFilter(ImStruct):
    path: ClusterPath = tlv_field(0, StructOf(ClusterPath))
    data_version: int = tlv_field(1, UInt32)

    @property
    def endpoint(self) -> int:
        return self.path.endpoint

    @property
    def cluster(self) -> int:
        return self.path.cluster


@dataclass(frozen=True)
class StatusIB(ImStruct):
    status: int = tlv_field(0, UInt16)
    cluster_status: int | None = tlv_field(1, UInt16, optional=True)


@dataclass(frozen=True)
class AttributeData(ImStruct):
    path: AttributePath = tlv_field(1, StructOf(AttributePath))
    data: Any = tlv_field(2, AnyTLV, nullable=True)  # present, and null for a nullable attribute
    data_version: int | None = tlv_field(0, UInt32, optional=True)


@dataclass(frozen=True)
class AttributeStatus(ImStruct):
    path: AttributePath = tlv_field(0, StructOf(AttributePath))
    status: StatusIB = tlv_field(1, StructOf(StatusIB))


@dataclass(frozen=True)
class CommandData(ImStruct):
    path: CommandPath = tlv_field(0, StructOf(CommandPath))
    fields: Any = tlv_field(1, AnyTLV, optional=True)
    ref: int | None = tlv_field(2, UInt16, optional=True)


@dataclass(frozen=True)
class CommandStatus(ImStruct):
    path: CommandPath = tlv_field(0, StructOf(CommandPath))
    status: StatusIB = tlv_field(1, StructOf(StatusIB))
    ref: int | None = tlv_field(2, UInt16, optional=True)


# ---------------------------------------------------------------------------- messages

_ATTRIBUTE_PATHS = ListOf(StructOf(AttributePath))
_EVENT_PATHS = ListOf(StructOf(EventPath))
_EVENT_FILTERS = ListOf(StructOf(EventFilter))
_VERSION_FILTERS = ListOf(StructOf(DataVersionFilter))
_ENCODED_IBS = ListOf(AnyTLV)  # report IBs, encoded as they were made


@dataclass(frozen=True)
class ReadRequest(ImMessage):
    attribute_requests: tuple[AttributePath, ...] = tlv_field(0, _ATTRIBUTE_PATHS, optional=True, default=())
    event_requests: tuple[EventPath, ...] = tlv_field(1, _EVENT_PATHS, optional=True, default=())
    is_fabric_filtered: bool = tlv_field(3, Bool, optional=True, default=True)
    data_version_filters: tuple[DataVersionFilter, ...] = tlv_field(4, _VERSION_FILTERS, optional=True, default=())
    event_filters: tuple[EventFilter, ...] = tlv_field(2, _EVENT_FILTERS, optional=True, default=())


@dataclass(frozen=True, kw_only=True)
class SubscribeRequest(ImMessage):
    keep_subscriptions: bool = tlv_field(0, Bool, optional=True, default=False)
    min_interval_floor: int = tlv_field(1, UInt16)
    max_interval_ceiling: int = tlv_field(2, UInt16)
    attribute_requests: tuple[AttributePath, ...] = tlv_field(3, _ATTRIBUTE_PATHS, optional=True, default=())
    event_requests: tuple[EventPath, ...] = tlv_field(4, _EVENT_PATHS, optional=True, default=())
    is_fabric_filtered: bool = tlv_field(7, Bool, optional=True, default=True)
    data_version_filters: tuple[DataVersionFilter, ...] = tlv_field(8, _VERSION_FILTERS, optional=True, default=())
    event_filters: tuple[EventFilter, ...] = tlv_field(5, _EVENT_FILTERS, optional=True, default=())


@dataclass(frozen=True)
class SubscribeResponse(ImMessage):
    subscription_id: int = tlv_field(0, UInt32)
    max_interval: int = tlv_field(2, UInt16)


@dataclass
class ReportData(ImMessage):
    reports: list[tlv.Structure] = tlv_field(1, _ENCODED_IBS, optional=True, default_factory=list, omit_default=True)
    subscription_id: int | None = tlv_field(0, UInt32, optional=True)
    more_chunked: bool = tlv_field(3, Bool, optional=True, default=False, omit_default=True)
    suppress_response: bool = tlv_field(4, Bool, optional=True, default=False, omit_default=True)
    event_reports: list[tlv.Structure] = tlv_field(
        2, _ENCODED_IBS, optional=True, default_factory=list, omit_default=True
    )

    def __post_init__(self) -> None:
        self.reports, self.event_reports = list(self.reports), list(self.event_reports)  # decoded as tuples

    @staticmethod
    def data_report(data: AttributeData) -> tlv.Structure:
        return tlv.Structure({1: data.to_tlv()})

    @staticmethod
    def status_report(status: AttributeStatus) -> tlv.Structure:
        return tlv.Structure({0: status.to_tlv()})


@dataclass(frozen=True)
class InvokeRequest(ImMessage):
    suppress_response: bool = tlv_field(0, Bool, optional=True, default=False)
    timed_request: bool = tlv_field(1, Bool, optional=True, default=False)
    invoke_requests: tuple[CommandData, ...] = tlv_field(2, ListOf(StructOf(CommandData)), optional=True, default=())


@dataclass
class InvokeResponse(ImMessage):
    responses: list[CommandData | CommandStatus] = tlv_field(
        1, ListOf(OneOf(((0, CommandData), (1, CommandStatus)))), optional=True, default_factory=list
    )
    suppress_response: bool = tlv_field(0, Bool, optional=True, default=False)
    more_chunked: bool = tlv_field(2, Bool, optional=True, default=False, omit_default=True)

    def __post_init__(self) -> None:
        self.responses = list(self.responses)


@dataclass(frozen=True)
class WriteRequest(ImMessage):
    suppress_response: bool = tlv_field(0, Bool, optional=True, default=False)
    timed_request: bool = tlv_field(1, Bool, optional=True, default=False)
    write_requests: tuple[AttributeData, ...] = tlv_field(2, ListOf(StructOf(AttributeData)), optional=True, default=())
    more_chunked: bool = tlv_field(3, Bool, optional=True, default=False, omit_default=True)


@dataclass
class WriteResponse(ImMessage):
    statuses: list[AttributeStatus] = tlv_field(0, ListOf(StructOf(AttributeStatus)), default_factory=list)


@dataclass(frozen=True)
class StatusResponse(ImMessage):
    status: int = tlv_field(0, UInt8)


@dataclass(frozen=True)
class TimedRequest(ImMessage):
    timeout_ms: int = tlv_field(0, UInt16)
