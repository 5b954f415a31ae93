"""When a bench device and the provider disagree: the device says Downloading, yet no BDX transfer
of ours runs for it. It then waits for its BDX timeout (the SDK requestor's stall check fires
within 300 to 600 s) before it gives up, which looks like a hang on the bench. Sans-IO: the caller
passes what it sees and the time."""

from __future__ import annotations

from dataclasses import dataclass

from ..ota.types import UpdateState

__all__ = ["DISAGREE_SECONDS", "MISMATCH_ADVICE", "DownloadWatch"]

DISAGREE_SECONDS = 10.0  # a transfer ends and the device reports its next state within a few seconds
MISMATCH_ADVICE = (
    "the requestor waits for its BDX timeout (about 5 minutes; the SDK's stall check fires within 300 "
    "to 600 s) before it gives up: 'update now' announces again once it is Idle"
)


@dataclass
class DownloadWatch:
    """One device's watch. :meth:`update` answers True once per disagreement that lasted
    ``seconds``: a transfer of ours, or a state other than Downloading, ends it."""

    seconds: float = DISAGREE_SECONDS
    _quiet_since: float | None = None
    _flagged: bool = False

    def update(self, state: UpdateState | int, transfer_running: bool, now: float) -> bool:
        if state is not UpdateState.DOWNLOADING or transfer_running:
            self._quiet_since, self._flagged = None, False
            return False
        if self._quiet_since is None:
            self._quiet_since = now
        if self._flagged or now - self._quiet_since < self.seconds:
            return False
        self._flagged = True
        return True

    @property
    def watching(self) -> bool:
        """Whether the device says Downloading without a transfer of ours (flagged or not yet)."""
        return self._quiet_since is not None
