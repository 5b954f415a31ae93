"""The Transfers table: one row per running transfer, sampled from the engine's snapshot, and a
finished or failed one kept a while with how it ended. Only the cells that changed are written."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ota_provider.core.api.events import EngineSnapshot, TransferEvent, TransferSnapshot

from .columns import TRANSFER_COLUMNS, TRANSFER_WIDTHS, columns_for, set_columns
from .format import bar, duration, ending, peer_name, rate, resent, size
from .meter import ThroughputMeter
from .steady_scroll import Table

__all__ = ["KEEP_ENDED_SECONDS", "STALL_SECONDS", "TransfersTable"]

KEEP_ENDED_SECONDS = 30.0  # a finished or failed transfer stays in the table this long
STALL_SECONDS = 3.0  # no byte for this long: the transfer shows "stalled", not a dwindling rate

Cells = dict[str, str]


class TransfersTable(Table):
    def __init__(self, meter: ThroughputMeter, clock: Callable[[], float], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.meter = meter
        self.clock = clock
        self._column_set: tuple[str, ...] = ()
        self._shown_cells: dict[int, Cells] = {}  # transfer id -> the cells shown
        self._running_cells: dict[int, Cells] = {}  # transfer id -> every column's cell, last sample
        self._ended_cells: dict[int, tuple[Cells, float]] = {}  # transfer id -> (cells, shown until)
        self._last_snapshot: EngineSnapshot | None = None

    def fit(self, width: int) -> None:
        """The columns for ``width``; the rows again in them (the old cells belong to the old set)."""
        columns = columns_for(width, TRANSFER_COLUMNS)
        if columns == self._column_set:
            return
        self._column_set = columns
        set_columns(self, columns, TRANSFER_WIDTHS)
        self._shown_cells = {}
        if self._last_snapshot is not None:
            self.show(self._last_snapshot)

    def show(self, snapshot: EngineSnapshot) -> None:
        self._last_snapshot = snapshot
        cells = {t.id: self._cells(t) for t in snapshot.transfers}
        now = self.clock()
        # A transfer can leave the snapshot a moment before its end event is drained: keep its row
        # until the event says how it ended, so it never blinks out and back.
        for transfer_id in self._running_cells.keys() - cells.keys() - self._ended_cells.keys():
            self._ended_cells[transfer_id] = (
                {**self._running_cells[transfer_id], "rate": "", "ETA": "", "state": "ending"},
                now + KEEP_ENDED_SECONDS,
            )
        self._running_cells = cells
        rows = {
            transfer_id: {column: every[column] for column in self._column_set} for transfer_id, every in cells.items()
        }
        for transfer_id, (ended, until) in list(self._ended_cells.items()):
            if until < now:
                del self._ended_cells[transfer_id]
            elif transfer_id not in rows:
                rows[transfer_id] = {column: ended[column] for column in self._column_set}
        self._write(rows)

    def ended(self, event: TransferEvent) -> None:
        """A finished or failed transfer stays in the table a while, with how it ended."""
        t = event.snapshot
        cells = {**self._fixed_cells(t), "rate": "", "ETA": "", "state": ending(t.end)}  # "done" for a complete one
        # From when it ended, not from when this screen heard of it: an attached dashboard is told
        # of the provider's earlier transfers at once, and must not show them as just finished.
        self._ended_cells[t.id] = (cells, min(event.at, self.clock()) + KEEP_ENDED_SECONDS)

    def selected(self) -> int | None:
        """The transfer under the cursor, or None when there is none."""
        return int(self.get_row_at(self.cursor_row)[0]) if self.row_count else None

    # ------------------------------------------------------------------ cells

    @staticmethod
    def _fixed_cells(t: TransferSnapshot) -> Cells:
        return {
            "#": str(t.id),
            "node": peer_name(t.peer),
            "progress": bar(t.bytes_sent / t.total if t.total else None, 6),
            "bytes": f"{size(t.bytes_sent)}/{size(t.total)}",
            "blocks": str(t.blocks),
            "block": str(t.block_size),
            "resent": resent(t),
        }

    def _cells(self, t: TransferSnapshot) -> Cells:
        """Every column's cell of a running transfer (the column set in use picks from them)."""
        measured = self.meter.rate_of(t.id)
        per_second = measured.per_second if measured else None
        eta = measured.eta(t.total - t.bytes_sent) if measured else None
        state = "paused" if t.paused else (f"paced {t.throttle:g} s" if t.throttle else "running")
        if t.suspended:
            state = "restored"  # after a restart, its requestor has not asked since (12 characters: the column)
        elif t.resumed and not t.paused and not t.throttle:
            state = "resumed"
        stalled = measured.stalled_for(self.clock()) if measured and not t.paused else 0.0
        if t.paused or t.suspended:  # nothing moves, and it says why: no rate, no ETA
            per_second = eta = None
        elif stalled >= STALL_SECONDS:  # no byte for a while: say so instead of a decaying rate
            state, per_second, eta = f"stalled {duration(stalled)}", 0.0, None
        return {**self._fixed_cells(t), "rate": rate(per_second), "ETA": duration(eta), "state": state}

    def _write(self, current: dict[int, Cells]) -> None:
        for gone in self._shown_cells.keys() - current.keys():
            self.remove_row(str(gone))
        for transfer_id, cells in current.items():
            before = self._shown_cells.get(transfer_id)
            if before is None:
                self.add_row(*cells.values(), key=str(transfer_id))
                continue
            for column, value in cells.items():
                if before.get(column) != value:
                    self.update_cell(str(transfer_id), column, value)
        self._shown_cells = current
