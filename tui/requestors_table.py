"""The Requestors table: one row per requestor folded from the events (``requestors.py``), only
its changed cells written."""

from __future__ import annotations

from typing import Any

from ota_provider.core.api.values import Peer

from .columns import COLUMN_WIDTHS, NAMED_REQUESTOR_COLUMNS, REQUESTOR_COLUMNS, columns_for, set_columns
from .format import bar, clock, peer_from_key, peer_key, peer_name
from .requestors import RequestorRow
from .steady_scroll import Table

__all__ = ["RequestorsTable"]

Cells = dict[str, str]


class RequestorsTable(Table):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._column_set: tuple[str, ...] = ()
        self._shown_cells: dict[str, Cells] = {}  # row key -> the cells shown

    def fit(self, width: int, rows: list[RequestorRow]) -> None:
        """The columns for ``width`` (a vendor column once the ledger names one); ``rows`` again in them."""
        named = any(row.vendor_name for row in rows)
        columns = columns_for(width, NAMED_REQUESTOR_COLUMNS if named else REQUESTOR_COLUMNS)
        if columns == self._column_set:
            return
        self._column_set = columns
        set_columns(self, columns, COLUMN_WIDTHS)
        self._shown_cells = {}
        for row in rows:
            self.show(row)

    def show(self, row: RequestorRow) -> None:
        key = peer_key(row.peer)
        every = {
            "node": peer_name(row.peer),
            "VID:PID": f"{row.vendor_id:04X}:{row.product_id:04X}",
            "vendor": row.vendor_name,
            "version": row.versions,
            "state": row.state,
            "progress": bar(row.progress, 8),
            "last exchange": row.last_exchange,
            "device says": _device_says(row),
            "seen": clock(row.last_seen),
        }
        cells = {column: every[column] for column in self._column_set}
        before = self._shown_cells.get(key)
        self._shown_cells[key] = cells
        if before is None:
            self.add_row(*cells.values(), key=key)
            return
        for column, value in cells.items():
            if before.get(column) != value:
                self.update_cell(key, column, value, update_width=column not in COLUMN_WIDTHS)

    def selected(self) -> Peer | None:
        """The requestor under the cursor (fabric index, node id), or None."""
        if self.row_count == 0:
            return None
        key = self.coordinate_to_cell_key(self.cursor_coordinate).row_key.value
        if not key:
            return None
        return peer_from_key(key)


def _device_says(row: RequestorRow) -> str:
    """What a bench device reports, flagged while the engine says it disagrees with what we see:
    it says Downloading, but no BDX transfer of ours runs for it (it waits for its BDX timeout)."""
    return f"{row.device_says} · no BDX" if row.mismatch else row.device_says
