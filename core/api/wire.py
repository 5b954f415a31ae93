"""The engine protocol as JSON: events, commands and snapshots to JSON values and back, driven by
the dataclasses' own type hints (with cattrs), so a new event or command needs no code here.

Knobs travel by their names in :mod:`~ota_provider.core.ota.knob_names` (``queryImageStatus``,
``dropBlock`` ...) and their values as those names read them; enums by their member names; tuples
as lists. Decoding a message from a peer raises :class:`WireError` with one line saying what is
wrong, never anything else.
"""

from __future__ import annotations

import contextlib
import dataclasses
import enum
import math
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cattrs
from cattrs.errors import ClassValidationError, ForbiddenExtraKeysError, IterableValidationError

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
#
# cattrs does the walking (dataclasses by their type hints, nested tuples and unions), with one
# hook per type whose JSON form is ours: knobs by their SDK names, enums by member name, bytes in
# hex, paths as text; and readers stricter than cattrs' defaults, because the data comes from
# peers: an integer is an integer of at most 64 bits (not "3"), a list is a list (not a string),
# an object has only the fields its class has.

INT_RANGE = 2**64  # integers on the wire: node ids are unsigned 64-bit, nothing is wider

_converter = cattrs.Converter(forbid_extra_keys=True, unstruct_collection_overrides={tuple: list})


def _is_union(kind: Any) -> bool:
    return typing.get_origin(kind) in (typing.Union, types.UnionType)


def _is_tuple(kind: Any) -> bool:
    return kind is tuple or typing.get_origin(kind) is tuple or _is_named_tuple(kind)


def _is_named_tuple(kind: Any) -> bool:
    return isinstance(kind, type) and issubclass(kind, tuple) and hasattr(kind, "_fields")


def _armed_to_data(armed: ArmedKnob) -> dict[str, Any]:
    """An armed knob's value as a command gives it: the knob's own JSON form."""
    fields = {f.name: to_data(getattr(armed, f.name)) for f in dataclasses.fields(armed)}
    return {**fields, "value": knob_value_to_wire(armed.knob, armed.value)}


for _base in (enum.Enum, enum.IntEnum, enum.StrEnum, enum.IntFlag):
    _converter.register_unstructure_hook(_base, lambda member: member.name)
_converter.register_unstructure_hook(Knob, wire_name)
_converter.register_unstructure_hook(bytes, bytes.hex)
_converter.register_unstructure_hook(Path, str)
_converter.register_unstructure_hook(ArmedKnob, _armed_to_data)
_converter.register_unstructure_hook_func(  # a named tuple too (a Peer): a list, as JSON has no tuples
    lambda kind: isinstance(kind, type) and issubclass(kind, tuple),
    lambda value: [to_data(v) for v in value],
)
_converter.register_unstructure_hook(dict, lambda value: {str(k): to_data(v) for k, v in value.items()})


def to_data(value: Any) -> Any:
    """A JSON value for ``value`` (dataclasses by field, enums by name, tuples as lists)."""
    return _converter.unstructure(value)


def _read_int(data: Any, _kind: Any) -> int:
    if isinstance(data, bool) or not isinstance(data, int):
        raise WireError(f"expected an integer, got {data!r}")
    if not -INT_RANGE <= data < INT_RANGE:  # nothing on this wire is wider than 64 bits
        raise WireError("an integer out of range (at most 64 bits)")
    return data


def _read_float(data: Any, _kind: Any) -> float:
    if isinstance(data, float) and not math.isfinite(data):
        raise WireError(f"expected a finite number, got {data!r}")
    if isinstance(data, bool) or not isinstance(data, int | float):
        raise WireError(f"expected a number, got {data!r}")
    if isinstance(data, int) and not -INT_RANGE <= data < INT_RANGE:
        raise WireError("a number out of range")
    return float(data)


def _read_str(data: Any, _kind: Any) -> str:
    if not isinstance(data, str):
        raise WireError(f"expected text, got {data!r}")
    return data


def _read_bool(data: Any, _kind: Any) -> bool:
    if not isinstance(data, bool):
        raise WireError(f"expected true or false, got {data!r}")
    return data


def _read_bytes(data: Any, _kind: Any) -> bytes:
    if isinstance(data, str):
        with contextlib.suppress(ValueError):
            return bytes.fromhex(data)
    raise WireError(f"expected hexadecimal bytes, got {data!r}")


def _read_path(data: Any, _kind: Any) -> Path:
    if not isinstance(data, str):
        raise WireError(f"expected a path, got {data!r}")
    return Path(data)


def _read_knob(data: Any, _kind: Any) -> Knob:
    if not isinstance(data, str):
        raise WireError(f"a knob name, not {data!r}")
    try:
        return knob_by_name(data).knob
    except ValueError as exc:
        raise WireError(str(exc)) from None


def _read_enum(data: Any, kind: type[enum.Enum]) -> enum.Enum:
    if not isinstance(data, str) or data not in kind.__members__:
        raise WireError(f"one of {', '.join(kind.__members__)}, not {data!r}")
    return kind[data]


def _read_any(data: Any, _kind: Any) -> Any:
    return data


def _read_dict(data: Any, _kind: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise WireError(f"expected an object, got {type(data).__name__}")
    return dict(data)


def _tuple_reader(kind: Any) -> Callable[[Any, Any], tuple[Any, ...]]:
    named = _is_named_tuple(kind)
    args = tuple(typing.get_type_hints(kind).values()) if named else typing.get_args(kind)

    def read(data: Any, _kind: Any) -> tuple[Any, ...]:
        if not isinstance(data, list):
            raise WireError(f"expected a list, got {type(data).__name__}")
        if not args:  # a bare tuple (a socket address): its items as they are
            return tuple(data)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_item(args[0], v, i) for i, v in enumerate(data))
        if len(args) != len(data):
            raise WireError(f"expected {len(args)} items, got {len(data)}")
        items = tuple(_item(a, v, i) for i, (a, v) in enumerate(zip(args, data, strict=True)))
        return kind(*items) if named else items

    return read


def _item(kind: Any, data: Any, index: int) -> Any:
    try:
        return _converter.structure(data, kind)
    except WireError as exc:
        raise WireError(f"[{index}]: {exc}") from None
    except Exception as exc:  # a nested object's error, said in one line with its path
        raise WireError(_one_line(exc, f"[{index}]")) from None


def _union_reader(kind: Any) -> Callable[[Any, Any], Any]:
    options = [o for o in typing.get_args(kind) if o is not type(None)]
    optional = len(options) < len(typing.get_args(kind))

    def read(data: Any, _kind: Any) -> Any:
        if data is None and optional:
            return None
        errors = []
        for option in options:
            try:
                return _converter.structure(data, option)
            except WireError as exc:
                errors.append(str(exc))
            except Exception as exc:
                errors.append(_one_line(exc, ""))
        raise WireError(errors[0] if errors else "unexpected null")

    return read


def _read_armed(data: Any, _kind: Any) -> ArmedKnob:
    if not isinstance(data, dict):
        raise WireError(f"expected an object, got {type(data).__name__}")
    armed = _structure_armed({**data, "value": None}, ArmedKnob)
    try:
        return dataclasses.replace(armed, value=parse_knob(wire_name(armed.knob), data.get("value"))[1])
    except ValueError as exc:
        raise WireError(f"value: {exc}") from None


for _kind, _reader in (
    (int, _read_int),
    (float, _read_float),
    (str, _read_str),
    (bool, _read_bool),
    (bytes, _read_bytes),
    (Path, _read_path),
):
    _converter.register_structure_hook(_kind, _reader)
# Enums by member name; IntEnum and StrEnum named too, as their int or str base would come first.
for _base in (enum.Enum, enum.IntEnum, enum.StrEnum, enum.IntFlag):
    _converter.register_structure_hook(_base, _read_enum)
_converter.register_structure_hook(Knob, _read_knob)
_converter.register_structure_hook_func(lambda kind: kind is Any or kind is object, _read_any)
_converter.register_structure_hook_func(lambda kind: kind is dict or typing.get_origin(kind) is dict, _read_dict)
_converter.register_structure_hook_factory(_is_tuple, _tuple_reader)
_converter.register_structure_hook_factory(_is_union, _union_reader)
_structure_armed = _converter.get_structure_hook(ArmedKnob)  # the generated reader, before the override
_converter.register_structure_hook(ArmedKnob, _read_armed)


def _say(exc: BaseException, kind: type | None) -> str:
    if isinstance(exc, KeyError):
        return "is missing"
    if isinstance(exc, ForbiddenExtraKeysError):
        return f"unknown field(s) {', '.join(sorted(exc.extra_fields))}"
    if isinstance(exc, WireError | ValueError | TypeError):
        return str(exc)
    return f"cannot read a {kind!r}"


def _one_line(exc: BaseException, where: str) -> str:
    """The first of cattrs' errors as ``where.field: what is wrong`` (one line, the path first)."""
    first = cattrs.transform_error(exc, path=where, format_exception=_say)[0]
    message, _, path = first.rpartition(" @ ")
    path = path.replace(".[", "[")
    return f"{path} {message}" if message == "is missing" else f"{path}: {message}"


def from_data(kind: Any, data: Any, where: str = "value") -> Any:
    """``data`` read back as ``kind`` (a type hint); WireError names the field that is wrong."""
    try:
        return _converter.structure(data, kind)
    except WireError as exc:
        raise WireError(f"{where}: {exc}") from None
    except (ClassValidationError, IterableValidationError, ForbiddenExtraKeysError) as exc:
        raise WireError(_one_line(exc, where)) from None
    except (TypeError, ValueError, KeyError) as exc:  # a class's own check of its values
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
    return from_data(cls, data, cls.__name__)


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
            rest = from_data(cls, {**args, "knob": wire_name(knob), "value": None}, name)
            return dataclasses.replace(rest, value=value)
        if cls is ArmKnobs and isinstance(args.get("knobs"), list):
            pairs = []
            for item in args.pop("knobs"):
                if not isinstance(item, list) or len(item) != 2:
                    raise WireError(f"{name}: knobs is a list of [name, value] pairs")
                pairs.append(parse_knob(_text(item[0], "knob"), item[1]))
            rest = from_data(cls, {**args, "knobs": []}, name)
            return dataclasses.replace(rest, knobs=tuple(pairs))
    except ValueError as exc:
        raise WireError(str(exc)) from None
    return from_data(cls, args, name)


def _text(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise WireError(f"{what} is text, not {value!r}")
    return value
