"""The next-response panel: every policy knob, one-shot or sticky, for all requestors or one node.

It only reads its widgets into ``(Knob, value)`` pairs and shows what the engine reports as armed
and used; the app sends the commands."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Checkbox, Input, Label, RadioButton, RadioSet, Select, Static

from ota_provider.core.codec.status_report import BdxStatus
from ota_provider.core.ota.catalog import CatalogEntry
from ota_provider.core.ota.policy import Knob
from ota_provider.core.ota.types import ApplyUpdateAction, QueryImageStatus, UserConsentState

from .format import clock, node_id

__all__ = ["ALL_REQUESTORS", "NextResponsePanel"]

ALL_REQUESTORS = "all"
DEFAULT_FAULT_DELAY = 5.0

QUERY_STATUS_CHOICES = [("updateAvailable", QueryImageStatus.UPDATE_AVAILABLE), ("busy", QueryImageStatus.BUSY),
                        ("updateNotAvailable", QueryImageStatus.NOT_AVAILABLE)]  # fmt: skip
CONSENT_STATE_CHOICES = [("consent: granted", UserConsentState.GRANTED),
                         ("consent: obtaining", UserConsentState.DEFERRED),
                         ("consent: denied", UserConsentState.DENIED)]  # fmt: skip
APPLY_ACTION_CHOICES = [("proceed", ApplyUpdateAction.PROCEED),
                        ("awaitNextAction", ApplyUpdateAction.AWAIT_NEXT_ACTION),
                        ("discontinue", ApplyUpdateAction.DISCONTINUE)]  # fmt: skip
FAULT_CHOICES = [("drop block N", Knob.DROP_BLOCK.name), ("delay block N", Knob.DELAY_BLOCK.name),
                 ("corrupt block N", Knob.CORRUPT_BLOCK.name),
                 ("end at block N", Knob.END_TRANSFER.name)]  # fmt: skip
NUMBER_KNOBS = (("query-delay", Knob.QUERY_DELAY), ("apply-delay", Knob.APPLY_DELAY),
                ("ignore-query", Knob.IGNORE_QUERY), ("ignore-apply", Knob.IGNORE_APPLY))  # fmt: skip


class NextResponsePanel(VerticalScroll):
    def compose(self) -> ComposeResult:
        yield Label("QueryImage status")
        yield Select(QUERY_STATUS_CHOICES, id="query-status", prompt="unchanged", compact=True)
        yield Input(placeholder="busy delay, seconds", id="query-delay", type="integer", compact=True)
        yield Checkbox("user consent needed", id="consent", compact=True)
        yield Select(CONSENT_STATE_CHOICES, id="consent-state", prompt="provider consent", compact=True)
        yield Input(placeholder="ignore N queries", id="ignore-query", type="integer", compact=True)
        yield Label("ApplyUpdate action")
        yield Select(APPLY_ACTION_CHOICES, id="apply-action", prompt="unchanged", compact=True)
        yield Input(placeholder="apply delay, seconds", id="apply-delay", type="integer", compact=True)
        yield Input(placeholder="ignore N applies", id="ignore-apply", type="integer", compact=True)
        yield Label("Image and faults")
        yield Select([], id="forced-image", prompt="image: newest", compact=True)
        yield Select(FAULT_CHOICES, id="fault", prompt="no fault", compact=True)
        yield Input(placeholder="fault at block N", id="fault-block", type="integer", compact=True)
        yield Input(placeholder="fault delay, seconds", id="fault-delay", type="number", compact=True)
        yield Label("Scope and target")
        with RadioSet(id="scope", compact=True):
            yield RadioButton("one-shot", value=True, id="one-shot")
            yield RadioButton("sticky", id="sticky")
        yield Select([("all requestors", ALL_REQUESTORS)], id="target", value=ALL_REQUESTORS, allow_blank=False,
                     compact=True)  # fmt: skip
        with Horizontal(id="buttons"):
            yield Button("Arm", id="arm", variant="primary", compact=True)
            yield Button("Clear", id="clear", compact=True)
        yield Static("nothing armed", id="armed")
        yield Static("", id="used")

    def on_mount(self) -> None:
        # References cached once: the app's timer may call in while the screen tears down.
        self.armed_view = self.query_one("#armed", Static)
        self.used_view = self.query_one("#used", Static)
        self.target_select = self.query_one("#target", Select)
        self.image_select = self.query_one("#forced-image", Select)

    # ------------------------------------------------------------------ reading the controls

    def _number(self, widget_id: str) -> int | None:
        text = self.query_one(f"#{widget_id}", Input).value.strip()
        return int(text) if text else None

    def knobs(self) -> list[tuple[Knob, Any]]:
        """The knobs the controls ask for; an unset control leaves its knob alone."""
        knobs: list[tuple[Knob, Any]] = []
        status = self.query_one("#query-status", Select)
        if not status.is_blank():
            knobs.append((Knob.QUERY_STATUS, QueryImageStatus(status.value)))
        for widget_id, knob in NUMBER_KNOBS:
            value = self._number(widget_id)
            if value is not None:
                knobs.append((knob, value))
        if self.query_one("#consent", Checkbox).value:
            knobs.append((Knob.CONSENT_NEEDED, True))
        consent = self.query_one("#consent-state", Select)
        if not consent.is_blank():
            knobs.append((Knob.CONSENT_STATE, UserConsentState(consent.value)))
        action = self.query_one("#apply-action", Select)
        if not action.is_blank():
            knobs.append((Knob.APPLY_ACTION, ApplyUpdateAction(action.value)))
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
            return knob, (block, BdxStatus.TRANSFER_FAILED_UNKNOWN_ERROR)
        return knob, block

    @property
    def sticky(self) -> bool:
        return self.query_one("#sticky", RadioButton).value

    @property
    def target(self) -> tuple[int, int] | None:
        value = self.query_one("#target", Select).value
        if value == ALL_REQUESTORS or not isinstance(value, str):
            return None
        fabric, node = value.split(":")
        return int(fabric), int(node)

    def reset(self) -> None:
        """Every control back to "unchanged" (scope and target stay as chosen)."""
        for select_id in ("#query-status", "#consent-state", "#apply-action", "#forced-image", "#fault"):
            self.query_one(select_id, Select).clear()
        for input_id in ("#query-delay", "#ignore-query", "#apply-delay", "#ignore-apply", "#fault-block",
                         "#fault-delay"):  # fmt: skip
            self.query_one(input_id, Input).value = ""
        self.query_one("#consent", Checkbox).value = False

    # ------------------------------------------------------------------ showing state

    def show_images(self, entries: tuple[CatalogEntry, ...]) -> None:
        self.image_select.set_options([(f"offer {e.path.name} (v{e.software_version})", e.designator) for e in entries])

    def offer_image(self, designator: str) -> None:
        self.image_select.value = designator

    def show_targets(self, peers: list[tuple[int, int]]) -> None:
        # Rebuilt only when the requestors change: set_options resets an open list's highlight,
        # and Down-Down-Enter must pick the node the user saw.
        if tuple(peers) == getattr(self, "_target_peers", None):
            return
        self._target_peers = tuple(peers)
        select = self.target_select
        current = select.value
        options = [("all requestors", ALL_REQUESTORS)] + [
            (f"{node_id(node)} (fabric {fabric})", f"{fabric}:{node}") for fabric, node in peers
        ]
        select.set_options(options)
        select.value = current if current in {value for _, value in options} else ALL_REQUESTORS

    def show_armed(self, armed: tuple[str, ...], used: list[tuple[float, tuple[int, int], str]]) -> None:
        self.armed_view.update("\n".join(f"armed: {line}" for line in armed) or "nothing armed")
        self.used_view.update("\n".join(f"{clock(at)} {node_id(peer[1])} used {what}" for at, peer, what in used))
