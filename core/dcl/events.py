"""What the ledger source tells the engine: one value per lookup, download and outage. Reasons
travel as the ledger's or the check's own one-line messages; the front ends word the rest."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from ..event_base import EngineEvent, dataclass_fields

__all__ = [
    "DownloadState",
    "LedgerDownload",
    "LedgerEvent",
    "LedgerImageDownloading",
    "LedgerImageReady",
    "LedgerImageRefused",
    "LedgerLookedUp",
    "LedgerReachable",
    "LedgerRootsLoaded",
    "LedgerUnreachable",
]


@dataclass(frozen=True)
class LedgerEvent(EngineEvent):
    def fields(self) -> dict[str, Any]:
        return dataclass_fields(self)


@dataclass(frozen=True)
class LedgerUnreachable(LedgerEvent):
    """A ledger did not answer; until it does, its cache (``cached`` answers, the oldest fetched
    ``cache_age`` seconds ago, None: nothing cached) and the local images are what is served."""

    name = "LedgerUnreachable"
    ledger: str
    host: str
    reason: str
    cached: int
    cache_age: float | None
    local_images: int


@dataclass(frozen=True)
class LedgerReachable(LedgerEvent):
    """A ledger answered (at start, or again after an outage); ``vendors``: names it gave."""

    name = "LedgerReachable"
    ledger: str
    host: str
    vendors: int


@dataclass(frozen=True)
class LedgerRootsLoaded(LedgerEvent):
    """A ledger's approved PAA roots, added to the commissioner's trust store."""

    name = "LedgerRootsLoaded"
    ledger: str
    roots: int
    from_cache: bool = False


@dataclass(frozen=True)
class LedgerLookedUp(LedgerEvent):
    """A product's versions on a ledger, for a device on ``current``: the one chosen (None:
    nothing applies) and each newer one passed over with why."""

    name = "LedgerLookedUp"
    ledger: str
    vendor_id: int
    product_id: int
    current: int
    chosen: int | None
    skipped: tuple[tuple[int, str], ...]
    from_cache: bool = False


@dataclass(frozen=True)
class LedgerImageDownloading(LedgerEvent):
    name = "LedgerImageDownloading"
    ledger: str
    vendor_id: int
    product_id: int
    software_version: int
    url: str
    size: int


@dataclass(frozen=True)
class LedgerImageReady(LedgerEvent):
    """Downloaded (or found from an earlier run), its size, checksum and header checked."""

    name = "LedgerImageReady"
    ledger: str
    vendor_id: int
    product_id: int
    software_version: int
    designator: str
    size: int
    seconds: float
    downloaded: bool = True  # False: the file was already here


@dataclass(frozen=True)
class LedgerImageRefused(LedgerEvent):
    """Not offered: the download failed, or the image is not the one the ledger published.
    ``retry``: a network failure, tried again on a later query; False: this entry is refused."""

    name = "LedgerImageRefused"
    ledger: str
    vendor_id: int
    product_id: int
    software_version: int
    reason: str
    retry: bool


class DownloadState(enum.StrEnum):
    RUNNING = "running"
    READY = "ready"
    FAILED = "failed"


@dataclass(frozen=True)
class LedgerDownload:
    """One ledger image as the front ends see it (the Images tab's progress)."""

    ledger: str
    vendor_id: int
    product_id: int
    software_version: int
    state: DownloadState
    received: int
    total: int
    reason: str = ""
