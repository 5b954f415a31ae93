"""The update history in the state database: every query answered, transfer, apply and
notification, one committed row each (a crash loses nothing already written).

Bounded: a requestor asking the same question again and again (one looping QueryImage added 511
rows a second) gets one row whose ``repeated`` count goes up, and past ``max_rows`` the oldest rows
are deleted. A storage error (a full disk) never stops an answer: the row is skipped and the
trouble said once through ``on_error``."""

from __future__ import annotations

import csv
import io
import json
import logging
import sqlite3
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from ..node_ids import Peer, node_text
from ..storage.database import Database

__all__ = ["DEFAULT_MAX_ROWS", "HistoryRow", "UpdateHistory", "iso_time", "rows_as_csv", "rows_as_text"]

log = logging.getLogger(__name__)

DEFAULT_MAX_ROWS = 100_000  # rows kept; the oldest go first (about 40 MB of database)
PRUNE_EVERY = 500  # rows written between two prunings
COALESCED = frozenset({"query"})  # kinds whose repeats of the same answer share one row
VOLATILE = frozenset({"update_token", "updateToken"})  # new in every answer, so not part of "the same answer"


def _without(details: dict[str, Any], keys: frozenset[str]) -> dict[str, Any]:
    return {k: v for k, v in details.items() if k not in keys}


def iso_time(at: float) -> str:
    """ISO 8601 in UTC with milliseconds, as every line and record of ours is stamped."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at)) + f".{int(at % 1 * 1000):03d}Z"


@dataclass(frozen=True)
class HistoryRow:
    id: int
    time: float
    kind: str
    fabric_index: int | None
    node_id: int | None
    summary: str
    details: dict[str, Any]

    @property
    def peer(self) -> Peer | None:
        """The requestor or device the row is about (None: the provider's own row)."""
        if self.fabric_index is None or self.node_id is None:
            return None
        return Peer(self.fabric_index, self.node_id)

    def as_json(self) -> dict[str, Any]:
        row = asdict(self)
        row["time"] = iso_time(self.time)
        return row


class UpdateHistory:
    def __init__(
        self,
        db: Database,
        clock: Callable[[], float] = time.time,
        *,
        max_rows: int = DEFAULT_MAX_ROWS,
        on_error: Callable[[str], None] | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.max_rows = max_rows
        self.on_error = on_error
        self.failing = False  # the last write failed (said once, until one succeeds again)
        self.skipped = 0  # rows not written because of a storage error
        self._written = 0
        # peer -> (row id, kind, summary, details) of its last row: a repeat of it only counts
        self._last: dict[Peer, tuple[int, str, str, dict[str, Any]]] = {}

    def record(self, kind: str, peer: Peer | None, summary: str, details: dict[str, Any]) -> None:
        fabric_index, node_id = peer if peer else (None, None)
        now = self.clock()
        try:
            with self.db.transaction() as cursor:
                last = self._last.get(peer) if peer is not None else None
                same = _without(details, VOLATILE)
                if kind in COALESCED and last is not None and last[1:] == (kind, summary, same):
                    row_id = last[0]
                    cursor.execute(
                        "UPDATE history SET details = json_set(details, '$.repeated', "
                        "coalesce(json_extract(details, '$.repeated'), 1) + 1, '$.lastTime', ?) "
                        "WHERE id = ?",
                        (iso_time(now), row_id),
                    )
                    if cursor.rowcount:
                        self._recovered()
                        return
                row = (now, kind, fabric_index, node_id, summary, json.dumps(details, default=str))
                cursor.execute(
                    "INSERT INTO history (time, kind, fabric_index, node_id, summary, details) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    row,
                )
                if peer is not None:
                    self._last[peer] = (cursor.lastrowid or 0, kind, summary, same)
                self._written += 1
                if self._written % PRUNE_EVERY == 0:
                    cursor.execute(
                        "DELETE FROM history WHERE id <= (SELECT max(id) FROM history) - ?", (self.max_rows,)
                    )
        except (sqlite3.Error, OSError) as exc:
            self.skipped += 1
            if not self.failing:
                self.failing = True
                message = f"the update history cannot be written ({exc}): updates go on, their rows are not kept"
                log.warning("%s", message)
                if self.on_error is not None:
                    self.on_error(message)
            return
        self._recovered()

    def _recovered(self) -> None:
        if self.failing:
            self.failing = False
            log.warning("the update history is written again (%d rows were not kept)", self.skipped)

    def rows(self, *, node_id: int | None = None, limit: int | None = None) -> list[HistoryRow]:
        """The last ``limit`` rows (all without one), oldest first; only those are read."""
        sql = "SELECT id, time, kind, fabric_index, node_id, summary, details FROM history"
        params: tuple = ()
        if node_id is not None:
            sql += " WHERE node_id = ?"
            params = (node_id,)
        sql += " ORDER BY id DESC"
        if limit:
            sql += " LIMIT ?"
            params += (limit,)
        return [_row(row) for row in reversed(self.db.query(sql, params))]

    def knows(self, peer: Peer) -> bool:
        """Whether this node has a row in the history (it asked us something, in any run)."""
        try:
            return bool(self.db.query("SELECT 1 FROM history WHERE fabric_index = ? AND node_id = ? LIMIT 1", peer))
        except sqlite3.Error:  # an unreadable history knows nobody: the caller asks the user instead
            return False


def _row(stored: tuple[Any, ...]) -> HistoryRow:
    row_id, time, kind, fabric_index, node_id, summary, details = stored
    return HistoryRow(row_id, time, kind, fabric_index, node_id, summary, _details(details))


def _details(stored: Any) -> dict[str, Any]:
    """A row's details; one damaged value is shown as it is stored, never the end of a listing."""
    try:
        details = json.loads(stored)
    except (TypeError, ValueError):
        return {"unreadable": str(stored)[:200]}
    return details if isinstance(details, dict) else {"unreadable": str(stored)[:200]}


def rows_as_csv(rows: list[HistoryRow]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["id", "time", "kind", "fabric_index", "node_id", "summary", "details"])
    for row in rows:
        data = row.as_json()
        writer.writerow(
            [
                data["id"],
                data["time"],
                row.kind,
                row.fabric_index,
                "" if row.node_id is None else f"{node_text(row.node_id)}",
                row.summary,
                json.dumps(row.details, sort_keys=True),
            ]
        )
    return out.getvalue()


def rows_as_text(rows: list[HistoryRow]) -> str:
    lines = []
    for row in rows:
        who = "-" if row.node_id is None else f"{node_text(row.node_id)}/{row.fabric_index}"
        lines.append(f"{row.as_json()['time']}  {row.kind:<8} {who:<21} {row.summary}")
    return "\n".join(lines) + ("\n" if lines else "")
