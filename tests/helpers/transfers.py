"""What a BDX transfer listener is told, as one value a test can count."""

from ota_provider.core.bdx.outcome import Outcome, TransferStep

STARTED, RESUMED = TransferStep.STARTED, TransferStep.RESUMED
COMPLETE = Outcome.COMPLETE  # what a finished transfer's end is told as


def told(step: TransferStep, transfer) -> TransferStep | Outcome:
    """The step, or for an end how it ended (Outcome.COMPLETE for a finished transfer)."""
    return transfer.end.outcome if step is TransferStep.ENDED else step


def failed(value: TransferStep | Outcome) -> bool:
    """An end other than complete."""
    return isinstance(value, Outcome) and value is not Outcome.COMPLETE
