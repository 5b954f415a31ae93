"""The History tab: the update history's newest rows, as the engine read them."""

from __future__ import annotations

from ota_provider.core.api.values import HistoryRow

from .format import peer_name
from .steady_scroll import Table

__all__ = ["HistoryTable"]

COLUMNS = ("time", "kind", "node", "summary")


class HistoryTable(Table):
    def show(self, rows: tuple[HistoryRow, ...]) -> None:
        """Newest first. Columns take their content's width: a table filled while its tab was
        hidden would otherwise measure every column at the hidden tab's width."""
        self.clear(columns=True)
        for column in COLUMNS:
            self.add_column(column, key=column)
        for row in reversed(rows):
            node = "" if row.peer is None else peer_name(row.peer)
            self.add_row(row.as_json()["time"], row.kind, node, row.summary)
