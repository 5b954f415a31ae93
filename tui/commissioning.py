"""The Commissioning tab: the QR code and manual code, the window and its countdown, and the
fabrics we belong to, each removable."""

from __future__ import annotations

import time

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, DataTable, Static

from ota_provider.core.api.events import FabricsChanged
from ota_provider.core.api.values import SetupPayload

from .format import duration, node_id
from .qr import qr_text
from .readout import Readout
from .steady_scroll import Table

__all__ = ["CommissioningPane"]


class CommissioningPane(VerticalScroll):
    """Its widgets may be composed after the first engine events arrive: what it is asked to show
    before then is kept, and shown on mount."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._codes: SetupPayload | None = None
        self._fabrics: FabricsChanged | None = None
        self._ready = False

    def compose(self) -> ComposeResult:
        with Horizontal(id="onboarding"):
            yield Static(id="qr")
            with Vertical(id="commissioning-side"):
                yield Static(id="codes")
                yield Readout("window: unknown", id="window")
                with Horizontal(id="commissioning-buttons"):
                    yield Button("Open window (o)", id="open-window", compact=True)
                    yield Button("Remove fabric (Del)", id="remove-fabric", variant="error", compact=True)
                yield Table(id="fabrics", cursor_type="row")

    def on_mount(self) -> None:
        # References cached once: the app's timer may call in while the screen tears down.
        self.table = table = self.query_one("#fabrics", DataTable)
        self.window_view = self.query_one("#window", Readout)
        self.qr_view = self.query_one("#qr", Static)
        self.codes_view = self.query_one("#codes", Static)
        for column in ("#", "label", "vendor", "our node id", "fabric id"):
            table.add_column(column, key=column)
        self._ready = True
        if self._codes is not None:
            self.show_codes(self._codes)
        if self._fabrics is not None:
            self.show_fabrics(self._fabrics)

    def show_codes(self, onboarding: SetupPayload) -> None:
        self._codes = onboarding
        if not self._ready:
            return
        self.qr_view.update(qr_text(onboarding.qr_code()))
        self.codes_view.update(
            f"QR payload   {onboarding.qr_code()}\n"
            f"Manual code  {SetupPayload.format_manual_code(onboarding.manual_code())}\n"
            f"Discriminator {onboarding.discriminator}, passcode {onboarding.passcode:08d}\n"
            f"VID 0x{onboarding.vendor_id:04X}  PID 0x{onboarding.product_id:04X}"
        )

    def show_fabrics(self, fabrics: FabricsChanged) -> None:
        self._fabrics = fabrics
        if not self._ready:
            return
        self.show_window(fabrics.window_closes_at, time.time())
        table = self.table
        table.clear()
        for f in fabrics.fabrics:
            table.add_row(
                str(f.index),
                f.label or "-",
                f"0x{f.vendor_id:04X}",
                node_id(f.node_id),
                f"0x{f.fabric_id:016X}",
                key=str(f.index),
            )
        table.border_title = f"Fabrics ({len(fabrics.fabrics)})"

    def show_window(self, closes_at: float | None, now: float) -> None:
        if not self._ready:
            return
        text = "window: closed" if closes_at is None else f"window: open, closes in {duration(closes_at - now)}"
        self.window_view.text = text

    def selected_fabric(self) -> int | None:
        table = self.table
        if not self._ready or table.row_count == 0:
            return None
        return int(table.get_row_at(table.cursor_row)[0])
