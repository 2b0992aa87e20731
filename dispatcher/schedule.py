"""When a run may send: the ente's send window, and the moment a wait ends.

Why a window: IO pushes a notification to the citizen's phone the moment it stores a message,
so a nightly cron job at 01:00 wakes 80,000 people at 01:00. ``--send-window 08:00-20:00``
keeps every new request inside courteous hours, in Italian time whatever the server's zone:
the hours are wall-clock times in Europe/Rome, read through :mod:`zoneinfo`, so the window
opens at 08:00 in Rome on the days the clocks change too. A window may cross midnight
(``22:00-06:00``).

Outside the window a run either waits until it opens (:attr:`OutsideWindow.WAIT`, the default:
a run started by hand) or stops with exit 75 (:attr:`OutsideWindow.EXIT`: cron runs it again
at the next tick, and that run resumes from the ledger).

:class:`SendGate` is the window as the pipeline's workers meet it: each asks
:meth:`SendGate.admit` before a new profile check or submit, so once the window shuts no
new request starts; the ones already in flight finish and are recorded as usual.

Time is read from a :class:`~dispatcher.clock.Clock` whose ``now()`` is Unix time
(:class:`WallClock`); tests pass a :class:`~dispatcher.clock.FakeClock` started at a chosen
instant, so a night's wait takes no time at all.
"""

from __future__ import annotations

import re
import time as _time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import anyio
import structlog

from dispatcher.clock import Clock

if TYPE_CHECKING:  # settings imports this module, and stopping imports what imports settings
    from dispatcher.stopping import StopPolicy

__all__ = ["ROME", "OutsideWindow", "SendGate", "SendWindow", "WallClock", "rome_text"]

ROME = ZoneInfo("Europe/Rome")

NAP_S = 900.0
"""The longest single sleep of a wait: the time is read again after it (a suspended laptop,
a corrected system clock), and a stop ends any nap at once."""

_WINDOW = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")

log = structlog.get_logger("dispatcher.schedule")


class OutsideWindow(StrEnum):
    """What a run does while its send window is shut."""

    WAIT = "wait"
    EXIT = "exit"


class WallClock:
    """Unix time and the event loop's sleep: what the window is read with outside tests."""

    def now(self) -> float:
        return _time.time()

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(seconds)


def rome_text(instant: float) -> str:
    """``2027-01-31 08:00`` in Italian time: how logs and messages name a moment."""
    return datetime.fromtimestamp(instant, ROME).strftime("%Y-%m-%d %H:%M")


@dataclass(frozen=True)
class SendWindow:
    """Daily hours, in Europe/Rome, during which new requests may start."""

    opens: time
    closes: time

    @classmethod
    def parse(cls, text: str) -> SendWindow:
        """``08:00-20:00`` (or ``22:00-06:00`` across midnight); raises ``ValueError``."""
        match = _WINDOW.match(text)
        if match is None:
            raise ValueError(f"send window {text!r} is not like 08:00-20:00 (HH:MM-HH:MM, "
                             "Italian time)")
        hours_open, minutes_open, hours_close, minutes_close = map(int, match.groups())
        try:
            window = cls(time(hours_open, minutes_open), time(hours_close, minutes_close))
        except ValueError:
            raise ValueError(f"send window {text!r}: hours go from 00 to 23, minutes from "
                             "00 to 59") from None
        if window.opens == window.closes:
            raise ValueError(f"send window {text!r} opens and closes at the same time; "
                             "leave the window out to send at any hour")
        return window

    def __str__(self) -> str:
        return f"{self.opens:%H:%M}-{self.closes:%H:%M}"

    @property
    def crosses_midnight(self) -> bool:
        return self.closes < self.opens

    def is_open(self, at: float) -> bool:
        """Whether a request may start at Unix time ``at`` (the window's end is excluded)."""
        local = datetime.fromtimestamp(at, ROME).time()
        if self.crosses_midnight:
            return local >= self.opens or local < self.closes
        return self.opens <= local < self.closes

    def next_open(self, at: float) -> float:
        """``at`` when the window is open then, else the instant it next opens."""
        return at if self.is_open(at) else _next_wall_time(at, self.opens)

    def next_close(self, at: float) -> float:
        """The instant after ``at`` at which the window next closes."""
        return _next_wall_time(at, self.closes)

    def shut_text(self, at: float) -> str:
        """Why nothing may start at ``at``, and when it may, in words for a person."""
        return (f"outside the send window {self} (Europe/Rome); it opens at "
                f"{rome_text(self.next_open(at))}")


def _next_wall_time(at: float, wall: time) -> float:
    """The first instant after ``at`` at which the clock in Rome reads ``wall`` (or later)."""
    day = datetime.fromtimestamp(at, ROME).date()
    for offset in range(3):
        candidate = _rome_instant(day + timedelta(days=offset), wall)
        if candidate > at:
            return candidate
    raise AssertionError("a wall-clock time comes back within three days")  # pragma: no cover


def _rome_instant(day: date, wall: time) -> float:
    """When the clock in Rome first reads ``wall`` (or later) on ``day``.

    An autumn time that happens twice is its first occurrence (zoneinfo's ``fold=0``). A
    spring time the clocks skip (02:30 on the last Sunday of March) is the moment they jump
    over it, found between its two readings (the offsets before and after the change).
    """
    naive = datetime.combine(day, wall)
    early = naive.replace(tzinfo=ROME, fold=1).timestamp()
    late = naive.replace(tzinfo=ROME, fold=0).timestamp()
    if datetime.fromtimestamp(late, ROME).replace(tzinfo=None) == naive:
        return late
    low, high = min(early, late), max(early, late)
    while high - low > 1.0:  # local time only moves forward across the gap
        middle = (low + high) / 2
        if datetime.fromtimestamp(middle, ROME).replace(tzinfo=None) >= naive:
            high = middle
        else:
            low = middle
    return float(int(high))


class SendGate:
    """The send window at the door of every new request of a run.

    Made inside the run's event loop (it holds anyio primitives). While the window is shut,
    one worker sleeps until it opens and the others queue behind it, so the wait is logged
    once when it begins and once when it ends; a stop (SIGINT, stop file, deadline) ends the
    wait at once, with nothing sent.
    """

    def __init__(self, window: SendWindow, policy: OutsideWindow, stops: StopPolicy,
                 clock: Clock | None = None) -> None:
        self.window = window
        self.policy = policy
        self.stops = stops
        self.clock: Clock = clock or WallClock()
        self.waits = 0
        """How many times this run waited for the window to open."""
        self._lock = anyio.Lock()
        self._sending = anyio.Event()
        self._sending.set()
        self._waiting_since: float | None = None
        self._on_wait: list[Callable[[], None]] = []

    @property
    def waiting(self) -> bool:
        return self._waiting_since is not None

    async def admit(self) -> bool:
        """True when a new request may start now; False once the run is stopping.

        Outside the window this waits for it to open, or (``exit``) stops the run, whose
        untried rows stay pending for the next run.
        """
        if self.stops.is_set:
            return False
        if not self.waiting and self.window.is_open(self.clock.now()):
            return True
        async with self._lock:
            while not self.stops.is_set:
                now = self.clock.now()
                if self.window.is_open(now):
                    self._resumed(now)
                    return True
                if self.policy is OutsideWindow.EXIT:
                    self.stops.stop(f"{self.window.shut_text(now)}: run again then; the rows "
                                    "not sent yet stay pending")
                    return False
                self._began_waiting(now)
                await self._nap(self.window.next_open(now) - now)
        return False

    async def until_sending(self) -> None:
        """Return once the run is not waiting for the window (at once when it is not)."""
        await self._sending.wait()

    def when_waiting(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once, when the next wait begins (the progress log pauses)."""
        self._on_wait.append(callback)

    def _began_waiting(self, now: float) -> None:
        if self._waiting_since is not None:
            return
        self._waiting_since = now
        self.waits += 1
        self._sending = anyio.Event()
        callbacks, self._on_wait = self._on_wait, []
        for callback in callbacks:
            callback()
        opens = self.window.next_open(now)
        log.warning("send_window_waiting", window=str(self.window),
                    opens_at=rome_text(opens), wait_s=round(opens - now))

    def _resumed(self, now: float) -> None:
        if self._waiting_since is None:
            return
        waited = now - self._waiting_since
        self._waiting_since = None
        self._sending.set()
        log.info("send_window_resumed", window=str(self.window), waited_s=round(waited),
                 closes_at=rome_text(self.window.next_close(now)))

    async def _nap(self, seconds: float) -> None:
        """Sleep ``seconds`` (at most :data:`NAP_S`), or less when the run is stopped."""
        async with anyio.create_task_group() as naps:

            async def sleep() -> None:
                await self.clock.sleep(min(max(seconds, 0.0), NAP_S))
                naps.cancel_scope.cancel()

            async def stopped() -> None:
                await self.stops.event.wait()
                naps.cancel_scope.cancel()

            naps.start_soon(sleep)
            naps.start_soon(stopped)
