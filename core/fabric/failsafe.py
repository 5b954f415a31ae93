"""The fail-safe context (Core spec 11.10.7.2): changes made while commissioning stay provisional
until CommissioningComplete; if the timer expires first they are rolled back. The timer is a
deadline on the node's clock, run by :meth:`FailSafe.poll` (see ``core/timers.py``)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from ..timers import Clock

__all__ = ["FailSafe"]

log = logging.getLogger(__name__)

MAX_CUMULATIVE_SECONDS = 900


@dataclass
class FailSafe:
    on_expire: Callable[[FailSafe], None]
    clock: Clock  # the node's one clock, required
    armed_by_fabric: int | None = None  # fabric index of the arming session (0: a PASE session without one)
    pending_root: bytes | None = None  # RCAC TLV from AddTrustedRootCertificate
    pending_key: ec.EllipticCurvePrivateKey | None = None  # operational key from CSRRequest
    csr_for_update: bool = False
    added_fabric: int | None = None  # fabric index created by AddNOC, not yet committed
    updated_fabric: Any = None  # the previous Fabric replaced by UpdateNOC, restored on expiry
    deadline: float | None = field(default=None, repr=False)  # when it expires, while armed
    _first_armed: float = 0.0

    @property
    def armed(self) -> bool:
        return self.armed_by_fabric is not None

    def arm(self, fabric_index: int, seconds: int) -> None:
        now = self.clock()
        if not self.armed:
            self._first_armed = now
        remaining = MAX_CUMULATIVE_SECONDS - (now - self._first_armed)
        seconds = max(0, min(seconds, int(remaining)))
        self.armed_by_fabric = fabric_index
        self.deadline = now + seconds

    def next_deadline(self) -> float | None:
        return self.deadline

    def poll(self, now: float) -> None:
        if self.deadline is not None and now >= self.deadline:
            self.expire()

    def expire(self) -> None:
        """Roll back everything provisional and disarm."""
        if not self.armed:
            return
        log.info("fail-safe expired: rolling back provisional commissioning changes")
        self.deadline = None
        self.on_expire(self)
        self.reset()

    def commit(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.deadline = None
        self.armed_by_fabric = None
        self.pending_root = None
        self.pending_key = None
        self.csr_for_update = False
        self.added_fabric = None
        self.updated_fabric = None
