"""Transfer rates, ETAs and the aggregate throughput history, sampled from the engine's stats
snapshots (no Textual here, so it is tested on its own)."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from ota_provider.core.api.events import EngineSnapshot

__all__ = ["SPARK_SAMPLES", "ThroughputMeter", "TransferRate"]

SPARK_SAMPLES = 60  # one per second: the last minute
SMOOTHING = 0.3  # weight of the newest sample in the moving average


@dataclass
class TransferRate:
    bytes_seen: int
    at: float
    per_second: float | None = None
    moved_at: float = 0.0  # when a byte last went out

    def stalled_for(self, now: float) -> float:
        return now - self.moved_at

    def eta(self, remaining: int) -> float | None:
        if remaining <= 0:
            return 0.0
        return remaining / self.per_second if self.per_second else None


class ThroughputMeter:
    def __init__(self) -> None:
        self.rates: dict[int, TransferRate] = {}
        self.history: deque[float] = deque([0.0] * SPARK_SAMPLES, maxlen=SPARK_SAMPLES)
        self.aggregate: float = 0.0
        self._second: tuple[int, float] | None = None

    def sample(self, stats: EngineSnapshot, now: float) -> None:
        for transfer in stats.transfers:
            rate = self.rates.get(transfer.id)
            if rate is None:
                self.rates[transfer.id] = TransferRate(transfer.bytes_sent, now, moved_at=now)
                continue
            if transfer.bytes_sent != rate.bytes_seen:
                rate.moved_at = now
            elapsed = now - rate.at
            if elapsed < 0.5:  # too short a window: block-sized jumps would make the rate jitter
                continue
            current = (transfer.bytes_sent - rate.bytes_seen) / elapsed
            rate.per_second = (
                current if rate.per_second is None else (SMOOTHING * current + (1 - SMOOTHING) * rate.per_second)
            )
            rate.bytes_seen, rate.at = transfer.bytes_sent, now
        running = {t.id for t in stats.transfers}
        for gone in self.rates.keys() - running:
            del self.rates[gone]
        self._sample_aggregate(stats.bytes_sent_total, now)

    def _sample_aggregate(self, total: int, now: float) -> None:
        if self._second is None:
            self._second = (total, now)
            return
        start_total, start = self._second
        if now - start >= 1.0:
            self.aggregate = max(0.0, (total - start_total) / (now - start))
            self.history.append(self.aggregate)
            self._second = (total, now)

    def rate_of(self, transfer_id: int) -> TransferRate | None:
        return self.rates.get(transfer_id)
