"""Which columns a table shows at a width, and their fixed widths: fewer columns on a narrow
terminal, so no table needs scrolling sideways."""

from __future__ import annotations

from textual.widgets import DataTable

__all__ = [
    "COLUMN_WIDTHS",
    "NAMED_REQUESTOR_COLUMNS",
    "REQUESTOR_COLUMNS",
    "TRANSFER_COLUMNS",
    "TRANSFER_WIDTHS",
    "columns_for",
    "set_columns",
]


# block counts go first, the node and its state last (the detail screen and the other table also show.
REQUESTOR_COLUMNS = (
    (140, ("node", "VID:PID", "version", "state", "progress", "last exchange", "device says", "seen")),
    (110, ("node", "version", "state", "progress", "last exchange", "seen")),
    (100, ("node", "version", "state", "progress", "seen")),
    (0, ("node", "version", "state", "progress")),
)
# With --dcl the ledger names the vendors: a column for the name, beside the hex.
NAMED_REQUESTOR_COLUMNS = (
    (140, ("node", "vendor", "VID:PID", "version", "state", "progress", "last exchange", "device says", "seen")),
    *REQUESTOR_COLUMNS[1:],
)
TRANSFER_COLUMNS = (
    (140, ("#", "node", "progress", "bytes", "blocks", "block", "resent", "rate", "ETA", "state")),
    (110, ("#", "node", "progress", "bytes", "resent", "rate", "ETA", "state")),
    (100, ("#", "node", "progress", "rate", "ETA", "state")),
    (0, ("#", "node", "progress", "state")),
)
# Columns that change on every sample have a fixed width, so updating them never re-measures the
# table (a layout pass per cell would cost the engine's thread its GIL time). None: fit the content
# (the node column is written once per row).
COLUMN_WIDTHS = {
    "VID:PID": 9,
    "vendor": 16,
    "state": 12,
    "progress": 13,
    "seen": 8,
    "#": 3,
    "bytes": 17,
    "blocks": 6,
    "block": 5,
    "resent": 9,
    "rate": 10,
    "ETA": 7,
}
TRANSFER_WIDTHS = {**COLUMN_WIDTHS, "progress": 11, "state": 12}


def columns_for(width: int, sets: tuple[tuple[int, tuple[str, ...]], ...]) -> tuple[str, ...]:
    return next(columns for least, columns in sets if width >= least)


def set_columns(table: DataTable, columns: tuple[str, ...], widths: dict[str, int]) -> None:
    """Replace the table's columns (and drop its rows: the caller shows them again)."""
    table.clear(columns=True)
    for column in columns:
        table.add_column(column, key=column, width=widths.get(column))
