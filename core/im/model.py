"""The data model the Interaction Model serves: endpoints, clusters, attributes, commands.

A cluster declares its attributes and commands with their privileges; the global
attributes (ClusterRevision, FeatureMap, AttributeList, Accepted/GeneratedCommandList)
come from those declarations, so they can never disagree with what the cluster serves.
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from ..codec import tlv
from ..codec.im_status import ImStatus
from ..codec.tlv import UInt
from ..fabric.acl import Privilege, SubjectDescriptor
from ..session.secure import SecureSession

__all__ = [
    "AttributeSpec",
    "Cluster",
    "CommandSpec",
    "DataModel",
    "Endpoint",
    "ImError",
    "RequestContext",
]

CLUSTER_REVISION, FEATURE_MAP, ATTRIBUTE_LIST = 0xFFFD, 0xFFFC, 0xFFFB
ACCEPTED_COMMANDS, GENERATED_COMMANDS = 0xFFF9, 0xFFF8
GLOBAL_ATTRIBUTES = (GENERATED_COMMANDS, ACCEPTED_COMMANDS, ATTRIBUTE_LIST, FEATURE_MAP, CLUSTER_REVISION)


class ImError(Exception):
    """Answer this path with a status instead of data."""

    def __init__(self, status: ImStatus, cluster_status: int | None = None, reason: str = "") -> None:
        super().__init__(reason or status.name)
        self.status = status
        self.cluster_status = cluster_status


class NoResponse(Exception):
    """Raised by a command handler that deliberately sends nothing (only the MRP ack goes out)."""


@dataclass
class RequestContext:
    session: SecureSession
    subject: SubjectDescriptor
    is_fabric_filtered: bool = True
    timed: bool = False
    exchange: Any = None

    @property
    def fabric_index(self) -> int:
        return self.subject.fabric_index


@dataclass(frozen=True)
class AttributeSpec:
    id: int
    read: Callable[[RequestContext], Any]
    write: Callable[[RequestContext, Any], None] | None = None
    read_privilege: Privilege = Privilege.VIEW
    write_privilege: Privilege = Privilege.OPERATE
    timed_write: bool = False
    is_list: bool = False
    fabric_scoped: bool = False  # a list of structs carrying FabricIndex (0xFE); filtered on fabric-filtered reads
    # Fabric-sensitive fields of those structs: a read that is not fabric-filtered shows other
    # fabrics' entries with these fields left out (Core spec 7.13.4; the SDK's EncodeForRead).
    sensitive_fields: tuple[int, ...] = ()


CommandResult = tuple[int, Any] | None  # (response command id, response fields) or None for SUCCESS


@dataclass(frozen=True)
class CommandSpec:
    id: int
    handler: Callable[[RequestContext, Any], CommandResult]
    privilege: Privilege = Privilege.OPERATE
    response_id: int | None = None
    timed: bool = False
    fabric_scoped: bool = False


class Cluster:
    id: int = 0
    revision: int = 1
    feature_map: int = 0

    def __init__(self) -> None:
        self._attributes: dict[int, AttributeSpec] = {}
        self._commands: dict[int, CommandSpec] = {}
        self._events: dict[int, Privilege] = {}  # event id -> the privilege needed to read it
        self.data_version = secrets.randbits(32)
        self.listeners: list[Callable[[Cluster], None]] = []

    # declarations -----------------------------------------------------------

    def attribute(self, spec: AttributeSpec) -> None:
        self._attributes[spec.id] = spec

    def constant(self, attribute_id: int, value: Any) -> None:
        self.attribute(AttributeSpec(attribute_id, functools.partial(_constant, value)))

    def command(self, spec: CommandSpec) -> None:
        self._commands[spec.id] = spec

    def event(self, event_id: int, privilege: Privilege = Privilege.VIEW) -> None:
        """Declare an event this cluster emits (through the node's EventLog)."""
        self._events[event_id] = privilege

    def event_privilege(self, event_id: int) -> Privilege | None:
        return self._events.get(event_id)

    def changed(self) -> None:
        """Call after any attribute value changes: bumps DataVersion and tells subscribers."""
        self.data_version = (self.data_version + 1) & 0xFFFF_FFFF
        for listener in list(self.listeners):
            listener(self)

    # lookup -----------------------------------------------------------------

    def attribute_spec(self, attribute_id: int) -> AttributeSpec | None:
        if attribute_id in self._attributes:
            return self._attributes[attribute_id]
        readers: dict[int, Callable[[RequestContext], Any]] = {
            CLUSTER_REVISION: lambda _c: UInt(self.revision),
            FEATURE_MAP: lambda _c: UInt(self.feature_map),
            ATTRIBUTE_LIST: lambda _c: tlv.Array(UInt(a) for a in self.attribute_ids()),
            ACCEPTED_COMMANDS: lambda _c: tlv.Array(UInt(c) for c in sorted(self._commands)),
            GENERATED_COMMANDS: lambda _c: tlv.Array(
                UInt(c) for c in sorted({s.response_id for s in self._commands.values() if s.response_id is not None})
            ),
        }
        reader = readers.get(attribute_id)
        return AttributeSpec(attribute_id, reader, is_list=attribute_id < FEATURE_MAP) if reader else None

    def attribute_ids(self) -> list[int]:
        return [*sorted(self._attributes), *GLOBAL_ATTRIBUTES]

    def command_spec(self, command_id: int) -> CommandSpec | None:
        return self._commands.get(command_id)


@dataclass
class Endpoint:
    id: int
    device_types: list[tuple[int, int]] = field(default_factory=list)  # (device type id, revision)
    clusters: dict[int, Cluster] = field(default_factory=dict)

    def add(self, cluster: Cluster) -> Cluster:
        self.clusters[cluster.id] = cluster
        return cluster

    @property
    def device_type_ids(self) -> list[int]:
        return [d for d, _ in self.device_types]


class DataModel:
    def __init__(self) -> None:
        self.endpoints: dict[int, Endpoint] = {}

    def add(self, endpoint: Endpoint) -> Endpoint:
        self.endpoints[endpoint.id] = endpoint
        return endpoint

    def locate(self, endpoint_id: int | None, cluster_id: int | None) -> tuple[Endpoint, Cluster] | ImStatus:
        """A concrete path's endpoint and cluster, or the status naming what is missing (the one
        resolution every Read, Write, Invoke and event path goes through)."""
        endpoint = self.endpoints.get(endpoint_id) if endpoint_id is not None else None
        if endpoint is None:
            return ImStatus.UNSUPPORTED_ENDPOINT
        cluster = endpoint.clusters.get(cluster_id) if cluster_id is not None else None
        if cluster is None:
            return ImStatus.UNSUPPORTED_CLUSTER
        return endpoint, cluster

    def cluster(self, endpoint_id: int, cluster_id: int) -> Cluster | None:
        endpoint = self.endpoints.get(endpoint_id)
        return endpoint.clusters.get(cluster_id) if endpoint else None

    def clusters(self) -> Iterator[tuple[Endpoint, Cluster]]:
        for endpoint_id in sorted(self.endpoints):
            endpoint = self.endpoints[endpoint_id]
            for cluster_id in sorted(endpoint.clusters):
                yield endpoint, endpoint.clusters[cluster_id]


def _constant(value: Any, _ctx: RequestContext) -> Any:
    return value
