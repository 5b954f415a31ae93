"""The update history in the state database: every query answered, transfer, apply and
notification, one committed row each (a crash loses nothing already written)."""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from ..bdx.server import Transfer
from ..storage.database import Database
from .exchanges import OtaExchange

__all__ = ["HistoryRow", "UpdateHistory", "iso_time", "rows_as_csv", "rows_as_text"]


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

    def as_json(self) -> dict[str, Any]:
        row = asdict(self)
        row["time"] = iso_time(self.time)
        return row


class UpdateHistory:
    def __init__(self, db: Database, clock: Callable[[], float] = time.time) -> None:
        self.db = db
        self.clock = clock

    def record(self, kind: str, peer: tuple[int, int] | None, summary: str, details: dict[str, Any]) -> None:
        fabric_index, node_id = peer if peer else (None, None)
        with self.db.transaction() as cursor:
            cursor.execute(
                "INSERT INTO history (time, kind, fabric_index, node_id, summary, details) VALUES (?, ?, ?, ?, ?, ?)",
                (self.clock(), kind, fabric_index, node_id, summary, json.dumps(details, default=str)),
            )

    def rows(self, *, node_id: int | None = None, limit: int | None = None) -> list[HistoryRow]:
        sql = "SELECT id, time, kind, fabric_index, node_id, summary, details FROM history"
        params: tuple = ()
        if node_id is not None:
            sql += " WHERE node_id = ?"
            params = (node_id,)
        rows = [HistoryRow(*row[:6], json.loads(row[6])) for row in self.db.query(sql + " ORDER BY id", params)]
        return rows[-limit:] if limit else rows

    # ------------------------------------------------------------------ event adapters

    def ota_exchange(self, event: OtaExchange) -> None:
        """Answers, refusals and notifications; a request itself is recorded with its answer."""
        if event.history is not None:
            summary = event.summary() if hasattr(event, "summary") else event.name
            self.record(event.history, event.peer, summary, event.details())

    def transfer_event(self, kind: str, transfer: Transfer) -> None:
        if kind not in ("finished", "failed"):
            return
        sender = transfer.sender
        seconds = transfer.seconds
        details = {
            "transfer": transfer.id,  # the number the log and the dashboard show
            "designator": transfer.designator.decode(errors="replace"),
            "bytes": sender.bytes_sent,
            "total": sender.total,
            "blocks": sender.blocks_sent,
            "blockSize": sender.block_size,
            "seconds": round(seconds, 3),
            "bytesPerSecond": round(sender.bytes_sent / seconds) if seconds > 0 else None,
            "result": transfer.result,
            "faults": list(transfer.faults),
            "resumed": transfer.resumed,  # provider restarts it survived (still one transfer, one row)
            "retransmissions": transfer.retransmissions,
            "duplicates": transfer.duplicates,
        }
        summary = f"#{transfer.id} {transfer.result}: {sender.bytes_sent}/{sender.total} bytes in {seconds:.2f} s"
        if transfer.resumed:
            summary += f", resumed after {transfer.resumed} provider restart(s)"
        if transfer.faults:  # a "complete" transfer with a corrupted block did not deliver the image
            summary += " with injected faults: " + ", ".join(transfer.faults)
        self.record("transfer", transfer.peer, summary, details)


def rows_as_csv(rows: list[HistoryRow]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["id", "time", "kind", "fabric_index", "node_id", "summary", "details"])
    for row in rows:
        data = row.as_json()
        writer.writerow([data["id"], data["time"], row.kind, row.fabric_index,
                         "" if row.node_id is None else f"0x{row.node_id:016X}", row.summary,
                         json.dumps(row.details, sort_keys=True)])  # fmt: skip
    return out.getvalue()


def rows_as_text(rows: list[HistoryRow]) -> str:
    lines = []
    for row in rows:
        who = "-" if row.node_id is None else f"0x{row.node_id:016X}/{row.fabric_index}"
        lines.append(f"{row.as_json()['time']}  {row.kind:<8} {who:<21} {row.summary}")
    return "\n".join(lines) + ("\n" if lines else "")
