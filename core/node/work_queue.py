"""Work the node does at its next turn rather than now: callbacks that must run after what is being
sent has gone out, and public-key handshake work, rationed so that established sessions keep their
share of the loop. A timed part of the node (``core/timers.py``)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from ..securechannel.admission import HandshakeQueue
from ..timers import Clock, earliest

__all__ = ["SLOW_SHARE", "WorkQueue"]

log = logging.getLogger(__name__)

SLOW_SHARE = 0.5  # of the engine's time, at most, for handshake work while established sessions are busy


class WorkQueue:
    """``secure_traffic()`` counts the secure messages delivered so far (it moving says established
    sessions are busy); ``on_error()`` counts a queued callback that raised."""

    def __init__(self, *, clock: Clock, secure_traffic: Callable[[], int], on_error: Callable[[], None]) -> None:
        self._clock = clock
        self._secure_traffic = secure_traffic
        self._on_error = on_error
        self._soon: list[Callable[[], None]] = []  # for the next poll, after what is being sent now
        self._slow = HandshakeQueue()  # unauthenticated public-key work, sources in turn
        self._slow_resume = 0.0  # no handshake work before then: established traffic's share
        self._secure_seen = 0  # secure_traffic() when the last piece ran
        self._queued_at = 0.0  # when the first of _soon / _slow was queued: their deadline

    def call_soon(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` at the next poll, after what is being sent now has gone out."""
        self._mark_queued()
        self._soon.append(callback)

    def defer_slow(self, source: object, work: Callable[[], None], *, always: bool = False) -> bool:
        """Public-key work (a handshake's step) from ``source``, one piece per poll, sources in turn:
        between two, the loop reads the socket again, so a burst of handshakes never holds up the
        acks and the Blocks of everyone else, and one host's burst never holds up another's
        handshake. False: that source, or everyone, has queued enough (the handshake is answered
        Busy)."""
        self._mark_queued()
        return self._slow.offer(source, work, always=always)

    def next_deadline(self) -> float | None:
        if not self._soon and not self._slow:  # nearly always (asked after every datagram)
            return None
        soon = self._queued_at if self._soon else None
        slow = max(self._queued_at, self._slow_resume) if self._slow else None
        return earliest((soon, slow))

    def poll(self, now: float) -> None:
        soon, self._soon = self._soon, []
        for callback in soon:
            self._run(callback)
        if self._slow and now >= self._slow_resume:
            self._run_slow(now)
        if self._soon or self._slow:
            self._queued_at = now

    def _mark_queued(self) -> None:
        if not self._soon and not self._slow:
            self._queued_at = self._clock()

    def _run(self, work: Callable[[], None]) -> None:
        """A callback's error is logged and counted, never raised out of the poll: the rest of the
        turn's work still runs."""
        try:
            work()
        except Exception:
            log.exception("handler error in queued work")
            self._on_error()

    def _run_slow(self, now: float) -> None:
        """One piece of handshake work. While established sessions have traffic, handshakes get at
        most SLOW_SHARE of the engine's time: after a piece that took d seconds, the next waits
        d * (1 - share) / share, and the socket is served meanwhile (a PBKDFParamRequest flood
        otherwise took one turn of the loop in two from every running download)."""
        work = self._slow.take()
        if work is None:
            return
        started = time.perf_counter()
        self._run(work)
        spent = time.perf_counter() - started
        traffic = self._secure_traffic()
        if traffic != self._secure_seen:
            self._secure_seen = traffic
            self._slow_resume = now + spent * (1 - SLOW_SHARE) / SLOW_SHARE
