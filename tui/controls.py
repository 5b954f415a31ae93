"""The next-response form: every policy knob, one-shot or sticky, for all requestors or one node,
with what an SDK requestor will do about it shown next to the control that sets it.

It only reads its widgets into ``(Knob, value)`` pairs; the app (or the arm popup) sends the
command. What is armed and who used it is shown by :class:`ArmedView`, outside the form's scroll,
so it is never below the fold."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

from textual import events
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Checkbox, Input, Label, RadioButton, RadioSet, Select, Static

from ota_provider.core.api.commands import ArmKnobs
from ota_provider.core.api.events import ImageSummary
from ota_provider.core.api.values import (
    ApplyUpdateAction,
    ArmedKnob,
    BdxStatus,
    Knob,
    Peer,
    QueryImageStatus,
    UserConsentState,
)
from ota_provider.core.presentation.knobs import armed_text
from ota_provider.core.presentation.words import bdx_status, enum_name, short_node_id

from .format import clock, peer_from_key

__all__ = ["ALL_REQUESTORS", "FOCUS_MARK", "ArmedView", "NextResponseForm", "knob_hints"]

ALL_REQUESTORS = "all"
# Beside a panel's title, or a field's name, while the keyboard is in it: focus shows in plain text
# too (a terminal capture, a screen reader, a monochrome terminal), not only as a colour.
FOCUS_MARK = "▶ "
DEFAULT_FAULT_DELAY = 5.0


def _choices(members) -> list[tuple[str, Any]]:
    """Select options named as the SDK app's flags name them (``busy``, ``deferred``)."""
    return [(enum_name(member), member) for member in members]


QUERY_STATUS_CHOICES = _choices(
    (QueryImageStatus.UPDATE_AVAILABLE, QueryImageStatus.BUSY, QueryImageStatus.NOT_AVAILABLE)
)
CONSENT_STATE_CHOICES = _choices((UserConsentState.GRANTED, UserConsentState.DEFERRED, UserConsentState.DENIED))
APPLY_ACTION_CHOICES = _choices(ApplyUpdateAction)
FAULT_CHOICES = [
    ("drop block N", Knob.DROP_BLOCK.name),
    ("delay block N", Knob.DELAY_BLOCK.name),
    ("corrupt block N", Knob.CORRUPT_BLOCK.name),
    ("end the transfer at block N", Knob.END_TRANSFER.name),
]
END_STATUS_CHOICES = [(bdx_status(code), int(code)) for code in BdxStatus]
NUMBER_KNOBS = (
    ("query-delay", Knob.QUERY_DELAY),
    ("apply-delay", Knob.APPLY_DELAY),
    ("ignore-query", Knob.IGNORE_QUERY),
    ("ignore-apply", Knob.IGNORE_APPLY),
)
SELECTS = ("query-status", "consent-state", "apply-action", "forced-image", "fault")
INPUTS = ("query-delay", "ignore-query", "apply-delay", "ignore-apply", "fault-block", "fault-delay")

# What an SDK requestor does with each answer (OTA_PROVIDER_SPEC.md §2.6, §2.7, §5): the knob's
# consequences are often decided by the requestor, not by us, and a technician should see them.
_HINTS = {
    (Knob.QUERY_STATUS, QueryImageStatus.BUSY): "busy: an SDK requestor asks again after max(120 s, delay) and "
    "moves on to its next provider after 3 Busy answers",
    (Knob.QUERY_STATUS, QueryImageStatus.NOT_AVAILABLE): "updateNotAvailable: with no other provider, an SDK "
    "requestor waits for its periodic query (24 h by default)",
    (Knob.CONSENT_STATE, UserConsentState.DEFERRED): "deferred answers Busy: the requestor asks again after "
    "max(120 s, delay)",
    (Knob.CONSENT_STATE, UserConsentState.DENIED): "denied answers updateNotAvailable",
    (Knob.APPLY_ACTION, ApplyUpdateAction.AWAIT_NEXT_ACTION): "awaitNextAction: the requestor sends "
    "ApplyUpdateRequest again after max(delay, 120 s)",
    (Knob.APPLY_ACTION, ApplyUpdateAction.DISCONTINUE): "discontinue: the requestor drops the image and goes Idle",
}
_KNOB_HINTS = {
    Knob.IGNORE_QUERY: "ignored query: an SDK requestor times out, retries once at once over a new session, "
    "then waits for its periodic query",
    Knob.IGNORE_APPLY: "ignored apply: an SDK requestor times out, goes Idle and waits for its periodic query",
    Knob.CONSENT_NEEDED: "consent needed: told only to a requestor that can consent; it then asks its user",
    # The BlockQuery is acknowledged (MRP) and never answered: nothing is retransmitted, the
    # requestor just waits (the SDK's OTARequestor: its BDX idle timeout, 5 minutes).
    Knob.DROP_BLOCK: "dropped block: its BlockQuery is acknowledged, never answered; the download stalls until "
    "the requestor gives up (an SDK requestor after 300 s) and queries again",
    Knob.CORRUPT_BLOCK: "corrupt block: the requestor finds out only when it checks the image's digest",
}


# What the keyboard is on, in words, for the form's border (the focus shows in plain text too).
FIELD_NAMES = {
    "query-status": "QueryImage status",
    "query-delay": "QueryImage delay, s",
    "ignore-query": "QueryImages to ignore",
    "consent": "consent needed",
    "consent-state": "provider consent",
    "apply-action": "ApplyUpdate action",
    "apply-delay": "ApplyUpdate delay, s",
    "ignore-apply": "ApplyUpdates to ignore",
    "forced-image": "image to offer",
    "fault": "fault",
    "fault-block": "fault's block number",
    "fault-delay": "block delay, s",
    "fault-status": "end status",
    "scope": "one-shot or sticky",
    "target": "for which requestor",
    "arm": "Arm",
    "clear": "Clear",
}


def knob_hints(knobs: list[tuple[Knob, Any]]) -> list[str]:
    """What a requestor will do about these knobs, one line each."""
    hints = [_HINTS.get((knob, value)) or _KNOB_HINTS.get(knob) for knob, value in knobs]
    return [hint for hint in dict.fromkeys(hints) if hint]


class Toggle(Checkbox):
    """A checkbox whose state reads without colour: ``X`` when on, blank when off."""

    # Textual's public attribute for the mark, read on every render: as a property it follows the
    # value with no watcher to keep in step (a class attribute for mypy, hence the ignore).
    @property
    def BUTTON_INNER(self) -> str:  # type: ignore[override]
        return "X" if self.value else " "


class Choice(RadioButton):
    """A radio button whose state reads without colour: a dot only on the chosen one."""

    @property
    def BUTTON_INNER(self) -> str:  # type: ignore[override]  # as Toggle's
        return "●" if self.value else " "


def _chosen(select: Select) -> Any:
    """The enum member or number a Select holds; ValueError when nothing is chosen."""
    if select.is_blank():
        raise ValueError(f"choose a value for {select.id}")
    return select.value


def _row(*widgets, id: str | None = None) -> Horizontal:
    return Horizontal(*widgets, classes="row", id=id)


def _delay_and_ignore(delay_id: str, ignore_id: str) -> Horizontal:
    """The row under a command: its DelayedActionTime and how many to leave unanswered."""
    return _row(
        Label("delay", classes="sub"),
        _number(delay_id, "integer"),
        Label("s", classes="unit"),
        Label("ignore", classes="pair"),
        _number(ignore_id, "integer"),
    )


class NumberInput(Input):
    """A number field that takes only what a number is written with. Any other key is not its to
    swallow: a letter reaches the dashboard's keys (``a`` arms, ``?`` helps), and the footer keeps
    showing them while the field has focus."""

    NUMBER_CHARACTERS = frozenset("0123456789.-+")

    def check_consume_key(self, key: str, character: str | None) -> bool:
        return character is not None and character in self.NUMBER_CHARACTERS

    def on_key(self, event: events.Key) -> None:
        # Called before Input's own key handler (a subclass's handlers come first): a key that is
        # not a number's is kept from Input, not stopped, so it bubbles to the bindings.
        if event.is_printable and event.character not in self.NUMBER_CHARACTERS:
            event.prevent_default()


def _number(widget_id: str, kind: Literal["integer", "number"]) -> NumberInput:
    # valid_empty: an empty optional field is "unchanged", not an error drawn in red.
    return NumberInput(id=widget_id, type=kind, compact=True, valid_empty=True, classes="number")


class NextResponseForm(VerticalScroll):
    """The controls. Labels sit beside their fields (a placeholder vanishes once there is a value)."""

    def compose(self) -> ComposeResult:
        yield _row(
            Label("QueryImage", classes="head"),
            Select(QUERY_STATUS_CHOICES, id="query-status", prompt="unchanged", compact=True),
        )
        yield _delay_and_ignore("query-delay", "ignore-query")
        yield _row(Toggle("consent needed", id="consent", compact=True))
        yield _row(
            Label("provider", classes="sub"),
            Select(CONSENT_STATE_CHOICES, id="consent-state", prompt="unchanged", compact=True),
        )
        yield _row(
            Label("ApplyUpdate", classes="head"),
            Select(APPLY_ACTION_CHOICES, id="apply-action", prompt="unchanged", compact=True),
        )
        yield _delay_and_ignore("apply-delay", "ignore-apply")
        yield _row(
            Label("Image", classes="head"), Select([], id="forced-image", prompt="newest applicable", compact=True)
        )
        yield _row(Label("Fault", classes="head"), Select(FAULT_CHOICES, id="fault", prompt="none", compact=True))
        yield _row(
            Label("block", classes="sub"),
            _number("fault-block", "integer"),
            Label("delay", classes="pair"),
            _number("fault-delay", "number"),
            Label("s", classes="unit"),
        )
        yield _row(
            Label("status", classes="sub"),
            Select(
                END_STATUS_CHOICES,
                id="fault-status",
                value=int(BdxStatus.TRANSFER_FAILED_UNKNOWN_ERROR),
                allow_blank=False,
                compact=True,
            ),
            id="fault-status-row",
        )
        with RadioSet(id="scope", compact=True):
            yield Choice("one-shot", value=True, id="one-shot")
            yield Choice("sticky", id="sticky")
        yield _row(
            Label("for", classes="head"),
            Select(
                [("all requestors", ALL_REQUESTORS)], id="target", value=ALL_REQUESTORS, allow_blank=False, compact=True
            ),
        )
        yield Static("", id="hint")
        with Horizontal(id="buttons"):
            yield Button("Arm (a)", id="arm", variant="primary", compact=True)
            yield Button("Clear (r)", id="clear", compact=True)

    def focused_field(self) -> str:
        """The control the keyboard is on, in words ("" when it is elsewhere)."""
        focused = self.screen.focused
        if focused is None or (focused is not self and self not in focused.ancestors):
            return ""
        return next((FIELD_NAMES[w.id] for w in (focused, *focused.ancestors) if w.id in FIELD_NAMES), "")

    def on_descendant_focus(self, _) -> None:
        self.border_subtitle = f"{FOCUS_MARK}{self.focused_field()}"

    def on_descendant_blur(self, _) -> None:
        self.call_after_refresh(self._after_blur)  # focus may have moved to another field of the form

    def _after_blur(self) -> None:
        field = self.focused_field()
        self.border_subtitle = f"{FOCUS_MARK}{field}" if field else ""

    def on_mount(self) -> None:
        # References cached once: the app's timer may call in while the screen tears down.
        self.target_select = self.query_one("#target", Select)
        self.image_select = self.query_one("#forced-image", Select)
        self.hint_view = self.query_one("#hint", Static)
        self._show_fault_fields()

    # ------------------------------------------------------------------ reading the controls

    def _number(self, widget_id: str) -> int | None:
        text = self.query_one(f"#{widget_id}", Input).value.strip()
        return int(text) if text else None

    def knobs(self) -> list[tuple[Knob, Any]]:
        """The knobs the controls ask for; an unset control leaves its knob alone."""
        knobs: list[tuple[Knob, Any]] = []
        status = self.query_one("#query-status", Select)
        if not status.is_blank():
            knobs.append((Knob.QUERY_STATUS, QueryImageStatus(_chosen(status))))
        for widget_id, knob in NUMBER_KNOBS:
            value = self._number(widget_id)
            if value is not None:
                knobs.append((knob, value))
        if self.query_one("#consent", Checkbox).value:
            knobs.append((Knob.CONSENT_NEEDED, True))
        consent = self.query_one("#consent-state", Select)
        if not consent.is_blank():
            knobs.append((Knob.CONSENT_STATE, UserConsentState(_chosen(consent))))
        action = self.query_one("#apply-action", Select)
        if not action.is_blank():
            knobs.append((Knob.APPLY_ACTION, ApplyUpdateAction(_chosen(action))))
        image = self.query_one("#forced-image", Select)
        if not image.is_blank():
            knobs.append((Knob.FORCED_DESIGNATOR, str(image.value)))
        fault = self.query_one("#fault", Select)
        if not fault.is_blank():
            knobs.append(self._fault(Knob[str(fault.value)]))
        return knobs

    def _fault(self, knob: Knob) -> tuple[Knob, Any]:
        block = self._number("fault-block")
        if block is None:
            raise ValueError("give the block number for the fault")
        if knob == Knob.DELAY_BLOCK:
            delay = self.query_one("#fault-delay", Input).value.strip()
            return knob, (block, float(delay) if delay else DEFAULT_FAULT_DELAY)
        if knob == Knob.END_TRANSFER:
            return knob, (block, BdxStatus(_chosen(self.query_one("#fault-status", Select))))
        return knob, block

    @property
    def sticky(self) -> bool:
        return self.query_one("#sticky", RadioButton).value

    @property
    def target(self) -> Peer | None:
        value = self.query_one("#target", Select).value
        if value == ALL_REQUESTORS or not isinstance(value, str):
            return None
        return peer_from_key(value)

    def arm_command(self, notify: Callable[..., object]) -> ArmKnobs | None:
        """What one press of Arm sends: every knob set, for one response (the engine arms all of
        them or none); None after saying, through ``notify``, why there is nothing to send."""
        try:
            knobs = self.knobs()
        except ValueError as exc:
            notify(str(exc), severity="error")
            return None
        if not knobs:
            notify("set a control first: nothing to arm", severity="warning")
            return None
        # unseen: the target was picked from the nodes on screen, not typed
        return ArmKnobs(tuple(knobs), sticky=self.sticky, target=self.target, unseen=True)

    def reset(self) -> None:
        """Every control back to "unchanged" (scope and target stay as chosen)."""
        for select_id in SELECTS:
            self.query_one(f"#{select_id}", Select).clear()
        for input_id in INPUTS:
            self.query_one(f"#{input_id}", Input).value = ""
        self.query_one("#consent", Checkbox).value = False

    # ------------------------------------------------------------------ reacting to the user

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "fault":
            self._show_fault_fields()
        self._show_hints()

    def on_checkbox_changed(self, _: Checkbox.Changed) -> None:
        self._show_hints()

    def on_input_changed(self, _: Input.Changed) -> None:
        self._show_hints()

    def _show_fault_fields(self) -> None:
        """The status choice matters only for "end the transfer"; the fields only with a fault."""
        fault = self.query_one("#fault", Select)
        self.query_one("#fault-status-row").display = fault.value == Knob.END_TRANSFER.name

    def _show_hints(self) -> None:
        try:
            knobs = self.knobs()
        except ValueError:  # a half-filled fault: no hint for it yet
            return
        self.hint_view.update("\n".join(f"▸ {hint}" for hint in knob_hints(knobs)))

    # ------------------------------------------------------------------ showing state

    def show_images(self, entries: tuple[ImageSummary, ...]) -> None:
        self.image_select.set_options([(f"{e.file_name} (v{e.software_version})", e.designator) for e in entries])

    def offer_image(self, designator: str) -> None:
        self.image_select.value = designator

    def show_targets(self, peers: list[Peer]) -> None:
        # Rebuilt only when the requestors change: set_options resets an open list's highlight,
        # and Down-Down-Enter must pick the node the user saw.
        if tuple(peers) == getattr(self, "_target_peers", None):
            return
        self._target_peers = tuple(peers)
        select = self.target_select
        current = select.value
        options = [("all requestors", ALL_REQUESTORS)] + [
            (f"node {short_node_id(node)}" + ("" if fabric == 1 else f" (fabric {fabric})"), f"{fabric}:{node}")
            for fabric, node in peers
        ]
        select.set_options(options)
        select.value = current if current in {value for _, value in options} else ALL_REQUESTORS

    def aim_at(self, peer: Peer) -> None:
        """Target one requestor (the arm popup for the selected row)."""
        self.show_targets([peer])
        self.target_select.value = f"{peer[0]}:{peer[1]}"


class ArmedView(Vertical):
    """What is armed and which node used what, always on screen under the form."""

    def compose(self) -> ComposeResult:
        yield Static("nothing armed", id="armed")
        yield Static("", id="used")

    def on_mount(self) -> None:
        self.armed_view = self.query_one("#armed", Static)
        self.used_view = self.query_one("#used", Static)

    def show(self, armed: tuple[ArmedKnob, ...], used: list[tuple[float, Peer, ArmedKnob]]) -> None:
        self.armed_view.update("\n".join(map(armed_text, armed)) or "nothing armed")  # the box's title says "Armed"
        self.used_view.update(
            "\n".join(f"{clock(at)} {short_node_id(peer[1])} used {armed_text(what)}" for at, peer, what in used)
        )
        self.used_view.display = bool(used)  # no blank row under "nothing armed"
