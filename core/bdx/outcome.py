"""How a BDX transfer ended, as a value: what happened, and the figures that go with it.

The BDX layer decides the outcome; it makes no sentence. The presentation module
(``core/presentation/words.py``: ``transfer_end_text``) says it in words for the log, the history and the
dashboard, and the dashboard's short state column maps the outcome itself, so rewording a message
changes no behaviour.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["RUNNING", "Outcome", "TransferEnd"]


class Outcome(enum.Enum):
    RUNNING = "running"
    COMPLETE = "complete"  # every byte sent and acknowledged
    REPLACED = "replaced"  # the requestor opened a new transfer of the same image (a new ReceiveInit)
    REQUESTOR_ENDED = "requestor ended"  # the receiver sent a StatusReport (``status``: its code)
    PROTOCOL_ERROR = "protocol error"  # a message of the requestor's broke BDX: we sent StatusReport ``status``
    ABORTED = "aborted"  # an operator ended it (``ctl abort``, the dashboard's x)
    FAULT_ENDED = "fault ended"  # an armed "end the transfer at block N" knob ended it (``block``)
    SHUT_DOWN = "shut down"  # the provider stopped with it running
    IDLE = "idle"  # the requestor asked for nothing for ``seconds`` (after Block ``block``)
    NOT_RESUMED = "not resumed"  # after a provider restart, its requestor did not ask again within ``seconds``
    UNACKNOWLEDGED = "unacknowledged"  # Block ``block`` (None: the ReceiveAccept) sent ``sends`` times, never acked
    CLOSED = "closed"  # its exchange closed for another reason (``reason``)


class TransferStep(enum.Enum):
    """What a transfer's listener is told: it started, it resumed after a provider restart, it
    ended (its ``end`` says how). Blocks are counted, not told: the snapshots carry the counters."""

    STARTED = enum.auto()
    RESUMED = enum.auto()
    ENDED = enum.auto()


@dataclass(frozen=True, slots=True)
class TransferEnd:
    outcome: Outcome
    status: int | None = None  # the BDX status code sent (ours) or received (the requestor's)
    status_protocol: int | None = None  # the received StatusReport's protocol, when it was not BDX's
    block: int | None = None  # the last Block counter sent, where it says where the transfer stopped
    seconds: float | None = None  # the idle timeout that ended it
    sends: int | None = None  # how often the unacknowledged message went out
    reason: str = ""  # why its exchange closed (CLOSED: the exchange layer's own words), or the
    # requestor's StatusReport when it is not BDX's (REQUESTOR_ENDED)

    @property
    def complete(self) -> bool:
        return self.outcome is Outcome.COMPLETE

    @property
    def running(self) -> bool:
        return self.outcome is Outcome.RUNNING


RUNNING = TransferEnd(Outcome.RUNNING)
