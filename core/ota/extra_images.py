"""Images from beyond the catalog's files (the ledger, core/dcl), as the provider sees them: for a
requestor, one of :class:`Ready` (offer this entry), :class:`Waiting` (not known yet: answer Busy
for ``seconds``) or :class:`Nothing` (why not), asked without waiting on anything."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from .catalog import CatalogEntry

__all__ = ["Answer", "ExtraImages", "Nothing", "Ready", "Waiting"]


@dataclass(frozen=True)
class Ready:
    entry: CatalogEntry


@dataclass(frozen=True)
class Waiting:
    """Ask again in ``seconds``: the source is being asked, or ``version`` is on its way."""

    seconds: int
    version: int | None = None


@dataclass(frozen=True)
class Nothing:
    reason: str


Answer = Ready | Waiting | Nothing


class ExtraImages(Protocol):
    def consider(self, vid: int, pid: int, current: int) -> Answer: ...

    def entries(self) -> tuple[CatalogEntry, ...]: ...

    def entry_for_designator(self, designator: str) -> CatalogEntry | None: ...
