"""The Add-device dialog: type the device's setup code (and where it is, if DNS-SD cannot find it),
and watch each commissioning stage, pointing and announcing happen, with the reason if one fails."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Footer, Input, Label, Static

from ota_provider.core.commissioner.target import parse_target
from ota_provider.core.engine import CommissionDevice
from ota_provider.core.events import (
    AttestationQuestion,
    CommissioningFailed,
    CommissioningStage,
    DeviceCommissioned,
    DeviceEvent,
    DeviceState,
    DeviceStep,
    EngineEvent,
)
from ota_provider.core.wording import short_node_id

from .format import clock
from .log_view import MeasuredLog

__all__ = ["AddDeviceScreen"]

HINT = ("The 11-digit manual code (dashes allowed) or the MT: QR payload. Without @HOST[:PORT] the device is "
        "found by DNS-SD; with it, e.g. 3497-011-2332@[fd00::2]:5540. Enter starts, Esc closes.")  # fmt: skip


class AddDeviceScreen(ModalScreen[None]):
    BINDINGS: ClassVar = [Binding("escape", "dismiss", "Close")]

    def __init__(self, send: Callable[[Any], None]) -> None:
        super().__init__()
        self.send = send
        self.target: str | None = None
        self.node_id: int | None = None
        self.outcome = ""  # "", "commissioned", "failed", "updated"

    def compose(self) -> ComposeResult:
        with Vertical(id="add-device") as box:
            box.border_title = "Add a device to the bench fabric"
            box.border_subtitle = "Enter starts · Esc closes"
            yield Label("Setup code")
            yield Input(placeholder="3497-011-2332 or MT:... , optionally @HOST[:PORT]", id="code")
            yield Static(HINT, id="add-hint")
            yield Static("", id="add-error")
            yield MeasuredLog(id="stages")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#code", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        error = self.query_one("#add-error", Static)
        try:
            parse_target(text)
        except ValueError as exc:  # one line, at once: no round trip to the engine for a typo
            error.update(str(exc))
            return
        error.update("")
        self.target, self.node_id, self.outcome = text, None, ""
        self.query_one("#stages", MeasuredLog).clear()
        self.send(CommissionDevice(text, ask=True))

    def show_events(self, events: list[EngineEvent]) -> None:
        """The engine's events about this device, one line each (the app forwards every batch)."""
        log = _WrappingLog(self.query_one("#stages", MeasuredLog))
        for event in events:
            if isinstance(event, CommissioningStage | CommissioningFailed | AttestationQuestion) and (
                    event.target == self.target):  # fmt: skip
                log.write_line(f"{clock(event.at)} {_line(event)}")
                if isinstance(event, CommissioningFailed):
                    self.outcome = "failed"
            elif isinstance(event, DeviceCommissioned) and event.target == self.target:
                self.node_id, self.outcome = event.node_id, "commissioned"
                log.write_line(f"{clock(event.at)} commissioned as node {short_node_id(event.node_id)}: "
                               f"{event.attestation}")  # fmt: skip
            elif isinstance(event, DeviceEvent | DeviceState) and event.node_id == self.node_id:
                log.write_line(f"{clock(event.at)} {_device_line(event)}")
            elif isinstance(event, DeviceStep) and event.node_id == self.node_id:
                log.write_line(f"{clock(event.at)} {event.step}: {event.state}" +
                               (f" ({event.detail})" if event.detail else ""))  # fmt: skip
                if event.step == "verified on the device" and event.state == "done":
                    self.outcome = "updated"


def _device_line(event: DeviceEvent | DeviceState) -> str:
    if isinstance(event, DeviceEvent):
        return f"the device: {event.event}: {event.detail}"
    progress = f" {event.progress}%" if event.progress is not None else ""
    return f"the device reports {event.update_state}{progress}, version {event.software_version}"


def _line(event: CommissioningStage | CommissioningFailed | AttestationQuestion) -> str:
    if isinstance(event, CommissioningFailed):
        return f"FAILED at {event.stage}: {event.reason}"
    if isinstance(event, AttestationQuestion):
        return f"{event.verdict}: answer the question to go on"
    timing = f" in {event.seconds:.2f} s" if event.state != "started" else ""
    return f"{event.stage}: {event.state}{timing}" + (f" ({event.detail})" if event.detail else "")


class _WrappingLog:
    """Lines folded to the log's width, continuation lines indented past the time stamp."""

    def __init__(self, log: MeasuredLog) -> None:
        self.log = log
        self.width = max(40, log.scrollable_content_region.width - 1)

    def write_line(self, line: str) -> None:
        self.log.write_lines(textwrap.wrap(line, self.width, subsequent_indent=" " * 9) or [line])
