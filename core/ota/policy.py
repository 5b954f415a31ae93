"""The live knobs that shape the next QueryImage and ApplyUpdate responses.

A knob is armed with a value, a scope (one-shot: the next response actually sent; sticky: every
response until disarmed) and a target (every requestor, or one (fabric index, node id)). A knob
aimed at a node wins over one aimed at everyone. The SDK app's flags map onto one-shot knobs
for everyone, which reproduces its "first response only" behaviour (OTA_PROVIDER_SPEC.md §1.1,
§2.2), including that ignored commands consume nothing.

Pure logic: no I/O, no clock. :class:`OtaPolicy.decide_query` and :meth:`decide_apply` say what
to answer and which armed knobs the answer consumed, so the engine can report who used them.
"""

from __future__ import annotations

import dataclasses
import enum
import itertools
from dataclasses import dataclass, field
from typing import Any

from ..node_ids import Peer, hold_peers
from .types import ApplyUpdateAction, QueryImageStatus, UserConsentState

__all__ = [
    "ApplyDecision",
    "ArmedKnob",
    "Knob",
    "OtaPolicy",
    "Peer",
    "QueryDecision",
    "policy_from_sdk_flags",
]


class Knob(enum.Enum):
    QUERY_STATUS = "query status"  # QueryImageStatus
    QUERY_DELAY = "query delay"  # seconds, sent only with Busy
    CONSENT_NEEDED = "consent needed"  # bool; honoured only if the requestor can consent
    CONSENT_STATE = "consent state"  # UserConsentState, the provider-side consent
    IGNORE_QUERY = "ignore queries"  # count of QueryImage commands left unanswered
    FORCED_DESIGNATOR = "forced image"  # catalog designator to offer, whatever the versions
    APPLY_ACTION = "apply action"  # ApplyUpdateAction
    APPLY_DELAY = "apply delay"  # seconds
    IGNORE_APPLY = "ignore applies"  # count of ApplyUpdateRequests left unanswered
    # Faults, for debugging a requestor's download: each names the block counter it hits.
    DROP_BLOCK = "drop block"  # int N: Block N is never sent (the transfer stalls)
    DELAY_BLOCK = "delay block"  # (N, seconds): Block N goes out late
    CORRUPT_BLOCK = "corrupt block"  # int N: one byte of Block N's data is flipped
    END_TRANSFER = "end transfer"  # (N, BdxStatus): a StatusReport instead of Block N


_VALUE_TYPES: dict[Knob, type | tuple[type, ...]] = {
    Knob.QUERY_STATUS: QueryImageStatus,
    Knob.QUERY_DELAY: int,
    Knob.CONSENT_NEEDED: bool,
    Knob.CONSENT_STATE: UserConsentState,
    Knob.IGNORE_QUERY: int,
    Knob.FORCED_DESIGNATOR: str,
    Knob.APPLY_ACTION: ApplyUpdateAction,
    Knob.APPLY_DELAY: int,
    Knob.IGNORE_APPLY: int,
    Knob.DROP_BLOCK: int,
    Knob.DELAY_BLOCK: tuple,
    Knob.CORRUPT_BLOCK: int,
    Knob.END_TRANSFER: tuple,
}
FAULTS = (Knob.DROP_BLOCK, Knob.DELAY_BLOCK, Knob.CORRUPT_BLOCK, Knob.END_TRANSFER)
COUNTERS = (Knob.IGNORE_QUERY, Knob.IGNORE_APPLY)


@dataclass(frozen=True)
class ArmedKnob:
    id: int
    knob: Knob
    value: Any
    sticky: bool = False
    target: Peer | None = None  # None: every requestor
    group: int = 0  # the knobs armed together (one press of Arm): they shape one response of one node
    first_response: bool = False  # the SDK app's flags: spent by the first response sent, whatever it is

    def __post_init__(self) -> None:
        hold_peers(self, "target")


# The knobs that shape a QueryImageResponse, and those that shape an ApplyUpdateResponse.
QUERY_KNOBS = (Knob.QUERY_STATUS, Knob.QUERY_DELAY, Knob.CONSENT_NEEDED, Knob.FORCED_DESIGNATOR, Knob.CONSENT_STATE)
APPLY_KNOBS = (Knob.APPLY_ACTION, Knob.APPLY_DELAY)


@dataclass(frozen=True)
class QueryDecision:
    ignored: bool = False
    status: QueryImageStatus = QueryImageStatus.UPDATE_AVAILABLE
    delayed_action_time: int = 0
    user_consent_needed: bool = False
    forced_designator: str | None = None
    consent_consulted: UserConsentState | None = None
    used: tuple[ArmedKnob, ...] = ()


@dataclass(frozen=True)
class ApplyDecision:
    ignored: bool = False
    action: ApplyUpdateAction = ApplyUpdateAction.PROCEED
    delayed_action_time: int = 0
    used: tuple[ArmedKnob, ...] = ()


def _check(knob: Knob, value: Any) -> None:
    """Refuse a value the knob cannot take (ValueError, one line for the user)."""
    expected = _VALUE_TYPES[knob]
    if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
        raise ValueError(f"{knob.value}: {value!r} is not a {getattr(expected, '__name__', expected)}")
    if isinstance(value, int) and not isinstance(value, enum.Enum) and not 0 <= value <= 0xFFFF_FFFF:
        raise ValueError(f"{knob.value}: {value} is outside 0..4294967295")
    if knob == Knob.DELAY_BLOCK and not (
        isinstance(value, tuple)
        and len(value) == 2
        and isinstance(value[0], int)
        and isinstance(value[1], int | float)
        and value[1] >= 0
    ):
        raise ValueError(f"{knob.value}: give (block number, seconds), not {value!r}")
    if knob == Knob.END_TRANSFER and not (
        isinstance(value, tuple)
        and len(value) == 2
        and isinstance(value[0], int)
        and isinstance(value[1], enum.IntEnum)
    ):
        raise ValueError(f"{knob.value}: give (block number, BDX status), not {value!r}")


@dataclass
class OtaPolicy:
    armed: list[ArmedKnob] = field(default_factory=list)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1), repr=False)

    # ------------------------------------------------------------------ arming

    def arm(
        self,
        knob: Knob,
        value: Any,
        *,
        sticky: bool = False,
        target: Peer | None = None,
        group: int | None = None,
        first_response: bool = False,
    ) -> ArmedKnob:
        """Arm a knob, replacing any armed knob of the same kind and target."""
        _check(knob, value)
        self.disarm(knob, target=target)
        number = next(self._ids)
        armed = ArmedKnob(number, knob, value, sticky, target, group or number, first_response)
        if not (knob in COUNTERS and value == 0):
            self.armed.append(armed)
        return armed

    def arm_all(
        self, knobs: list[tuple[Knob, Any]], *, sticky: bool = False, target: Peer | None = None
    ) -> list[ArmedKnob]:
        """Arm several knobs at once, or none if any value is refused: what one press of Arm asks
        for shapes one response, never half of it."""
        for knob, value in knobs:
            _check(knob, value)
        armed: list[ArmedKnob] = []
        for knob, value in knobs:
            armed.append(self.arm(knob, value, sticky=sticky, target=target, group=armed[0].id if armed else None))
        return armed

    def disarm(self, knob: Knob, *, target: Peer | None = None) -> int:
        """Disarm ``knob`` for ``target``; how many armed knobs that removed."""
        kept = [a for a in self.armed if not (a.knob == knob and a.target == target)]
        removed, self.armed = len(self.armed) - len(kept), kept
        return removed

    def clear(self) -> None:
        self.armed.clear()

    def _find(self, knob: Knob, peer: Peer) -> ArmedKnob | None:
        general = None
        for armed in self.armed:
            if armed.knob == knob:
                if armed.target == peer:
                    return armed
                if armed.target is None:
                    general = armed
        return general

    def _consume(self, armed: ArmedKnob) -> None:
        if armed.knob in COUNTERS:
            index = self.armed.index(armed)
            left = armed.value - 1
            if left > 0:
                self.armed[index] = dataclasses.replace(armed, value=left)
            else:
                self.armed.pop(index)
        elif not armed.sticky:
            self.armed.remove(armed)

    # ------------------------------------------------------------------ decisions

    def decide_query(
        self,
        peer: Peer,
        *,
        requestor_can_consent: bool,
        image_available: bool,
    ) -> QueryDecision:
        """What to answer to a QueryImage from ``peer``; consumes the one-shot knobs it uses."""
        ignore = self._find(Knob.IGNORE_QUERY, peer)
        if ignore is not None:
            self._consume(ignore)
            return QueryDecision(ignored=True, used=(ignore,))
        found = {knob: self._find(knob, peer) for knob in QUERY_KNOBS}

        def value(knob: Knob, default: Any) -> Any:
            armed = found[knob]
            return default if armed is None else armed.value

        status = value(Knob.QUERY_STATUS, QueryImageStatus.UPDATE_AVAILABLE)
        delay = value(Knob.QUERY_DELAY, 0)
        consent_needed = bool(value(Knob.CONSENT_NEEDED, False)) and requestor_can_consent
        forced = value(Knob.FORCED_DESIGNATOR, None)
        consulted = None
        if status == QueryImageStatus.UPDATE_AVAILABLE:
            if forced is None and not image_available:
                status = QueryImageStatus.NOT_AVAILABLE
            # As the SDK: the provider-side consent is asked only when the requestor is not
            # itself going to ask its user, and only for an update that would be offered.
            elif not consent_needed:
                consulted = value(Knob.CONSENT_STATE, None)
                if consulted == UserConsentState.DENIED:
                    status = QueryImageStatus.NOT_AVAILABLE
                elif consulted == UserConsentState.DEFERRED:
                    status = QueryImageStatus.BUSY
        offered = status == QueryImageStatus.UPDATE_AVAILABLE
        # A knob is used (and a one-shot spent) only by a response it shaped: "consent needed" is
        # not spent on a requestor that was up to date, nor a busy delay on an offer.
        status_knob = found[Knob.QUERY_STATUS]
        shaped = {
            Knob.QUERY_STATUS: status_knob is not None and status == status_knob.value,
            Knob.QUERY_DELAY: status == QueryImageStatus.BUSY,
            Knob.CONSENT_NEEDED: offered and requestor_can_consent,
            Knob.FORCED_DESIGNATOR: offered,
            Knob.CONSENT_STATE: consulted is not None,
        }
        used = [armed for knob in QUERY_KNOBS if (armed := found[knob]) is not None and shaped[knob]]
        first = [a for a in found.values() if a is not None and a.first_response and a not in used]
        self._spend(used, peer, QUERY_KNOBS)
        for armed in first:  # as the SDK app: its flags' values are for the first response only
            if armed in self.armed:
                self._consume(armed)
        return QueryDecision(
            status=status,
            delayed_action_time=delay if status == QueryImageStatus.BUSY else 0,
            user_consent_needed=bool(consent_needed) and offered,
            forced_designator=forced if offered else None,
            consent_consulted=consulted,
            used=tuple(used),
        )

    def _spend(self, used: list[ArmedKnob], peer: Peer, phase: tuple[Knob, ...]) -> None:
        """Consume the knobs a response used, and with them the one-shot knobs of this phase armed in
        the same press of Arm for every requestor: one Arm shapes one response of one node, never
        two nodes' halves. That press's knobs for the later phase (the ApplyUpdate answer) follow
        this node."""
        groups = {armed.group for armed in used}
        for armed in used:
            self._consume(armed)
        for armed in list(self.armed):
            if armed.group not in groups or armed.target is not None or armed.sticky:
                continue
            position = self.armed.index(armed)
            if armed.knob in phase:
                self.armed.pop(position)
            else:
                self.armed[position] = dataclasses.replace(armed, target=peer)

    def decide_apply(self, peer: Peer) -> ApplyDecision:
        ignore = self._find(Knob.IGNORE_APPLY, peer)
        if ignore is not None:
            self._consume(ignore)
            return ApplyDecision(ignored=True, used=(ignore,))
        used = [a for a in (self._find(Knob.APPLY_ACTION, peer), self._find(Knob.APPLY_DELAY, peer)) if a]
        action = next((a.value for a in used if a.knob == Knob.APPLY_ACTION), ApplyUpdateAction.PROCEED)
        delay = next((a.value for a in used if a.knob == Knob.APPLY_DELAY), 0)
        self._spend(used, peer, APPLY_KNOBS)
        return ApplyDecision(action=action, delayed_action_time=delay, used=tuple(used))

    def fault_for(self, peer: Peer, counter: int) -> ArmedKnob | None:
        """The fault armed for Block ``counter`` of ``peer``'s transfer, consumed if one-shot."""
        for knob in FAULTS:
            armed = self._find(knob, peer)
            if armed is not None and (armed.value if isinstance(armed.value, int) else armed.value[0]) == counter:
                self._consume(armed)
                return armed
        return None


def policy_from_sdk_flags(config: Any) -> OtaPolicy:
    """The SDK app's ``-q -t -u -c -a -p -x -y`` as knobs: one-shot for everyone, except ``-c``,
    which the SDK applies to every response, and ``-q``/``-t`` with ``--persistQueryImageStatus``,
    which the SDK app then keeps for every response (its ``ApplyQueryImageStatusAfterResponse``)."""
    policy = OtaPolicy()
    persist = bool(getattr(config, "persist_query_image_status", False))
    if config.query_image_status != QueryImageStatus.UPDATE_AVAILABLE:
        status = QueryImageStatus(config.query_image_status)
        policy.arm(Knob.QUERY_STATUS, status, sticky=persist, first_response=not persist)
    if config.delayed_query_action_time:
        delay = config.delayed_query_action_time
        policy.arm(Knob.QUERY_DELAY, delay, sticky=persist, first_response=not persist)
    if config.user_consent_needed:
        policy.arm(Knob.CONSENT_NEEDED, True, sticky=True)
    if config.user_consent_state is not None:
        policy.arm(Knob.CONSENT_STATE, config.user_consent_state)  # spent when consulted, as the SDK app
    if config.apply_update_action != ApplyUpdateAction.PROCEED:
        policy.arm(Knob.APPLY_ACTION, ApplyUpdateAction(config.apply_update_action), first_response=True)
    if config.delayed_apply_action_time:
        policy.arm(Knob.APPLY_DELAY, config.delayed_apply_action_time, first_response=True)
    policy.arm(Knob.IGNORE_QUERY, config.ignore_query_image)
    policy.arm(Knob.IGNORE_APPLY, config.ignore_apply_update)
    return policy
