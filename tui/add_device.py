"""The Add-device dialog: pick a device from the live list (DNS-SD, and BLE for a device with no network
yet), or say where it is, type its setup code (and, over BLE, pick the network to give it), and watch
each commissioning stage, pointing and announcing happen, with the reason if one fails."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Footer, Input, Label, Select, Static

from ota_provider.core.api.commands import BrowseCommissionable, CommissionDevice
from ota_provider.core.api.events import (
    AttestationQuestion,
    BleCommissionableDevices,
    CommandDone,
    CommissionableDevices,
    CommissioningFailed,
    CommissioningStage,
    DeviceCommissioned,
    DeviceEvent,
    DeviceState,
    DeviceStep,
    DeviceStepKind,
    EngineEvent,
    StepState,
)
from ota_provider.core.api.values import (
    BleCommissionable,
    CommissionableDevice,
    NetworkChoice,
    parse_target,
    where_text,
)
from ota_provider.core.presentation.words import ble_device_words, short_node_id, update_state_name

from .format import clock
from .log_view import MeasuredLog
from .steady_scroll import Table

__all__ = ["AddDeviceScreen"]

HINT = (
    "The 11-digit manual code (dashes allowed) or the MT: QR payload. Pick the device above (Enter), or "
    "leave it to DNS-SD, or add @HOST[:PORT], e.g. 3497-011-2332@[fd00::2]:5540."
)
SEARCHING = "Searching DNS-SD (_matterc._udp) and BLE for devices with an open commissioning window..."
NO_NETWORKS = "no network is kept: add one with `ota-provider networks add-wifi NAME --ssid SSID` (or add-thread)"
BLE_KEY = "ble:"  # the table's row keys: a DNS-SD instance name, or this and a BLE address


class AddDeviceScreen(ModalScreen[None]):
    BINDINGS: ClassVar = [Binding("escape", "dismiss", "Close")]

    def __init__(self, send: Callable[[Any], None]) -> None:
        super().__init__()
        self.send = send
        self.target: str | None = None
        self.node_id: int | None = None
        self.outcome = ""  # "", "commissioned", "failed", "updated"
        self.found: tuple[CommissionableDevice, ...] = ()
        self.picked: CommissionableDevice | None = None
        self.heard: tuple[BleCommissionable, ...] = ()  # over BLE
        self.picked_ble: BleCommissionable | None = None
        self.networks: tuple[NetworkChoice, ...] = ()
        self.ble_problem = ""
        self.browse_error = ""
        self._row_keys: list[str] = []  # the table's rows, in order

    def compose(self) -> ComposeResult:
        with Vertical(id="add-device") as box:
            box.border_title = "Add a device to the bench fabric"
            box.border_subtitle = "Tab: list / code · Enter picks or starts · Esc closes"
            yield Label("Devices with an open commissioning window")
            found = Table(id="found", cursor_type="row", zebra_stripes=False)
            found.add_columns("Device", "VID:PID", "Discriminator", "Window", "Address")
            yield found
            yield Static(SEARCHING, id="found-state")
            yield Select[str]([], prompt="Network to give the BLE device", id="network", classes="hidden")
            yield Label("Setup code")
            yield Input(placeholder="3497-011-2332 or MT:... , optionally @HOST[:PORT]", id="code")
            yield Static(HINT, id="add-hint")
            yield Static("", id="add-error")
            yield MeasuredLog(id="stages")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#code", Input).focus()
        self.send(BrowseCommissionable(True))  # only while the dialog is open: browsing costs mDNS traffic

    def on_unmount(self) -> None:
        self.send(BrowseCommissionable(False))

    def show_found(self, devices: tuple[CommissionableDevice, ...]) -> None:
        """The live DNS-SD list: rebuilt on each change, the cursor kept on the same device."""
        self.found = devices
        if self.picked is not None and self.picked.instance not in {d.instance for d in devices}:
            self.picked = None  # its window closed: do not commission a stale address
        self._rebuild()

    def show_heard(self, event: BleCommissionableDevices) -> None:
        """The live BLE list, and the kept networks one of them may be given."""
        self.heard, self.ble_problem = event.devices, event.problem
        if self.picked_ble is not None and self.picked_ble.address not in {d.address for d in event.devices}:
            self.picked_ble = None
        if event.networks != self.networks:
            self.networks = event.networks
            select = self.query_one("#network", Select)
            select.set_options((f"{n.name}: {n.description}", n.name) for n in event.networks)
        self._rebuild()

    def _rebuild(self) -> None:
        table = self.query_one("#found", DataTable)
        shown = self._row_keys
        keep = shown[table.cursor_row] if 0 <= table.cursor_row < len(shown) else None
        keys = self._row_keys = [d.instance for d in self.found] + [BLE_KEY + d.address for d in self.heard]
        table.clear()
        for device in self.found:
            vp = f"{device.vendor_id:04X}:{device.product_id or 0:04X}" if device.vendor_id is not None else "-"
            mode = {1: "basic", 2: "enhanced"}.get(device.commissioning_mode, f"CM={device.commissioning_mode}")
            # Text, not markup: "[fd00::2]:5540" and a device's own name are shown as they are.
            table.add_row(
                Text(device.name or device.instance),
                vp,
                str(device.discriminator),
                mode,
                Text(where_text(device.addresses[0])),
                key=device.instance,
            )
        for heard in self.heard:
            vp = f"{heard.vendor_id:04X}:{heard.product_id:04X}" if heard.vendor_id else "-"
            rssi = f" ({heard.rssi} dBm)" if heard.rssi is not None else ""
            table.add_row(
                Text(heard.name or "(no name)"),
                vp,
                str(heard.discriminator),
                "BLE",
                Text(f"BLE {heard.address}{rssi}"),
                key=BLE_KEY + heard.address,
            )
        if keep in keys:
            table.move_cursor(row=keys.index(keep))
        self._show_state()

    def _show_state(self) -> None:
        state = self.query_one("#found-state", Static)
        self.query_one("#network", Select).set_class(self.picked_ble is None, "hidden")
        ble_note = f" (no BLE: {self.ble_problem})" if self.ble_problem else ""
        if self.picked_ble is not None:
            networks = "pick the network to give it" if self.networks else NO_NETWORKS
            state.update(f"Picked {ble_device_words(self.picked_ble)}: {networks}, then type its setup code.")
        elif self.picked is not None:
            state.update(f"Picked {self.picked.describe()}: type its setup code below.")
        elif self.browse_error:
            state.update(self.browse_error + ble_note)
        elif self.found or self.heard:
            count = len(self.found) + len(self.heard)
            state.update(f"{count} found: pick one with Enter, or type a code (DNS-SD finds its device).{ble_note}")
        else:
            state.update(SEARCHING + ble_note)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        key = str(event.row_key.value)
        self.picked = next((d for d in self.found if d.instance == key), None)
        self.picked_ble = next((d for d in self.heard if BLE_KEY + d.address == key), None)
        self._show_state()
        if self.picked_ble is not None and self.networks:
            self.query_one("#network", Select).focus()
        else:
            self.query_one("#code", Input).focus()

    def on_select_changed(self, event: Select.Changed) -> None:
        event.stop()
        if event.value is not Select.NULL:
            self.query_one("#code", Input).focus()

    def _target(self, text: str) -> str:
        """What to commission: the code, at the picked device's address unless one was typed."""
        if "@" in text or self.picked is None:
            return text
        return f"{text}@{where_text(self.picked.addresses[0])}"

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = self._target(event.value.strip())
        error = self.query_one("#add-error", Static)
        try:
            parse_target(text)
        except ValueError as exc:  # one line, at once: no round trip to the engine for a typo
            error.update(str(exc))
            return
        over_ble = self.picked_ble is not None and "@" not in text
        network = self.query_one("#network", Select).value
        if over_ble and network is Select.NULL:
            error.update("pick the network to give the device" if self.networks else NO_NETWORKS)
            return
        error.update("")
        self.target, self.node_id, self.outcome = text, None, ""
        self.query_one("#stages", MeasuredLog).clear()
        if over_ble and self.picked_ble is not None:
            self.send(CommissionDevice(text, ask=True, ble=self.picked_ble.address, network=str(network)))
        else:
            self.send(CommissionDevice(text, ask=True))

    def show_events(self, events: list[EngineEvent]) -> None:
        """The engine's events about this device, one line each (the app forwards every batch)."""
        log = _WrappingLog(self.query_one("#stages", MeasuredLog))
        for event in events:
            if isinstance(event, CommissionableDevices):
                self.show_found(event.devices)
            elif isinstance(event, BleCommissionableDevices):
                self.show_heard(event)
            elif isinstance(event, CommandDone) and isinstance(event.command, BrowseCommissionable) and not event.ok:
                self.browse_error = event.message
                self._show_state()
            elif isinstance(event, CommissioningStage | CommissioningFailed | AttestationQuestion) and (
                event.target == self.target
            ):
                log.write_line(f"{clock(event.at)} {_line(event)}")
                if isinstance(event, CommissioningFailed):
                    self.outcome = "failed"
            elif isinstance(event, DeviceCommissioned) and event.target == self.target:
                self.node_id, self.outcome = event.node_id, "commissioned"
                log.write_line(
                    f"{clock(event.at)} commissioned as node {short_node_id(event.node_id)}: {event.attestation}"
                )
            elif isinstance(event, DeviceEvent | DeviceState) and event.node_id == self.node_id:
                log.write_line(f"{clock(event.at)} {_device_line(event)}")
            elif isinstance(event, DeviceStep) and event.node_id == self.node_id:
                log.write_line(
                    f"{clock(event.at)} {event.step}: {event.state}" + (f" ({event.detail})" if event.detail else "")
                )
                if event.step is DeviceStepKind.VERIFIED and event.state is StepState.DONE:
                    self.outcome = "updated"


def _device_line(event: DeviceEvent | DeviceState) -> str:
    if isinstance(event, DeviceEvent):
        return f"the device: {event.event}: {event.detail}"
    progress = f" {event.progress}%" if event.progress is not None else ""
    return f"the device reports {update_state_name(event.update_state)}{progress}, version {event.software_version}"


def _line(event: CommissioningStage | CommissioningFailed | AttestationQuestion) -> str:
    if isinstance(event, CommissioningFailed):
        return f"FAILED at {event.stage}: {event.reason}"
    if isinstance(event, AttestationQuestion):
        return f"{event.verdict}: answer the question to go on"
    timing = f" in {event.seconds:.2f} s" if event.state is not StepState.STARTED else ""
    return f"{event.stage}: {event.state}{timing}" + (f" ({event.detail})" if event.detail else "")


class _WrappingLog:
    """Lines folded to the log's width, continuation lines indented past the time stamp."""

    def __init__(self, log: MeasuredLog) -> None:
        self.log = log
        self.width = max(40, log.scrollable_content_region.width - 1)

    def write_line(self, line: str) -> None:
        self.log.write_lines(textwrap.wrap(line, self.width, subsequent_indent=" " * 9) or [line])
