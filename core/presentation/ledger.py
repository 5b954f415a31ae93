"""The ledger's events and values in words: what was looked up, downloaded, refused, and what is
served when a ledger cannot be reached."""

from __future__ import annotations

from ..dcl.events import (
    LedgerImageDownloading,
    LedgerImageReady,
    LedgerImageRefused,
    LedgerLookedUp,
    LedgerReachable,
    LedgerRootsLoaded,
    LedgerUnreachable,
)
from ..dcl.sources import LedgerKind, LedgerSource
from .words import plural

__all__ = [
    "age_text",
    "image_downloading_text",
    "image_ready_text",
    "image_refused_text",
    "ledger_text",
    "looked_up_text",
    "reachable_text",
    "roots_text",
    "unreachable_text",
]


def ledger_text(source: LedgerSource) -> str:
    return source.name if source.kind == LedgerKind.URL else f"{source.name} ({source.host})"


def age_text(seconds: float) -> str:
    for unit, size in (("day", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            count = int(seconds // size)
            return plural(count, unit) if unit == "day" else f"{count} {unit}"
    return f"{int(seconds)} s"


def _product(vid: int, pid: int) -> str:
    return f"VID 0x{vid:04X} PID 0x{pid:04X}"


def unreachable_text(event: LedgerUnreachable) -> str:
    if event.cached:
        age = "" if event.cache_age is None else f" fetched up to {age_text(event.cache_age)} ago"
        cache = f"its cache ({plural(event.cached, 'answer')}{age})"
    else:
        cache = "nothing cached from it"
    local = plural(event.local_images, "local image")
    return (
        f"ledger {event.ledger} unreachable ({event.reason}): serving {local} and {cache}; "
        "check the network (or HTTPS_PROXY, SSL_CERT_FILE), it is asked again on the next query"
    )


def reachable_text(event: LedgerReachable) -> str:
    return f"ledger {event.ledger} ({event.host}) answers: {plural(event.vendors, 'vendor')} known"


def looked_up_text(event: LedgerLookedUp) -> str:
    passed = "".join(f"; {version} passed over: {reason}" for version, reason in event.skipped)
    chosen = f"version {event.chosen}" if event.chosen is not None else "nothing applies"
    cached = " (from the cache)" if event.from_cache else ""
    return (
        f"ledger {event.ledger}{cached}: {_product(event.vendor_id, event.product_id)} on version {event.current}: "
        f"{chosen}{passed}"
    )


def image_downloading_text(event: LedgerImageDownloading) -> str:
    return (
        f"ledger {event.ledger}: downloading {_product(event.vendor_id, event.product_id)} version "
        f"{event.software_version} ({plural(event.size, 'byte')}) from {event.url}"
    )


def image_ready_text(event: LedgerImageReady) -> str:
    how = f"downloaded in {event.seconds:.1f} s" if event.downloaded else "kept from an earlier run"
    return (
        f"ledger {event.ledger}: {_product(event.vendor_id, event.product_id)} version {event.software_version} "
        f"{how}, size, checksum and header checked: offered as #{event.designator}"
    )


def image_refused_text(event: LedgerImageRefused) -> str:
    then = "tried again on a later query" if event.retry else "not offered"
    return (
        f"ledger {event.ledger}: {_product(event.vendor_id, event.product_id)} version {event.software_version}: "
        f"{event.reason}; {then}"
    )


def roots_text(event: LedgerRootsLoaded) -> str:
    cached = " (from the cache)" if event.from_cache else ""
    return f"ledger {event.ledger}{cached}: {plural(event.roots, 'approved PAA root')} trusted for attestation"
