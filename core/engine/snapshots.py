"""The engine's live objects as the values the front ends see: a transfer, an image."""

from __future__ import annotations

from ..api.events import ImageSummary, TransferSnapshot
from ..bdx.server import Transfer
from ..ota.catalog import CatalogEntry

__all__ = ["image_summary", "transfer_snapshot"]


def transfer_snapshot(transfer: Transfer) -> TransferSnapshot:
    """A running or ended transfer as the value the front ends see."""
    sender = transfer.sender
    return TransferSnapshot(
        transfer.id,
        transfer.peer,
        transfer.designator.decode(errors="replace"),
        sender.block_size,
        sender.bytes_sent,
        sender.total,
        sender.blocks_sent,
        transfer.seconds,
        transfer.end,
        transfer.paused,
        transfer.pacing,
        transfer.retransmissions,
        transfer.duplicates,
        transfer.resumed,
        transfer.suspended,
        transfer.proposed_block_size,
        sender.start_offset,
        transfer.start_offset_given,
    )


def image_summary(entry: CatalogEntry) -> ImageSummary:
    return ImageSummary(
        entry.designator,
        str(entry.path),
        entry.vendor_id,
        entry.product_id,
        entry.software_version,
        entry.software_version_string,
        entry.size,
        entry.min_applicable_version,
        entry.max_applicable_version,
        entry.origin.name,
    )
