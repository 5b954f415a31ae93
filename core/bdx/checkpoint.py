"""What a running BDX transfer leaves behind to survive a crash, and the store it goes to.

The BDX layer says what must be kept (:class:`TransferRecord`) and when (:class:`TransferCheckpoints`:
at the start, about once a second, at the end); it knows no database. The node hands it the state
database's implementation (``storage.transfers.TransferStore``); tests can hand it any other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

__all__ = ["TransferCheckpoints", "TransferRecord"]


@dataclass(frozen=True)
class TransferRecord:
    id: int
    local_session_id: int
    exchange_id: int
    designator: bytes
    image_path: str
    block_size: int
    start_offset: int
    end_offset: int
    next_counter: int
    offset: int  # the image offset of Block ``next_counter``
    seconds: float  # how long it had run
    resumed: int = 0  # restarts it has survived
    faults: tuple[str, ...] = ()


class TransferCheckpoints(Protocol):
    def begin(self, record: TransferRecord) -> None: ...

    def checkpoint(self, progress: list[tuple[int, int, int, float]]) -> None:
        """(id, next counter, its offset, seconds run) of each running transfer, at once."""
        ...

    def end(self, transfer_id: int) -> None: ...

    def load(self) -> list[TransferRecord]: ...

    def last_number(self) -> int:
        """The highest transfer number ever given in this state (0: none): numbers go on from it,
        so one number names one transfer in the history and the logs, across restarts."""
        ...

    def numbered(self, transfer_id: int) -> None:
        """A new transfer took this number."""
        ...
