"""The one table of knob names, for the control socket, ``ota-provider ctl``, the Python client and
the README: the SDK ota-provider-app's long flag names where one exists, names in the same style
for ours (the forced image, the faults). Each name reads its value from a command-line word or a
JSON value, and refuses a bad one with a line saying what it takes."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..codec.status_report import BdxStatus
from .policy import Knob
from .types import ApplyUpdateAction, QueryImageStatus, UserConsentState

__all__ = [
    "APPLY_ACTIONS",
    "CONSENT_STATES",
    "KNOB_NAMES",
    "QUERY_STATUSES",
    "SDK_WORDS",
    "KnobName",
    "knob_by_name",
    "knob_value_to_wire",
    "parse_knob",
    "wire_name",
]

# The SDK ota-provider-app's words for these values (its -q, -u and -a flags): what its users type
# and read, here and in every line the presentation writes. By enum class, then member name:
# IntEnum members of different classes with the same value are equal dict keys.
SDK_WORDS: dict[type[enum.Enum], dict[str, str]] = {
    QueryImageStatus: {
        "UPDATE_AVAILABLE": "updateAvailable",
        "BUSY": "busy",
        "NOT_AVAILABLE": "updateNotAvailable",
        "DOWNLOAD_PROTOCOL_NOT_SUPPORTED": "downloadProtocolNotSupported",  # said, never armed (-q has 3)
    },
    UserConsentState: {state.name: state.value for state in UserConsentState},
    ApplyUpdateAction: {"PROCEED": "proceed", "AWAIT_NEXT_ACTION": "awaitNextAction", "DISCONTINUE": "discontinue"},
}
QUERY_STATUSES = {
    word: QueryImageStatus[name]
    for name, word in SDK_WORDS[QueryImageStatus].items()
    if name != "DOWNLOAD_PROTOCOL_NOT_SUPPORTED"
}
APPLY_ACTIONS = {word: ApplyUpdateAction[name] for name, word in SDK_WORDS[ApplyUpdateAction].items()}
CONSENT_STATES = {word: UserConsentState[name] for name, word in SDK_WORDS[UserConsentState].items()}
_BOOLS = {"true": True, "yes": True, "1": True, "on": True, "false": False, "no": False, "0": False, "off": False}
_MAX_U32 = 0xFFFF_FFFF


def _number(raw: Any, what: str) -> int:
    if isinstance(raw, bool):
        raise ValueError(f"{what} is a number, not {raw!r}")
    if isinstance(raw, int):
        value = raw
    elif isinstance(raw, str) and raw.strip().lstrip("+").isdigit():
        value = int(raw.strip())
    elif isinstance(raw, str) and raw.strip().lower().startswith("0x"):
        try:
            value = int(raw.strip(), 16)
        except ValueError:
            raise ValueError(f"{what} is a number, not {raw!r}") from None
    else:
        raise ValueError(f"{what} is a number, not {raw!r}")
    if not 0 <= value <= _MAX_U32:
        raise ValueError(f"{what} must be 0..{_MAX_U32}, not {value}")
    return value


def _seconds(raw: Any, what: str) -> float:
    try:
        value = float(raw) if not isinstance(raw, bool) else None
    except (TypeError, ValueError):
        value = None
    if value is None or not 0 <= value <= 86_400:
        raise ValueError(f"{what} is a number of seconds from 0 to 86400, not {raw!r}")
    return value


def _choice(mapping: dict[str, Any], what: str) -> Callable[[Any], Any]:
    def read(raw: Any) -> Any:
        if isinstance(raw, str) and raw in mapping:
            return mapping[raw]
        raise ValueError(f"{what} is one of {', '.join(mapping)}, not {raw!r}")

    return read


def _bool(raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.lower() in _BOOLS:
        return _BOOLS[raw.lower()]
    raise ValueError(f"userConsentNeeded is true or false, not {raw!r}")


def _pair(raw: Any, what: str) -> tuple[Any, Any]:
    """``N,X`` on a command line, ``[N, X]`` in JSON."""
    if isinstance(raw, str):
        parts = [p.strip() for p in raw.split(",")]
    elif isinstance(raw, list | tuple):
        parts = list(raw)
    else:
        parts = []
    if len(parts) != 2:
        raise ValueError(f"{what} takes BLOCK,VALUE (e.g. 3,2.5), not {raw!r}")
    return parts[0], parts[1]


def _bdx_status(raw: Any) -> BdxStatus:
    if isinstance(raw, str) and not (raw.strip().isdigit() or raw.strip().lower().startswith("0x")):
        names = {s.name.lower().replace("_", "-"): s for s in BdxStatus}
        if raw.lower().replace("_", "-") in names:
            return names[raw.lower().replace("_", "-")]
        raise ValueError(f"endTransfer status is a BDX status code or a name ({', '.join(names)}), not {raw!r}")
    code = _number(raw, "endTransfer status")
    try:
        return BdxStatus(code)
    except ValueError:
        raise ValueError(f"endTransfer status 0x{code:02X} is not a BDX status code") from None


def _designator(raw: Any) -> str:
    if not isinstance(raw, str | int) or isinstance(raw, bool) or not str(raw).strip():
        raise ValueError(f"forcedImage is an image designator (the Images tab's #: 0, 1 ... or tn-...), not {raw!r}")
    return str(raw).strip()


def _delay_block(raw: Any) -> tuple[int, float]:
    block, seconds = _pair(raw, "delayBlock")
    return _number(block, "delayBlock block"), _seconds(seconds, "delayBlock delay")


def _end_transfer(raw: Any) -> tuple[int, BdxStatus]:
    block, status = _pair(raw, "endTransfer")
    return _number(block, "endTransfer block"), _bdx_status(status)


@dataclass(frozen=True)
class KnobName:
    name: str
    knob: Knob
    read: Callable[[Any], Any]
    takes: str  # the value's form, for help and errors
    what: str  # what it does to the next response


def _count(name: str) -> Callable[[Any], int]:
    return lambda raw: _number(raw, name)


KNOB_NAMES: tuple[KnobName, ...] = (
    KnobName(
        "queryImageStatus",
        Knob.QUERY_STATUS,
        _choice(QUERY_STATUSES, "queryImageStatus"),
        "busy|updateAvailable|updateNotAvailable",
        "the Status of the next QueryImageResponse",
    ),
    KnobName(
        "delayedQueryActionTimeSec",
        Knob.QUERY_DELAY,
        _count("delayedQueryActionTimeSec"),
        "SECONDS",
        "DelayedActionTime sent with Busy",
    ),
    KnobName(
        "userConsentNeeded",
        Knob.CONSENT_NEEDED,
        _bool,
        "true|false",
        "UserConsentNeeded (only to a requestor that can consent)",
    ),
    KnobName(
        "userConsentState",
        Knob.CONSENT_STATE,
        _choice(CONSENT_STATES, "userConsentState"),
        "granted|denied|deferred",
        "the provider-side consent",
    ),
    KnobName(
        "applyUpdateAction",
        Knob.APPLY_ACTION,
        _choice(APPLY_ACTIONS, "applyUpdateAction"),
        "proceed|awaitNextAction|discontinue",
        "the Action of the next ApplyUpdateResponse",
    ),
    KnobName(
        "delayedApplyActionTimeSec",
        Knob.APPLY_DELAY,
        _count("delayedApplyActionTimeSec"),
        "SECONDS",
        "DelayedActionTime of the next ApplyUpdateResponse",
    ),
    KnobName(
        "ignoreQueryImage",
        Knob.IGNORE_QUERY,
        _count("ignoreQueryImage"),
        "COUNT",
        "leave the next COUNT QueryImage commands unanswered",
    ),
    KnobName(
        "ignoreApplyUpdate",
        Knob.IGNORE_APPLY,
        _count("ignoreApplyUpdate"),
        "COUNT",
        "leave the next COUNT ApplyUpdateRequests unanswered",
    ),
    KnobName(
        "forcedImage", Knob.FORCED_DESIGNATOR, _designator, "DESIGNATOR", "offer this image whatever the versions"
    ),
    KnobName(
        "dropBlock", Knob.DROP_BLOCK, _count("dropBlock"), "BLOCK", "never send Block BLOCK (the transfer stalls)"
    ),
    KnobName("delayBlock", Knob.DELAY_BLOCK, _delay_block, "BLOCK,SECONDS", "send Block BLOCK late"),
    KnobName("corruptBlock", Knob.CORRUPT_BLOCK, _count("corruptBlock"), "BLOCK", "flip one byte of Block BLOCK"),
    KnobName(
        "endTransfer", Knob.END_TRANSFER, _end_transfer, "BLOCK,STATUS", "a BDX StatusReport instead of Block BLOCK"
    ),
)
_BY_NAME = {k.name.lower(): k for k in KNOB_NAMES}
_BY_KNOB = {k.knob: k for k in KNOB_NAMES}


def knob_by_name(name: str) -> KnobName:
    found = _BY_NAME.get(name.lower())
    if found is None:
        raise ValueError(f"unknown knob {name!r}: one of {', '.join(k.name for k in KNOB_NAMES)}")
    return found


def parse_knob(name: str, raw: Any) -> tuple[Knob, Any]:
    """The knob and its typed value, from a command-line word or a JSON value; ValueError says why not."""
    entry = knob_by_name(name)
    return entry.knob, entry.read(raw)


def wire_name(knob: Knob) -> str:
    return _BY_KNOB[knob].name


def knob_value_to_wire(knob: Knob, value: Any) -> Any:
    """A typed knob value as JSON that :func:`parse_knob` reads back to the same value."""
    for mapping in (QUERY_STATUSES, APPLY_ACTIONS, CONSENT_STATES):
        for text, member in mapping.items():
            if value is member:
                return text
    if knob == Knob.DELAY_BLOCK:
        return [value[0], value[1]]
    if knob == Knob.END_TRANSFER:
        return [value[0], int(value[1])]
    return value
