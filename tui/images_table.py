"""The Images tab: the catalog being served, one row per image."""

from __future__ import annotations

from ota_provider.core.api.events import ImageSummary, LedgerDownload
from ota_provider.core.api.values import DownloadState
from ota_provider.core.presentation.images import IMAGE_COLUMNS, download_cells, image_cells

from .format import size
from .steady_scroll import Table

__all__ = ["ImagesTable"]


class ImagesTable(Table):
    def show(self, entries: tuple[ImageSummary, ...], downloads: tuple[LedgerDownload, ...] = ()) -> None:
        """The images offered, then the ledger's on their way or refused (with --dcl)."""
        self.clear(columns=True)
        self.add_columns(*IMAGE_COLUMNS)
        for entry in entries:
            self.add_row(*image_cells(entry, size), key=entry.designator)
        for download in downloads:
            if download.state != DownloadState.READY:
                self.add_row(*download_cells(download, size))
        self.border_title = "Images (Enter: offer next, l: reload)"
