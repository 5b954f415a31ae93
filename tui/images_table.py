"""The Images tab: the catalog being served, one row per image."""

from __future__ import annotations

from ota_provider.core.api.events import ImageSummary

from .format import size
from .steady_scroll import Table

__all__ = ["ImagesTable"]

COLUMNS = ("#", "file", "VID:PID", "version", "applies to", "size", "digest")


class ImagesTable(Table):
    def show(self, entries: tuple[ImageSummary, ...]) -> None:
        self.clear(columns=True)
        self.add_columns(*COLUMNS)
        for entry in entries:
            low = "" if entry.min_applicable_version is None else entry.min_applicable_version
            high = "" if entry.max_applicable_version is None else entry.max_applicable_version
            self.add_row(
                entry.designator,
                entry.file_name,
                f"{entry.vendor_id:04X}:{entry.product_id:04X}",
                f"{entry.software_version} ({entry.software_version_string})",
                f"{low}..{high}",
                size(entry.size),
                "ok",
                key=entry.designator,
            )
        self.border_title = "Images (Enter: offer next, l: reload)"
