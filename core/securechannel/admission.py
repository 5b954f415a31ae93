"""Admission of unauthenticated handshake work: who gets the engine's public-key time next.

Every PBKDFParamRequest, Sigma1 and Sigma3 costs milliseconds of P-256 work before the peer has
proved anything. Without a bound, a flood of them from one address queued seconds of work ahead of
everyone else's handshakes (1000 Sigma1/s held up a legitimate CASE for 20-30 s after the flood
ended). Here each source address has its own queue and the queues are served in turn, one piece at
a time, so a newcomer from another address waits for at most one piece per busy source, never for
the whole backlog of one. A source's queue, and all queues together, are bounded: past that the
handshake is answered Busy (Core spec 4.11.1.4: the initiator waits the given time and tries
again) and costs nothing more.

Sans-IO: the node asks :meth:`take` for the next piece between two reads of the socket.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Callable

from ..exchange.manager import BUSY_WAIT_MS  # what a Busy answer asks the initiator to wait

__all__ = ["BUSY_WAIT_MS", "MAX_PER_SOURCE", "MAX_QUEUED", "HandshakeQueue", "source_of"]

MAX_PER_SOURCE = 256  # pieces queued for one address: more than a bench opens at once from one host
MAX_QUEUED = 1024  # pieces queued in all: about 3 s of the engine's time at ~3 ms each

Work = Callable[[], None]


def source_of(message: object) -> object:
    """The address a handshake message came from, without its port: one host, one queue."""
    address = getattr(getattr(message, "session", None), "peer_address", None)
    return address[0] if address else None


class HandshakeQueue:
    def __init__(self, max_per_source: int = MAX_PER_SOURCE, max_queued: int = MAX_QUEUED) -> None:
        self.max_per_source = max_per_source
        self.max_queued = max_queued
        self._sources: OrderedDict[object, deque[Work]] = OrderedDict()  # in serving order
        self._queued = 0
        self.refused = 0  # pieces answered Busy

    def __len__(self) -> int:
        return self._queued

    def offer(self, source: object, work: Work, *, always: bool = False) -> bool:
        """Queue ``work`` for ``source``; False when that source, or everyone, has queued enough.
        ``always``: the second step of a handshake already under way (Sigma3), queued whatever the
        bounds, since refusing it would waste the first; there is at most one per unsecured session."""
        queue = self._sources.get(source)
        full = self._queued >= self.max_queued or (queue is not None and len(queue) >= self.max_per_source)
        if full and not always:
            self.refused += 1
            return False
        if queue is None:
            queue = self._sources[source] = deque()
        queue.append(work)
        self._queued += 1
        return True

    def take(self) -> Work | None:
        """The next piece: the oldest of the source whose turn it is."""
        if not self._sources:
            return None
        source, queue = next(iter(self._sources.items()))
        work = queue.popleft()
        self._queued -= 1
        if queue:
            self._sources.move_to_end(source)  # its next piece waits for every other source's turn
        else:
            del self._sources[source]
        return work
