"""Where pacing and retries read the time and sleep: the loop's clock, or a fake in tests.

A fake clock lets a test walk through a 429 storm, a retry hint and a CUBIC regrowth in
microseconds, with the same code that runs against IO.
"""

from __future__ import annotations

from typing import Protocol

import anyio

__all__ = ["Clock", "FakeClock", "LoopClock"]


class Clock(Protocol):
    """Where the Pacer and the client read time and sleep; swapped for a fake in tests."""

    def now(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class LoopClock:
    """The event loop's clock: the one aiolimiter's bucket uses too."""

    def now(self) -> float:
        return anyio.current_time()

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(seconds)


class FakeClock:
    """Moves only when advanced or slept on (a sleep returns at once): trio's MockClock.jump."""

    def __init__(self, start: float = 0.0) -> None:
        self._now = start

    def now(self) -> float:
        return self._now

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("time does not go backwards")
        self._now += seconds

    async def sleep(self, seconds: float) -> None:
        self.advance(max(0.0, seconds))
        await anyio.sleep(0)  # a checkpoint, as a real sleep would be
