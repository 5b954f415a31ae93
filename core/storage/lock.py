"""One provider per state database: an exclusive lock held for the node's life.

Two providers on one state would share fabrics, counters and offers, and each would overwrite
the other's: the second is refused with the first one's pid. The lock is an flock on a file
beside the database, so it is released by the kernel when the process ends, even on SIGKILL.
Readers (``ota-provider history``) do not take it.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import TextIO

from .database import StorageError

__all__ = ["StateLock"]


class StateLock:
    def __init__(self, database: Path) -> None:
        self.path = database.with_name(database.name + ".lock")
        self._file: TextIO | None = None

    def acquire(self) -> None:
        handle = open(self.path, "a+")  # noqa: SIM115  (held open for the node's life)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip()
            handle.close()
            who = f" (pid {holder})" if holder.isdigit() else ""
            raise StorageError(
                f"the state in {self.path.parent} is in use by another provider{who}; "
                "stop it, or give this one another --storage"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._file = handle

    def release(self) -> None:
        if self._file is not None:
            self._file.close()  # closing drops the flock
            self._file = None
