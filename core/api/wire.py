"""The engine protocol as JSON: events, commands and snapshots to JSON values and back, driven by
the dataclasses' own type hints, so a new event or command needs no code here.

Knobs travel by their names in :mod:`~ota_provider.core.ota.knob_names` (``queryImageStatus``,
``dropBlock`` ...) and their values as those names read them; enums by their member names; tuples
as lists. Decoding a message from a peer raises :class:`WireError` with one line saying what is
wrong, never anything else.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import functools
import math
import types
import typing
from pathlib import Path
from typing import Any

from ..ota.knob_names import knob_by_name, knob_value_to_wire, parse_knob, wire_name
from ..ota.policy import ArmedKnob, Knob
from .commands import COMMANDS, ArmKnob, ArmKnobs, Command
from .events import EngineEvent

__all__ = [
    "EVENTS",
    "PROTOCOL_VERSION",
    "WireError",
    "command_from_json",
    "command_to_json",
    "event_from_json",
    "event_to_json",
    "from_data",
    "to_data",
]

# 2: an event travels once, as its value under its class's name (1 sent its line and its
# headless fields as well, and named it as the headless output does).
PROTOCOL_VERSION = 2


class WireError(ValueError):
    pass


def _all_events() -> dict[str, type[EngineEvent]]:
    found: dict[str, type[EngineEvent]] = {}
    pending = [EngineEvent]
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if "name" in vars(cls):  # a class that names itself (not a shared base)
            found.setdefault(cls.__name__, cls)
    found.pop("EngineEvent", None)
    return found


EVENTS: dict[str, type[EngineEvent]] = _all_events()


# ---------------------------------------------------------------------- values


INT_RANGE = 2**64  # integers on the wire: node ids are unsigned 64-bit, nothing is wider
_PLAIN = frozenset({str, int, float, bool, type(None)})  # what JSON takes as it is: most of a snapshot


_FIELD_NAMES: dict[type, tuple[str, ...] | None] = {}


def _field_names(cls: type) -> tuple[str, ...] | None:
    """A dataclass's field names, or None for any other class (asked once per class: a snapshot
    of ten transfers is some 250 values, encoded ten times a second while transfers run)."""
    if cls not in _FIELD_NAMES:
        _FIELD_NAMES[cls] = tuple(f.name for f in dataclasses.fields(cls)) if dataclasses.is_dataclass(cls) else None
    return _FIELD_NAMES[cls]


def to_data(value: Any) -> Any:
    """A JSON value for ``value`` (dataclasses by field, enums by name, tuples as lists)."""
    cls = type(value)
    if cls in _PLAIN:
        return value
    if isinstance(value, Knob):
        return wire_name(value)
    if cls is ArmedKnob:  # its value as a command gives it: the knob's own JSON form
        fields = {name: to_data(getattr(value, name)) for name in _field_names(cls) or ()}
        return {**fields, "value": knob_value_to_wire(value.knob, value.value)}
    if isinstance(value, enum.Enum):
        return value.name
    if (names := _field_names(cls)) is not None:
        return {name: to_data(getattr(value, name)) for name in names}
    if isinstance(value, list | tuple):
        return [to_data(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_data(v) for k, v in value.items()}
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, Path):
        return str(value)
    return value


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def from_data(kind: Any, data: Any, where: str = "value") -> Any:
    """``data`` read back as ``kind`` (a type hint); WireError names the field that is wrong."""
    origin = typing.get_origin(kind)
    if kind is Any or kind is object:
        return data
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(kind)
        if data is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return from_data(option, data, where)
            except WireError as exc:
                errors.append(str(exc))
        raise WireError(errors[0] if errors else f"{where}: unexpected null")
    if origin is tuple:
        args = typing.get_args(kind)
        if not isinstance(data, list):
            raise WireError(f"{where}: expected a list, got {type(data).__name__}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(from_data(args[0], v, f"{where}[{i}]") for i, v in enumerate(data))
        if len(args) != len(data):
            raise WireError(f"{where}: expected {len(args)} items, got {len(data)}")
        return tuple(from_data(a, v, f"{where}[{i}]") for i, (a, v) in enumerate(zip(args, data, strict=True)))
    if kind is tuple:  # a bare tuple (a socket address): its items as they are
        if not isinstance(data, list):
            raise WireError(f"{where}: expected a list, got {type(data).__name__}")
        return tuple(data)
    if origin is dict:
        if not isinstance(data, dict):
            raise WireError(f"{where}: expected an object, got {type(data).__name__}")
        return dict(data)
    if isinstance(kind, type) and issubclass(kind, Knob):
        try:
            return _knob(data, where)
        except ValueError as exc:
            raise WireError(str(exc)) from None
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        if not isinstance(data, str) or data not in kind.__members__:
            raise WireError(f"{where}: one of {', '.join(kind.__members__)}, not {data!r}")
        return kind[data]
    if kind is ArmedKnob:
        armed = _dataclass(kind, {**data, "value": None} if isinstance(data, dict) else data, where)
        try:
            return dataclasses.replace(armed, value=parse_knob(wire_name(armed.knob), data.get("value"))[1])
        except ValueError as exc:
            raise WireError(f"{where}.value: {exc}") from None
    if isinstance(kind, type) and dataclasses.is_dataclass(kind):
        return _dataclass(kind, data, where)
    if kind is float:
        if isinstance(data, float) and not math.isfinite(data):
            raise WireError(f"{where}: expected a finite number, got {data!r}")
        if isinstance(data, bool) or not isinstance(data, int | float):
            raise WireError(f"{where}: expected a number, got {data!r}")
        if isinstance(data, int) and not -INT_RANGE <= data < INT_RANGE:
            raise WireError(f"{where}: a number out of range")
        return float(data)
    if kind is int:
        if isinstance(data, bool) or not isinstance(data, int):
            raise WireError(f"{where}: expected an integer, got {data!r}")
        if not -INT_RANGE <= data < INT_RANGE:  # nothing on this wire is wider than 64 bits
            raise WireError(f"{where}: an integer out of range (at most 64 bits)")
        return data
    if kind in (str, bool):
        if not isinstance(data, kind):
            raise WireError(f"{where}: expected {'text' if kind is str else 'true or false'}, got {data!r}")
        return data
    if kind is bytes:
        if isinstance(data, str):
            with contextlib.suppress(ValueError):
                return bytes.fromhex(data)
        raise WireError(f"{where}: expected hexadecimal bytes, got {data!r}")
    if kind is Path:
        if not isinstance(data, str):
            raise WireError(f"{where}: expected a path, got {data!r}")
        return Path(data)
    raise WireError(f"{where}: cannot read a {kind!r}")


def _knob(data: Any, where: str) -> Knob:
    if not isinstance(data, str):
        raise WireError(f"{where}: a knob name, not {data!r}")
    return knob_by_name(data).knob


def _dataclass(cls: type, data: Any, where: str) -> Any:
    if not isinstance(data, dict):
        raise WireError(f"{where}: expected an object, got {type(data).__name__}")
    hints = _hints(cls)
    values = {}
    for f in dataclasses.fields(cls):
        if not f.init:
            continue
        if f.name in data:
            values[f.name] = from_data(hints[f.name], data[f.name], f"{where}.{f.name}")
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise WireError(f"{where}: {f.name} is missing")
    unknown = set(data) - {f.name for f in dataclasses.fields(cls)}
    if unknown:
        raise WireError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    try:
        return cls(**values)
    except (TypeError, ValueError) as exc:
        raise WireError(f"{where}: {exc}") from None


# ---------------------------------------------------------------------- events


def event_to_json(event: EngineEvent) -> dict[str, Any]:
    """One shape: the event's class name and its value (``data``); a client words it itself."""
    data = to_data(event)
    if "command" in data and isinstance(getattr(event, "command", None), Command):
        data["command"] = command_to_json(event.command)  # type: ignore[attr-defined]
    return {"type": "event", "name": type(event).__name__, "seq": event.seq, "at": event.at, "data": data}


def event_from_json(message: Any) -> EngineEvent:
    if not isinstance(message, dict) or not isinstance(message.get("data"), dict):
        raise WireError("an event message has a name and data")
    name = message.get("name")
    cls = EVENTS.get(name) if isinstance(name, str) else None
    if cls is None:
        raise WireError(f"unknown event {name!r}")
    data = dict(message["data"])
    if isinstance(data.get("command"), dict):
        with contextlib.suppress(WireError):  # an answer to a command this client does not know: kept as sent
            data["command"] = command_from_json(data["command"])
    return _dataclass(cls, data, cls.__name__)


# ---------------------------------------------------------------------- commands


def command_to_json(command: Command) -> dict[str, Any]:
    args = {f.name: to_data(getattr(command, f.name)) for f in dataclasses.fields(command) if f.name != "id"}
    if isinstance(command, ArmKnob):
        args["value"] = knob_value_to_wire(command.knob, command.value)
    elif isinstance(command, ArmKnobs):
        args["knobs"] = [[wire_name(k), knob_value_to_wire(k, v)] for k, v in command.knobs]
    return {
        "type": "command",
        "command": type(command).__name__,
        "version": command.VERSION,
        "id": command.id,
        "args": args,
    }


def command_from_json(message: Any) -> Command:
    """A command from a client; WireError says in one line what is wrong with it."""
    if not isinstance(message, dict):
        raise WireError("a command is a JSON object")
    name = message.get("command")
    cls = COMMANDS.get(name) if isinstance(name, str) else None
    if name is None or cls is None:
        raise WireError(f"unknown command {name!r}: one of {', '.join(sorted(COMMANDS))}")
    version = message.get("version", cls.VERSION)
    if version != cls.VERSION:
        raise WireError(f"{name} version {version!r} is not supported (this provider speaks version {cls.VERSION})")
    args = message.get("args", {})
    if not isinstance(args, dict):
        raise WireError(f"{name}: args is a JSON object")
    args = dict(args)
    command_id = message.get("id")
    if command_id is not None:
        if not isinstance(command_id, str | int) or isinstance(command_id, bool) or len(str(command_id)) > 100:
            raise WireError("id is a string of up to 100 characters")
        args["id"] = str(command_id)
    try:
        if cls is ArmKnob and "knob" in args:
            knob, value = parse_knob(_text(args.pop("knob"), "knob"), args.pop("value", None))
            rest = _dataclass(cls, {**args, "knob": wire_name(knob), "value": None}, name)
            return dataclasses.replace(rest, value=value)
        if cls is ArmKnobs and isinstance(args.get("knobs"), list):
            pairs = []
            for item in args.pop("knobs"):
                if not isinstance(item, list) or len(item) != 2:
                    raise WireError(f"{name}: knobs is a list of [name, value] pairs")
                pairs.append(parse_knob(_text(item[0], "knob"), item[1]))
            rest = _dataclass(cls, {**args, "knobs": []}, name)
            return dataclasses.replace(rest, knobs=tuple(pairs))
    except ValueError as exc:
        raise WireError(str(exc)) from None
    return _dataclass(cls, args, name)


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise WireError(f"{what} is text, not {value!r}")
    return value
