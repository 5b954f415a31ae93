"""What we learn of each peer's link: round-trip times, and the MRP active interval to advertise.

A peer retransmits to us after about 1.1 × the active interval we advertised (Core spec 4.12.2.1:
MRP_BACKOFF_MARGIN × SAI, plus up to 25% jitter). The default 300 ms suits any link, but on a good
one it is what a lost datagram costs: with 5% loss each way a BDX download waits that long for
one block in ten. So a session opened by a peer whose link we have measured advertises an active
interval that covers that link's round trip with RFC 6298's margin (srtt + 4 × rttvar), never
below :data:`FLOOR_MS` (our own scheduling on a loaded host) and never above the configured one:
the peer then retransmits as soon as a datagram can be deemed lost there, and not before, so a
slow mesh is not flooded (its round trips keep the interval at the configured value).

Samples are taken as TCP does (Karn's rule): only from a message sent once and acknowledged, on
an established session (a handshake's answers wait for public-key work). The peer's own time to
answer is in them, which only makes the interval larger. Our own time to answer is not: a crowd of
requestors can keep the event loop busy for longer than the round trip. So the driver reports how
late its timers fire (:meth:`LinkEstimates.note_lag`), and the interval covers twice the worst
lag of the last :data:`LAG_MEMORY` seconds as well.
"""

from __future__ import annotations

import math
from dataclasses import replace

from ..session.secure import SessionParameters

__all__ = ["FLOOR_MS", "LinkEstimate", "LinkEstimates"]

FLOOR_MS = 100  # a busy event loop (hundreds of peers, the dashboard) may take tens of ms to answer
MIN_SAMPLES = 3  # one round trip says little about the next
STALE_SECONDS = 600.0  # a link not heard from for ten minutes may have changed (a device moved mesh)
MAX_PEERS = 4096
LAG_MEMORY = 30.0  # seconds a busy spell of our own event loop is remembered
BACKOFF_MARGIN = 1.1  # MRP_BACKOFF_MARGIN: the peer waits at least this × our active interval
ALPHA, BETA = 1 / 8, 1 / 4  # RFC 6298's smoothing gains


class LinkEstimate:
    """Updated in place: every acknowledged block of a download is a sample."""

    __slots__ = ("rttvar", "samples", "srtt", "updated")

    def __init__(self, srtt: float, rttvar: float, samples: int, updated: float) -> None:
        self.srtt = srtt  # seconds
        self.rttvar = rttvar
        self.samples = samples
        self.updated = updated

    def __repr__(self) -> str:
        return f"LinkEstimate(srtt={self.srtt:.4f}, rttvar={self.rttvar:.4f}, samples={self.samples})"

    @property
    def timeout(self) -> float:
        """RFC 6298's retransmission timeout, without its one-second floor."""
        return self.srtt + 4 * self.rttvar


class LinkEstimates:
    """Round-trip estimates per peer address (host and port), the most recently heard kept."""

    def __init__(self, *, floor_ms: int = FLOOR_MS, adaptive: bool = True) -> None:
        self.floor_ms = floor_ms
        self.adaptive = adaptive
        self._peers: dict[object, LinkEstimate] = {}
        self._lag = 0.0  # the worst lateness of our own timers lately, seconds
        self._lag_at = 0.0

    def note_lag(self, lag: float, now: float) -> None:
        """A timer of ours fired ``lag`` seconds late: we answer that much later too."""
        if lag >= self.own_lag(now):
            self._lag, self._lag_at = lag, now

    def own_lag(self, now: float) -> float:
        return self._lag if now - self._lag_at <= LAG_MEMORY else 0.0

    def sample(self, address: object, rtt: float, now: float) -> None:
        known = self._peers.get(address)
        if known is None or now - known.updated > STALE_SECONDS:
            if known is None and len(self._peers) >= MAX_PEERS:
                self._forget_oldest()
            self._peers[address] = LinkEstimate(rtt, rtt / 2, 1, now)
            return
        known.rttvar = (1 - BETA) * known.rttvar + BETA * abs(known.srtt - rtt)
        known.srtt = (1 - ALPHA) * known.srtt + ALPHA * rtt
        known.samples += 1
        known.updated = now

    def _forget_oldest(self) -> None:
        """Room for a new peer: the tenth least recently heard go (a scan, but once per 400 new peers)."""
        by_age = sorted(self._peers, key=lambda address: self._peers[address].updated)
        for address in by_age[: max(1, MAX_PEERS // 10)]:
            del self._peers[address]

    def get(self, address: object, now: float) -> LinkEstimate | None:
        known = self._peers.get(address)
        if known is None or now - known.updated > STALE_SECONDS:
            return None
        return known

    def parameters_for(self, address: object, configured: SessionParameters, now: float) -> SessionParameters:
        """The parameters to advertise to ``address`` in a handshake we answer or start now."""
        known = self.get(address, now) if self.adaptive else None
        if known is None or known.samples < MIN_SAMPLES:
            return configured
        covering_ms = math.ceil((known.timeout + 2 * self.own_lag(now)) * 1000 / BACKOFF_MARGIN)
        active_ms = min(configured.active_interval_ms, max(self.floor_ms, covering_ms))
        return replace(configured, active_interval_ms=active_ms)
