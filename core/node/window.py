"""The commissioning window: open at a first start or by Administrator Commissioning, closed at its
deadline, by a revoke or by CommissioningComplete. A timed part of the node (``core/timers.py``)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from ..securechannel.pase_credentials import PaseCredentials
from ..timers import Clock

__all__ = ["DEFAULT_WINDOW_SECONDS", "CommissioningWindow", "CommissioningWindows", "WindowStatus"]

log = logging.getLogger(__name__)

DEFAULT_WINDOW_SECONDS = 900  # the spec's maximum basic commissioning window is 15 minutes


class WindowStatus:
    """Administrator Commissioning's WindowStatus attribute (Core spec 11.19.5.1)."""

    NOT_OPEN = 0
    ENHANCED_OPEN = 1
    BASIC_OPEN = 2


@dataclass
class CommissioningWindow:
    credentials: PaseCredentials
    deadline: float  # on the node's clock
    discriminator: int = 0
    opener: tuple[int, int] | None = None  # (fabric index, vendor id) for an enhanced window
    clock: Clock = field(kw_only=True)  # the node's

    @property
    def seconds_left(self) -> float:
        return max(0.0, self.deadline - self.clock())


class CommissioningWindows:
    """The one window the node may have open, with the setup passcode's credentials by default.

    ``on_change(opened)`` is told after every open and close (the node re-advertises, and a new
    window starts PASE's count of failed attempts again)."""

    def __init__(
        self,
        credentials: PaseCredentials,
        discriminator: int,
        *,
        clock: Clock,
        on_change: Callable[[bool], None],
    ) -> None:
        self._credentials = credentials
        self._discriminator = discriminator
        self._clock = clock
        self._on_change = on_change
        self.window: CommissioningWindow | None = None

    def open_commissioning_window(
        self,
        seconds: float = DEFAULT_WINDOW_SECONDS,
        credentials: PaseCredentials | None = None,
        discriminator: int | None = None,
        opener: tuple[int, int] | None = None,
    ) -> CommissioningWindow:
        self.window = CommissioningWindow(
            credentials or self._credentials,
            self._clock() + seconds,
            self._discriminator if discriminator is None else discriminator,
            opener,
            clock=self._clock,
        )
        self._on_change(True)
        return self.window

    def close_commissioning_window(self) -> None:
        self.window = None
        self._on_change(False)

    def pase_credentials(self) -> PaseCredentials | None:
        """What PASE verifies against: the open window's, or None (PASE is refused)."""
        if self.window is not None and self.window.seconds_left <= 0:
            log.info("commissioning window expired")
            self.window = None
        return self.window.credentials if self.window else None

    @property
    def window_status(self) -> int:
        window = self.window if self.pase_credentials() is not None else None
        if window is None:
            return WindowStatus.NOT_OPEN
        return WindowStatus.ENHANCED_OPEN if window.opener is not None else WindowStatus.BASIC_OPEN

    @property
    def window_opener(self) -> tuple[int, int] | None:
        return self.window.opener if self.window else None

    def next_deadline(self) -> float | None:
        return self.window.deadline if self.window is not None else None

    def poll(self, now: float) -> None:
        if self.window is not None and now >= self.window.deadline:
            log.info("commissioning window closed after its timeout")
            self.close_commissioning_window()
