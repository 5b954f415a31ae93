"""The base of every engine event, and the error event, kept apart from :mod:`.events` so the
layers that produce events (the OTA provider, the bench) need not import the front ends' module."""

from __future__ import annotations

import dataclasses
import enum
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar

from .node_ids import Peer

__all__ = ["EngineError", "EngineEvent", "camel_case", "dataclass_fields", "json_value", "peer_fields"]


@dataclass(frozen=True)
class EngineEvent:
    """Values only (no live objects, no callables), so any front end, in this process or through
    the control socket, sees the same thing. ``seq`` is the stream's sequence number, set when the
    engine publishes the event (0 before)."""

    name: ClassVar[str] = "Event"
    logged: ClassVar[bool] = True  # a line in the log and the headless output (not a snapshot or an answer)
    at: float = field(default_factory=time.time, kw_only=True)
    seq: int = field(default=0, kw_only=True)

    def fields(self) -> dict[str, Any]:
        return {}


@dataclass(frozen=True)
class EngineError(EngineEvent):
    name = "Error"
    message: str

    def fields(self) -> dict[str, Any]:
        return {"message": self.message}


def camel_case(name: str) -> str:
    """``software_version_string`` -> ``softwareVersionString``, the cluster's own field names."""
    head, *rest = name.split("_")
    return head + "".join(word.title() for word in rest)


def peer_fields(peer: Peer | None) -> dict[str, int]:
    return {"fabricIndex": peer.fabric_index, "nodeId": peer.node_id} if peer else {}


def json_value(value: Any) -> Any:
    """How a field reads in a JSON line: enums by member name, bytes in upper-case hex (as the SDK
    logs tokens), tuples as lists."""
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, bytes):
        return value.hex().upper()
    if isinstance(value, tuple | list):
        return [json_value(v) for v in value]
    return value


def dataclass_fields(event: EngineEvent, *, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    """Every field of ``event`` but ``at``, ``seq`` and ``skip``, camel-cased, as JSON values."""
    left_out = {"at", "seq", *skip}
    return {
        camel_case(f.name): json_value(getattr(event, f.name))
        for f in dataclasses.fields(event)
        if f.name not in left_out
    }
