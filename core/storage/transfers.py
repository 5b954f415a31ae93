"""Running BDX transfers, checkpointed, so a provider killed mid-download continues the same
transfer when the requestor's next BlockQuery (or its retransmission) arrives after the restart.

A row is written when a receiver-drive transfer starts, updated at each checkpoint (about once a
second, all running transfers in one transaction: a write per Block would cost a disk flush per
kilobyte), and deleted when the transfer ends in any way. The checkpoint holds the next Block
counter and its offset in the image; since Blocks are all ``block_size`` long but the last, the
offset of any later counter follows from it, so the checkpoint may lag the transfer by any number
of Blocks.
"""

from __future__ import annotations

import json

from ..bdx.checkpoint import TransferRecord
from .database import Database

__all__ = ["TransferStore"]

LAST_NUMBER = "bdx.last_transfer_number"  # settings key


class TransferStore:
    """The state database's :class:`~ota_provider.core.bdx.checkpoint.TransferCheckpoints`."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def begin(self, record: TransferRecord) -> None:
        with self.db.transaction() as cursor:
            cursor.execute(
                "INSERT OR REPLACE INTO transfers (id, local_session_id, exchange_id, designator, image_path,"
                " block_size, start_offset, end_offset, next_counter, offset, seconds, resumed, faults)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    record.id,
                    record.local_session_id,
                    record.exchange_id,
                    record.designator,
                    record.image_path,
                    record.block_size,
                    record.start_offset,
                    record.end_offset,
                    record.next_counter,
                    record.offset,
                    record.seconds,
                    record.resumed,
                    json.dumps(list(record.faults)),
                ),
            )

    def checkpoint(self, progress: list[tuple[int, int, int, float]]) -> None:
        """(id, next counter, its offset, seconds run) of each running transfer, in one transaction."""
        if not progress:
            return
        with self.db.transaction() as cursor:
            cursor.executemany(
                "UPDATE transfers SET next_counter = ?, offset = ?, seconds = ? WHERE id = ?",
                [(counter, offset, seconds, transfer_id) for transfer_id, counter, offset, seconds in progress],
            )

    def end(self, transfer_id: int) -> None:
        with self.db.transaction() as cursor:
            cursor.execute("DELETE FROM transfers WHERE id = ?", (transfer_id,))

    def load(self) -> list[TransferRecord]:
        rows = self.db.query(
            "SELECT id, local_session_id, exchange_id, designator, image_path, block_size, start_offset, end_offset,"
            " next_counter, offset, seconds, resumed, faults FROM transfers ORDER BY id"
        )
        return [_record(row) for row in rows]

    def last_number(self) -> int:
        value = self.db.get_setting(LAST_NUMBER)
        try:
            return max(0, int(value or b"0"))
        except ValueError:  # a damaged value: the numbers of the transfers kept still count (restore)
            return 0

    def numbered(self, transfer_id: int) -> None:
        self.db.set_setting(LAST_NUMBER, str(transfer_id).encode())


def _record(row: tuple) -> TransferRecord:
    (number, session, exchange, designator, path, block_size, start, end, counter, offset, seconds, resumed, faults) = (
        row
    )
    return TransferRecord(
        number,
        session,
        exchange,
        designator,
        path,
        block_size,
        start,
        end,
        counter,
        offset,
        seconds,
        resumed,
        tuple(json.loads(faults)),
    )
