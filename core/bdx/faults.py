"""A fault an operator armed for one Block, as a value the BDX server acts on (drop it, hold it
back, corrupt it, or end the transfer with a status)."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from ..codec.status_report import BdxStatus

__all__ = ["Fault", "FaultKind"]


class FaultKind(enum.Enum):
    # The values are what a transfer's record keeps ("corrupt block 3"): stored, so never renamed.
    DROP = "drop"
    DELAY = "delay"
    CORRUPT = "corrupt"
    END = "end"


@dataclass(frozen=True, slots=True)
class Fault:
    kind: FaultKind
    seconds: float = 0.0  # DELAY: how long the Block is held back
    status: BdxStatus = BdxStatus.TRANSFER_FAILED_UNKNOWN_ERROR  # END: the StatusReport the requestor gets
