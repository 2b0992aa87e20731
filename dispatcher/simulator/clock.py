"""The simulator's sense of time: real clocks plus an offset that tests can push forward.

Status progression, the rate window and "is this feed day over yet" all read this one clock,
so ``POST /__sim__/clock/advance`` moves them together and no test has to sleep.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime


class SimClock:
    """Monotonic and wall time, both shifted by :meth:`advance`."""

    __slots__ = ("_monotonic", "_offset", "_wall")

    def __init__(
        self,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._monotonic = monotonic
        self._wall = wall
        self._offset = 0.0

    def now(self) -> float:
        """Seconds on a monotonic scale: only differences mean anything."""
        return self._monotonic() + self._offset

    def utcnow(self) -> datetime:
        return datetime.fromtimestamp(self._wall() + self._offset, tz=UTC)

    @property
    def offset(self) -> float:
        return self._offset

    def advance(self, seconds: float) -> float:
        """Jump forward (never back: windows and due times assume time only grows)."""
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        self._offset += seconds
        return self._offset

    def reset(self) -> None:
        self._offset = 0.0


def iso_millis(moment: datetime) -> str:
    """``2024-01-02T03:04:05.678Z``: what JavaScript's ``Date.toISOString()`` prints."""
    moment = moment.astimezone(UTC)
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"
