"""The Images tab: the catalog being served, one row per image."""

from __future__ import annotations

from ota_provider.core.api.events import ImageSummary
from ota_provider.core.presentation.images import IMAGE_COLUMNS, image_cells

from .format import size
from .steady_scroll import Table

__all__ = ["ImagesTable"]


class ImagesTable(Table):
    def show(self, entries: tuple[ImageSummary, ...]) -> None:
        self.clear(columns=True)
        self.add_columns(*IMAGE_COLUMNS)
        for entry in entries:
            self.add_row(*image_cells(entry, size), key=entry.designator)
        self.border_title = "Images (Enter: offer next, l: reload)"
