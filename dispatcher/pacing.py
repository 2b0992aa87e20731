"""One request budget per run: a leaky bucket, a retry-hint gate and an adaptive rate.

IO counts every request of an ente (profile checks, sends, status reads) in one sliding window
of 150 requests per 5 s (FACTS.md §6), by arrival. Every call of a run waits on one ``Pacer``:

* **The bucket**: aiolimiter's leaky bucket with a small capacity (``burst``, default 1), so
  requests leave evenly spaced. It admits at most ``rate × t + burst`` in any ``t`` seconds, so
  the Pacer drips at ``(requests − burst − headroom) / period`` and no window of ``period`` holds
  more than ``requests``. The ``headroom`` (1 % of the window) absorbs arrival jitter: ``150/5s``
  drips at 29.5 req/s and tolerates 85 ms; at 29.8 req/s 34 ms cost a 429 and a closed gate.
* **The gate**: after a 429 every caller waits until the server's retry hint has passed.
* **The controller** (:class:`RateController`, pure and synchronous) cuts the rate ×0.7 on a 429,
  once per congestion (a 429 for a request admitted before the cut is an echo), floors it at
  0.5 req/s (botocore's adaptive mode) and, once the gate reopens, grows it back along a CUBIC
  curve (RFC 9438) that reaches the old rate after ``recovery`` = 10 s, two of IO's windows.
  Growth is held while ``x-rate-limit-remaining``, less the requests today's pace will still add
  to the window, is near zero; so a run sharing the budget settles just below the next 429.

The bucket runs on the event loop's clock (aiolimiter reads ``loop.time()``); the gate, the
controller and the timeline use the injected :class:`Clock`, which defaults to the same.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import anyio
import structlog
from aiolimiter import AsyncLimiter

from dispatcher.clock import Clock, LoopClock
from dispatcher.settings import RateSpec

__all__ = [
    "AdjustableLimiter", "Pacer", "PacerStatistics", "RateController", "SecondSample",
    "window_safe_rate",
]

log = structlog.get_logger("dispatcher.pacing")


class AdjustableLimiter(AsyncLimiter):
    """aiolimiter's bucket whose drain rate can change while callers wait.

    aiolimiter computes ``_rate_per_sec`` once, in ``__init__``; assigning ``max_rate`` later only
    resizes the bucket (aiolimiter#98). ``set_rate`` settles the time elapsed at the old rate,
    writes the private rate and re-arms the single waker timer. It relies on aiolimiter 1.3
    internals (``_leak``, ``_wake_next``, ``_rate_per_sec``): pinned in pyproject, covered by tests.
    """

    __slots__ = ()

    def __init__(self, rate_per_sec: float, capacity: float = 1) -> None:
        if rate_per_sec <= 0 or capacity < 1:
            raise ValueError("rate must be positive and capacity at least 1")
        super().__init__(capacity, capacity / rate_per_sec)

    def set_rate(self, rate_per_sec: float) -> None:
        """Drain at ``rate_per_sec`` from now on; needs a running event loop."""
        if rate_per_sec <= 0:
            raise ValueError("rate must be positive")
        if rate_per_sec == self._rate_per_sec:
            return
        self._leak()
        self._rate_per_sec = rate_per_sec
        self.time_period = self.max_rate / rate_per_sec
        self._wake_next()


# The bucket drips a little faster than the safe rate: an asyncio timer wakes late, and a
# one-token bucket cannot save up what it lost. The window cap keeps the budget exact.
CATCH_UP = 1.03


def window_safe_rate(target: RateSpec, burst: int, headroom: float = 0.0) -> float:
    """The drip rate that keeps every ``period``-long window at or under ``requests``.

    A leaky bucket admits at most ``rate × period + burst`` in a window, so the burst (and the
    ``headroom`` share kept for jitter) is taken out of the window's budget. For specs so small
    that this would cost more than a tenth of the rate (``5/s``), it is read as a plain rate.
    """
    spare = target.requests * (1 - headroom) - burst
    if spare >= 0.9 * target.requests:
        return spare / target.period
    return target.per_second


class RateController:
    """The adaptive rate, as a pure function of events and ``now``: no clock, no I/O.

    * ``on_throttled``: multiply the rate by ``decrease_factor`` (floor ``min_rate``), unless the
      429 echoes a cut already made; growth restarts at ``resume_at`` (when the gate reopens).
    * Growth follows CUBIC: ``rate(t) = C·(t − K)³ + w_max`` with ``K = recovery``: concave back
      up to the rate of the last cut, then probing above it, never beyond ``target``. A cut below
      the previous ``w_max`` lowers the plateau to ``rate·(1 + β)/2`` (fast convergence).
    * ``on_remaining``: ``remaining ≤ low_water`` (the window is about to be full) freezes
      growth for ``hold_for`` seconds; the curve then resumes from the held rate.
    """

    def __init__(
        self,
        target: float,
        *,
        decrease_factor: float = 0.7,
        min_rate: float = 0.5,
        cool_down: float = 1.0,
        recovery: float = 10.0,
        low_water: int = 2,
        hold_for: float = 1.0,
    ) -> None:
        if min(target, min_rate, recovery) <= 0 or not 0 < decrease_factor < 1:
            raise ValueError("rates and recovery must be positive, decrease_factor in (0, 1)")
        self.target = target
        self.decrease_factor = decrease_factor
        self.min_rate = min(min_rate, target)
        self.cool_down = cool_down
        self.recovery = recovery
        self.low_water = low_water
        self.hold_for = hold_for
        self.cuts = 0
        self._epoch: float | None = None  # None: never throttled, runs at target
        self._start = self._w_max = self._held = target
        self._c = 0.0  # CUBIC's C, scaled so the plateau comes after `recovery` seconds
        self._quiet_until = self._last_cut = self._hold_until = -math.inf

    def rate(self, now: float) -> float:
        """The rate (req/s) the bucket should drain at, at time ``now``."""
        if self._epoch is None:
            return self.target
        if now < self._hold_until:
            return self._held
        if now <= self._epoch:
            return self._start
        grown = self._c * (now - self._epoch - self.recovery) ** 3 + self._w_max
        return min(self.target, max(self.min_rate, grown))

    def on_throttled(
        self, now: float, *, resume_at: float | None = None, sent_at: float | None = None
    ) -> bool:
        """A 429 was answered; returns whether the rate was cut.

        An echo of congestion already acted on does not cut again: a request admitted before
        the last cut (``sent_at``), or, when that is unknown, a 429 within the cool-down.
        """
        resume = max(now, resume_at if resume_at is not None else now)
        echo = now < self._quiet_until if sent_at is None else sent_at < self._last_cut
        if echo:
            return False
        current = self.rate(now)
        beta = self.decrease_factor
        self._w_max = current * (1 + beta) / 2 if current < self._w_max else current
        self._start = max(self.min_rate, current * beta)
        drop = self._w_max - self._start
        if drop <= 0:  # cut at the floor: nothing to recover, so probe as if from a full cut
            drop = (1 - beta) * self._w_max
        self._c = drop / self.recovery**3
        self._epoch = resume
        self._quiet_until = resume + self.cool_down
        self._last_cut = now
        self._hold_until = -math.inf
        self.cuts += 1
        return True

    def on_remaining(self, now: float, remaining: int | None) -> bool:
        """``x-rate-limit-remaining`` of an answer; returns whether growth is now on hold."""
        if remaining is None or remaining > self.low_water:
            return False
        current = self.rate(now)
        if self._epoch is None or current >= self.target:
            return False  # nothing to hold: the bucket is at the target already
        if now <= self._epoch:  # growth has not started (the gate is closed): start it later
            self._epoch = max(self._epoch, now + self.hold_for)
            return True
        self._held = current
        self._hold_until = now + self.hold_for
        # Re-anchor the curve so growth resumes from the held rate, without a jump.
        offset = math.cbrt((current - self._w_max) / self._c)
        self._epoch = self._hold_until - (self.recovery + offset)
        self._start = current
        return True


@dataclass(frozen=True)
class SecondSample:
    """Counters of one wall-clock second, for the run timeline (absent seconds: no activity)."""

    second: int  # unix time
    requests: int
    throttled: int
    target_rate: float
    current_rate: float


@dataclass(frozen=True)
class PacerStatistics:
    """A snapshot for the progress bar, the run summary and the benchmarks. Rates in req/s."""

    target_rate: float
    current_rate: float
    burst: int
    requests: int  # admitted
    throttled: int  # 429 answers reported
    rate_cuts: int
    waits_for_retry_hint: int  # acquisitions that waited at the closed gate
    paused_until: float | None  # unix time the gate reopens, None when open
    paused_for_s: float
    waiting: int  # callers inside acquire()
    last_remaining: int | None  # last x-rate-limit-remaining seen
    achieved_rate: float  # admissions per second, first to last


class Pacer:
    """The run's shared request budget: call ``acquire()`` before every request, then report."""

    def __init__(
        self,
        target: RateSpec,
        *,
        clock: Clock | None = None,
        burst: int = 1,
        headroom: float = 0.01,
        decrease_factor: float = 0.7,
        min_rate: float = 0.5,
        cool_down: float = 1.0,
        recovery: float = 10.0,
        low_water: int = 2,
        default_retry_after: float = 1.0,
        max_retry_after: float = 60.0,
        wall_clock: Callable[[], float] = time.time,
        timeline_seconds: int = 86_400,
    ) -> None:
        if burst < 1:
            raise ValueError("burst must be at least 1")
        self.target = target
        self.burst = burst
        self.clock: Clock = clock or LoopClock()  # the client sleeps its backoffs on it too
        self._wall_clock = wall_clock
        self._controller = RateController(
            window_safe_rate(target, burst, headroom), decrease_factor=decrease_factor,
            min_rate=min_rate, cool_down=cool_down, recovery=recovery, low_water=low_water,
        )
        self._limiter = AdjustableLimiter(self._controller.target, burst)
        self._default_retry_after = default_retry_after
        self._max_retry_after = max_retry_after
        self._timeline_seconds = timeline_seconds
        self._timeline: dict[int, list[float]] = {}  # second → [requests, throttled, rate]
        self._wall_offset: float | None = None
        self._closed_until = -math.inf
        self._last_now = 0.0
        self._first_admission: float | None = None
        self._requests = self._throttled = self._gate_waits = self._waiting = 0
        self._last_remaining: int | None = None
        self._recent: deque[float] = deque()  # admissions of the last window
        # The hard cap: never more of our own admissions in one window than the safe budget.
        self._window_cap = max(1, math.floor(target.requests * (1 - headroom)) - burst)

    async def acquire(self) -> None:
        """Wait for the retry gate to open and for a token; the request may then leave."""
        self._waiting += 1
        try:
            waited = False
            while True:
                now = self._now()
                if now < self._closed_until:
                    waited = True
                    await self.clock.sleep(self._closed_until - now)
                    continue
                self._limiter.set_rate(self._controller.rate(now) * CATCH_UP)
                await self._limiter.acquire()
                if self._now() < self._closed_until:
                    continue  # a 429 closed the gate while we queued: wait, then re-queue
                full = self._window_full(self._now())
                if full > 0:
                    await self.clock.sleep(full)
                    continue
                break
        finally:
            self._waiting -= 1
        self._gate_waits += waited
        self._requests += 1
        now = self._now()
        if self._first_admission is None:
            self._first_admission = now
        self._sample(now)[0] += 1
        self._recent.append(now)
        self._own_in_window(now)

    def on_throttled(self, retry_after: float | None, *, sent_at: float | None = None) -> None:
        """A 429 was answered: close the gate for the hint and cut the rate.

        ``sent_at`` (this clock's time when the request was admitted) tells an echo of a cut
        already made from fresh news; without it, 429s within the cool-down count as echoes.
        """
        now = self._now()
        wait = self._default_retry_after if retry_after is None else retry_after
        wait = min(max(0.0, wait), self._max_retry_after)
        self._closed_until = max(self._closed_until, now + wait)
        self._throttled += 1
        if self._controller.on_throttled(now, resume_at=self._closed_until, sent_at=sent_at):
            log.warning("rate_reduced", rate=round(self._controller.rate(self._closed_until), 2),
                        paused_s=round(self._closed_until - now, 2), throttled=self._throttled)
        self._limiter.set_rate(self._controller.rate(now))
        self._sample(now)[1] += 1

    def on_answered(self, remaining: int | None) -> None:
        """A non-429 answer passed the gateway, with its ``x-rate-limit-remaining`` if any."""
        now = self._now()
        if remaining is not None:
            self._last_remaining = remaining
            # The count covers the last window; at today's pace it will hold more than that.
            pace = self._controller.rate(now) * self.target.period
            remaining -= max(0, round(pace - self._own_in_window(now)))
        self._controller.on_remaining(now, remaining)
        self._limiter.set_rate(self._controller.rate(now))

    def statistics(self) -> PacerStatistics:
        try:
            now = self._now()
        except anyio.NoEventLoopError:  # read after the loop ended: the end-of-run summary
            now = self._last_now
        paused_for = max(0.0, self._closed_until - now)
        elapsed = now - self._first_admission if self._first_admission is not None else 0.0
        return PacerStatistics(
            target_rate=self._controller.target,
            current_rate=self._controller.rate(now),
            burst=self.burst,
            requests=self._requests,
            throttled=self._throttled,
            rate_cuts=self._controller.cuts,
            waits_for_retry_hint=self._gate_waits,
            paused_until=self._to_wall(self._closed_until) if paused_for else None,
            paused_for_s=paused_for,
            waiting=self._waiting,
            last_remaining=self._last_remaining,
            achieved_rate=(self._requests - 1) / elapsed if elapsed > 0 else 0.0,
        )

    def timeline(self) -> list[SecondSample]:
        """Per-second counters of the last ``timeline_seconds`` seconds with activity."""
        return [
            SecondSample(second, int(req), int(thr), self._controller.target, rate)
            for second, (req, thr, rate) in sorted(self._timeline.items())
        ]

    def _now(self) -> float:
        self._last_now = now = self.clock.now()
        if self._wall_offset is None:  # the clock is monotonic; the timeline wants unix time
            self._wall_offset = self._wall_clock() - now
        return now

    def _window_full(self, now: float) -> float:
        """Seconds until our own last window has room again (0: it has room now)."""
        if self._own_in_window(now) < self._window_cap:
            return 0.0
        return max(1e-3, self._recent[0] + self.target.period - now)

    def _own_in_window(self, now: float) -> int:
        """Our admissions in the last ``period`` (the spec's period is taken as IO's window)."""
        while self._recent and self._recent[0] <= now - self.target.period:
            self._recent.popleft()
        return len(self._recent)

    def _to_wall(self, now: float) -> float:
        return now + (self._wall_offset or 0.0)

    def _sample(self, now: float) -> list[float]:
        second = int(self._to_wall(now))
        sample = self._timeline.get(second)
        if sample is None:
            sample = self._timeline[second] = [0, 0, 0.0]
            if len(self._timeline) > self._timeline_seconds:
                del self._timeline[next(iter(self._timeline))]
        sample[2] = self._controller.rate(now)
        return sample
