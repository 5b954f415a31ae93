"""Message Reliability Protocol parameters and backoff (Core spec 4.12.8)."""

from __future__ import annotations

import random
from dataclasses import dataclass

from ..session.secure import SessionParameters

__all__ = ["MrpConfig", "retransmit_delay"]


@dataclass(frozen=True)
class MrpConfig:
    max_transmissions: int = 5  # the first send plus four retransmissions
    backoff_base: float = 1.6
    backoff_jitter: float = 0.25
    backoff_margin: float = 1.1
    backoff_threshold: int = 1
    standalone_ack_timeout: float = 0.2


def retransmit_delay(
    config: MrpConfig,
    peer: SessionParameters,
    retransmissions_so_far: int,
    *,
    peer_active: bool,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait before the next retransmission.

    t = MARGIN × interval × BASE^max(0, n − THRESHOLD) × (1 + random × JITTER), where the
    interval is the peer's active interval if we heard from it within its active threshold.
    """
    interval_ms = peer.active_interval_ms if peer_active else peer.idle_interval_ms
    exponent = max(0, retransmissions_so_far - config.backoff_threshold)
    jitter = 1.0 + (rng or random).random() * config.backoff_jitter
    return config.backoff_margin * (interval_ms / 1000.0) * config.backoff_base**exponent * jitter
