"""The image catalog as a table: the columns and the cells of one image, for the list printed at
start-up and the dashboard's Images tab alike."""

from __future__ import annotations

from collections.abc import Callable

from ..api.events import ImageSummary, LedgerDownload
from ..dcl.events import DownloadState

__all__ = ["IMAGE_COLUMNS", "download_cells", "image_cells"]

IMAGE_COLUMNS = ("#", "file", "from", "VID:PID", "version", "applies to", "size", "digest")


def image_cells(image: ImageSummary, size: Callable[[int], str] = str) -> tuple[str, ...]:
    """One row of :data:`IMAGE_COLUMNS`; ``size`` writes the byte count (exact by default)."""
    low = "" if image.min_applicable_version is None else image.min_applicable_version
    high = "" if image.max_applicable_version is None else image.max_applicable_version
    return (
        image.designator,
        image.file_name,
        image.origin,
        f"{image.vendor_id:04X}:{image.product_id:04X}",
        f"{image.software_version} ({image.software_version_string})",
        f"{low}..{high}",
        size(image.size),
        "ok",  # a catalog holds only images whose header and digest were checked when it was read
    )


def download_cells(download: LedgerDownload, size: Callable[[int], str] = str) -> tuple[str, ...]:
    """A ledger image not offered (yet) as a row of :data:`IMAGE_COLUMNS`: its progress, or why not."""
    if download.state == DownloadState.RUNNING:
        share = 100 * download.received // download.total if download.total else 0
        state = f"downloading {share}%"
    else:
        state = f"refused: {download.reason}"
    return (
        "",
        "",
        download.ledger,
        f"{download.vendor_id:04X}:{download.product_id:04X}",
        str(download.software_version),
        "",
        size(download.total),
        state,
    )
