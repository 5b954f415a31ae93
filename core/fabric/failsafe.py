"""The fail-safe context (Core spec 11.10.7.2): changes made while commissioning stay provisional
until CommissioningComplete; if the timer expires first they are rolled back."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric import ec

__all__ = ["FailSafe", "Scheduler"]

log = logging.getLogger(__name__)

MAX_CUMULATIVE_SECONDS = 900


class Scheduler(Protocol):
    def call_later(self, delay: float, callback: Callable[[], None]) -> Any: ...


@dataclass
class FailSafe:
    scheduler: Scheduler
    on_expire: Callable[[FailSafe], None]
    armed_by_fabric: int | None = None  # fabric index of the arming session (0: a PASE session without one)
    pending_root: bytes | None = None  # RCAC TLV from AddTrustedRootCertificate
    pending_key: ec.EllipticCurvePrivateKey | None = None  # operational key from CSRRequest
    csr_for_update: bool = False
    added_fabric: int | None = None  # fabric index created by AddNOC, not yet committed
    updated_fabric: Any = None  # the previous Fabric replaced by UpdateNOC, restored on expiry
    _timer: Any = field(default=None, repr=False)
    _first_armed: float = 0.0

    @property
    def armed(self) -> bool:
        return self.armed_by_fabric is not None

    def arm(self, fabric_index: int, seconds: int) -> None:
        now = time.monotonic()
        if not self.armed:
            self._first_armed = now
        remaining = MAX_CUMULATIVE_SECONDS - (now - self._first_armed)
        seconds = max(0, min(seconds, int(remaining)))
        self.armed_by_fabric = fabric_index
        self._cancel_timer()
        self._timer = self.scheduler.call_later(seconds, self.expire)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def expire(self) -> None:
        """Roll back everything provisional and disarm."""
        if not self.armed:
            return
        log.info("fail-safe expired: rolling back provisional commissioning changes")
        self._cancel_timer()
        self.on_expire(self)
        self.reset()

    def commit(self) -> None:
        self._cancel_timer()
        self.reset()

    def reset(self) -> None:
        self.armed_by_fabric = None
        self.pending_root = None
        self.pending_key = None
        self.csr_for_update = False
        self.added_fabric = None
        self.updated_fabric = None
