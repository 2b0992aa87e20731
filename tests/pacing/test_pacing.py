"""The Pacer: a bucket that keeps IO's window, a gate that honours 429 hints, an adaptive rate.

(Over 400 lines: the controller, the bucket and the gate are tested together on one virtual clock.)

Most tests run the real aiolimiter bucket on an event loop whose clock jumps to the next timer
whenever every task is waiting (trio's autojump idea), so timings are exact, not flaky.
"""

from __future__ import annotations

import time
from importlib.metadata import version
from itertools import pairwise
from typing import Any

import anyio
import pytest
from aiolimiter import AsyncLimiter
from hypothesis import given, settings
from hypothesis import strategies as st
from virtual_time import run_virtual

from dispatcher.clock import FakeClock
from dispatcher.pacing import CATCH_UP, AdjustableLimiter, Pacer, RateController, window_safe_rate
from dispatcher.settings import RateSpec

# --- the pure controller -------------------------------------------------------------------


def test_the_controller_runs_at_target_until_throttled() -> None:
    controller = RateController(24.0)
    assert controller.rate(0.0) == controller.rate(1e6) == 24.0


def test_a_429_at_t10_cuts_to_0_7x_and_ten_quiet_seconds_later_it_is_back_to_target() -> None:
    controller = RateController(24.0, recovery=10.0)
    assert controller.on_throttled(10.0, resume_at=12.0)
    assert controller.rate(10.0) == pytest.approx(16.8)
    assert controller.rate(11.99) == pytest.approx(16.8)  # no growth while the gate is closed
    rates = [controller.rate(12.0 + i) for i in range(11)]
    assert rates == sorted(rates) and 16.8 < rates[1] < rates[5] < 24.0
    assert rates[5] - rates[0] > rates[10] - rates[5]  # concave: fast first, gentle near the top
    assert rates[-1] == pytest.approx(24.0)
    assert controller.rate(12.0 + 10.0 + 30.0) == 24.0  # probing never exceeds the target


def test_a_burst_of_429s_from_requests_in_flight_cuts_once_per_cool_down() -> None:
    controller = RateController(24.0, cool_down=1.0)
    cuts = [controller.on_throttled(t, resume_at=11.0) for t in (10.0, 10.1, 10.5, 11.9)]
    assert cuts == [True, False, False, False]
    assert controller.rate(11.0) == pytest.approx(16.8)
    before = controller.rate(12.0)
    assert controller.on_throttled(12.0, resume_at=12.0)  # after the cool-down: a new cut
    assert controller.cuts == 2
    assert controller.rate(12.0) == pytest.approx(0.7 * before)


def test_429s_for_requests_admitted_before_the_cut_are_echoes_however_late() -> None:
    controller = RateController(24.0, cool_down=1.0)
    assert controller.on_throttled(10.0, resume_at=11.0, sent_at=9.9)
    # A slow request admitted before the cut answers 429 long after the cool-down: no new cut.
    assert not controller.on_throttled(15.0, resume_at=15.0, sent_at=9.95)
    # A request admitted after the cut (after the gate reopened) is fresh news, even soon after.
    assert controller.on_throttled(11.2, resume_at=12.0, sent_at=11.0)
    assert controller.cuts == 2


def test_repeated_cuts_stop_at_the_floor() -> None:
    controller = RateController(24.0, min_rate=0.5, cool_down=0.0)
    for _ in range(30):  # 24 × 0.7³⁰ would be 0.0005 req/s
        controller.on_throttled(60.0)
    assert controller.rate(60.0) == 0.5


def test_from_the_floor_the_rate_still_climbs_back_to_the_target() -> None:
    controller = RateController(24.0, min_rate=0.5, cool_down=0.0)
    for _ in range(30):
        controller.on_throttled(60.0)
    assert controller.on_remaining(65.0, 0)  # holding at the floor must not break the curve
    assert controller.rate(66.0) == 0.5
    assert controller.rate(60.0 + 70.0) == 24.0


def test_a_target_below_the_floor_lowers_the_floor() -> None:
    controller = RateController(0.2, min_rate=0.5)
    controller.on_throttled(0.0)
    assert 0 < controller.rate(0.0) <= 0.2


def test_a_second_cut_below_the_old_maximum_lowers_the_plateau() -> None:
    controller = RateController(100.0)
    controller.on_throttled(0.0)  # 100 → 70, growing back towards 100
    at_second_cut = controller.rate(1.5)
    assert 70.0 < at_second_cut < 100.0
    assert controller.on_throttled(1.5)  # the cool-down is over: fast convergence
    assert controller.rate(1.5) == pytest.approx(0.7 * at_second_cut)
    plateau = 0.85 * at_second_cut  # (1 + β) / 2 of the rate that met the 429
    assert controller.rate(1.51) >= 0.7 * at_second_cut  # growth starts where the cut left it
    assert controller.rate(1.5 + 10.0) == pytest.approx(plateau)
    assert controller.rate(1.5 + 15.0) > plateau  # then it probes above the plateau again


def test_remaining_near_zero_holds_growth_then_growth_resumes_smoothly() -> None:
    controller = RateController(30.0, low_water=2, hold_for=1.0)
    controller.on_throttled(0.0)
    before = controller.rate(1.0)
    assert controller.on_remaining(1.0, 2)
    assert controller.rate(1.5) == controller.rate(1.999) == before
    assert controller.rate(2.001) == pytest.approx(before, rel=1e-3)  # no jump
    assert controller.rate(2.5) > before


def test_a_healthy_remaining_count_does_not_hold() -> None:
    controller = RateController(30.0, low_water=2)
    controller.on_throttled(0.0)
    assert not controller.on_remaining(1.0, 3)
    assert not controller.on_remaining(1.0, None)
    assert controller.rate(2.0) > controller.rate(1.0)


def test_remaining_near_zero_at_target_changes_nothing() -> None:
    controller = RateController(30.0)
    assert not controller.on_remaining(1.0, 0)
    assert controller.rate(1.0) == 30.0


def test_remaining_near_zero_while_the_gate_is_closed_delays_the_regrowth() -> None:
    controller = RateController(30.0, hold_for=1.0)
    controller.on_throttled(0.0, resume_at=5.0)
    assert controller.on_remaining(4.5, 0)
    assert controller.rate(5.4) == pytest.approx(21.0)
    assert controller.rate(5.6) > 21.0


@settings(max_examples=200, deadline=None)
@given(
    target=st.floats(0.1, 300),
    events=st.lists(
        st.tuples(
            st.floats(0, 5),
            st.sampled_from(["429", "remaining"]),
            st.integers(0, 10),
            st.floats(0, 10),
        ),
        max_size=40,
    ),
)
def test_the_rate_always_stays_between_the_floor_and_the_target(
    target: float, events: list[tuple[float, str, int, float]]
) -> None:
    controller = RateController(target)
    now = 0.0
    for gap, kind, remaining, hint in events:
        now += gap
        if kind == "429":
            controller.on_throttled(now, resume_at=now + hint)
        else:
            controller.on_remaining(now, remaining)
        for probe in (now, now + 0.5, now + 3.0):
            assert controller.min_rate - 1e-9 <= controller.rate(probe) <= target + 1e-9


# --- the window-safe drip rate ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "burst", "headroom", "expected"),
    [
        ("150/5s", 1, 0.0, 29.8),
        ("150/5s", 1, 0.01, 29.5),
        ("120/5s", 1, 0.01, 23.56),
        ("150/5s", 3, 0.0, 29.4),
        ("25", 1, 0.0, 24.0),
        ("5/s", 1, 0.01, 5.0),  # too small for a window promise: plain rate
    ],
)
def test_the_burst_and_the_headroom_are_taken_out_of_the_window_budget(
    spec: str, burst: int, headroom: float, expected: float
) -> None:
    assert window_safe_rate(RateSpec.parse(spec), burst, headroom) == pytest.approx(expected)


# --- the adjustable aiolimiter bucket ---------------------------------------------------------


def test_the_aiolimiter_internals_set_rate_relies_on_are_still_there() -> None:
    assert version("aiolimiter").startswith("1.3.")
    assert {"_leak", "_wake_next"} <= set(dir(AsyncLimiter))
    assert "_rate_per_sec" in AsyncLimiter.__slots__


def test_set_rate_really_changes_how_fast_the_bucket_drains() -> None:
    async def main() -> tuple[float, float]:
        limiter = AdjustableLimiter(1.0)
        start = anyio.current_time()
        for _ in range(5):
            await limiter.acquire()
        slow = anyio.current_time() - start
        limiter.set_rate(10.0)
        start = anyio.current_time()
        for _ in range(10):
            await limiter.acquire()
        return slow, anyio.current_time() - start

    slow, fast = run_virtual(main)
    assert slow == pytest.approx(4.0)
    assert fast == pytest.approx(1.0)


def test_set_rate_wakes_a_caller_already_waiting_at_the_old_rate() -> None:
    async def main() -> float:
        limiter = AdjustableLimiter(0.1)
        await limiter.acquire()
        admitted: list[float] = []

        async def waiter() -> None:
            await limiter.acquire()
            admitted.append(anyio.current_time())

        async with anyio.create_task_group() as tg:
            tg.start_soon(waiter)
            await anyio.sleep(0.5)
            limiter.set_rate(10.0)
        return admitted[0]

    assert run_virtual(main) == pytest.approx(0.5 + 0.95 / 10)  # not 10 s


def test_set_rate_on_a_real_clock_speeds_the_bucket_up() -> None:
    async def timed(limiter: AdjustableLimiter, n: int) -> float:
        start = time.perf_counter()
        for _ in range(n):
            await limiter.acquire()
        return time.perf_counter() - start

    async def main() -> tuple[float, float]:
        limiter = AdjustableLimiter(100.0)
        await limiter.acquire()
        slow = await timed(limiter, 15)  # ≈ 0.15 s
        limiter.set_rate(500.0)
        return slow, await timed(limiter, 15)  # ≈ 0.03 s

    slow, fast = anyio.run(main, backend="asyncio")
    assert slow > 0.1
    assert fast < slow / 2


# --- the Pacer on virtual time ----------------------------------------------------------------


def test_a_precise_budget_is_spent_to_the_window_cap_and_never_beyond() -> None:
    """150/5s: the bucket drips a little fast (timers wake late), the window cap holds the
    line at 147 of our own admissions per 5 s, i.e. 98 % of the ceiling, exactly."""

    async def main() -> list[float]:
        pacer = Pacer(RateSpec.parse("150/5s"))
        times = []
        for _ in range(600):
            await pacer.acquire()
            times.append(anyio.current_time())
        return times

    times = run_virtual(main)
    busiest = max(
        sum(1 for t in times[i:i + 160] if t < start + 5.0) for i, start in enumerate(times)
    )
    assert busiest == 147
    rate = (len(times) - 1) / (times[-1] - times[0])
    assert rate == pytest.approx(147 / 5, rel=0.01)


def test_every_caller_waits_out_the_retry_hint_of_a_429() -> None:
    async def main() -> tuple[float, list[float], Any]:
        pacer = Pacer(RateSpec(100, 1))
        await pacer.acquire()
        throttled_at = anyio.current_time()
        pacer.on_throttled(3.0)
        admitted: list[float] = []

        async def caller() -> None:
            await pacer.acquire()
            admitted.append(anyio.current_time())

        async with anyio.create_task_group() as tg:
            for _ in range(5):
                tg.start_soon(caller)
        return throttled_at, admitted, pacer.statistics()

    throttled_at, admitted, stats = run_virtual(main)
    assert min(admitted) >= throttled_at + 3.0
    assert stats.waits_for_retry_hint == 5
    assert stats.throttled == 1 and stats.rate_cuts == 1
    # After the gate: evenly spaced at the cut rate, no burst from the callers that waited.
    gaps = [b - a for a, b in pairwise(sorted(admitted))]
    assert min(gaps) >= 1 / stats.target_rate - 1e-9


def test_a_caller_queued_in_the_bucket_when_the_gate_closes_waits_for_it_too() -> None:
    async def main() -> tuple[float, float]:
        pacer = Pacer(RateSpec(10, 10), burst=1)  # plain 1 req/s
        await pacer.acquire()
        admitted: list[float] = []

        async def caller() -> None:
            await pacer.acquire()  # queued in the bucket for ~1 s
            admitted.append(anyio.current_time())

        async with anyio.create_task_group() as tg:
            tg.start_soon(caller)
            await anyio.sleep(0.2)
            pacer.on_throttled(4.0)
        return 0.2 + 4.0, admitted[0]

    gate_opens, admitted = run_virtual(main)
    assert admitted >= gate_opens


def test_429s_in_flight_extend_the_gate_but_cut_the_rate_once() -> None:
    async def main() -> Any:
        pacer = Pacer(RateSpec(100, 1))
        await pacer.acquire()
        for hint in (2.0, 2.5, None, 1.0):
            pacer.on_throttled(hint)
            await anyio.sleep(0.1)
        return pacer.statistics()

    stats = run_virtual(main)
    assert stats.throttled == 4
    assert stats.rate_cuts == 1
    assert stats.current_rate == pytest.approx(0.7 * 98)
    assert stats.paused_for_s == pytest.approx(0.1 + 2.5 - 0.4)


def test_a_missing_hint_waits_the_default_and_a_huge_hint_is_capped() -> None:
    async def main() -> tuple[float, float]:
        pacer = Pacer(RateSpec(100, 1), default_retry_after=1.0, max_retry_after=60.0)
        pacer.on_throttled(None)
        missing = pacer.statistics().paused_for_s
        pacer.on_throttled(86_400.0)
        return missing, pacer.statistics().paused_for_s

    assert run_virtual(main) == (pytest.approx(1.0), pytest.approx(60.0))


def test_after_a_429_the_pace_recovers_to_the_target() -> None:
    async def main() -> tuple[float, float, float]:
        pacer = Pacer(RateSpec.parse("150/5s"))
        await pacer.acquire()
        pacer.on_throttled(1.0)
        cut = pacer.statistics().current_rate
        await anyio.sleep(1.0 + 10.0)  # the gate, then the recovery period
        recovered = pacer.statistics().current_rate
        start = anyio.current_time()
        for _ in range(30):
            await pacer.acquire()
        return cut, recovered, 29 / (anyio.current_time() - start)

    cut, recovered, achieved = run_virtual(main)
    assert cut == pytest.approx(0.7 * 29.5)
    assert recovered == pytest.approx(29.5)
    assert achieved == pytest.approx(29.5 * CATCH_UP)  # the window cap is not reached yet


def test_remaining_near_zero_keeps_the_pacer_from_probing_higher() -> None:
    async def main() -> tuple[float, float]:
        pacer = Pacer(RateSpec(100, 1), low_water=2)
        pacer.on_throttled(0.0)
        await anyio.sleep(0.5)
        held = pacer.statistics().current_rate
        for _ in range(8):
            pacer.on_answered(1)
            await anyio.sleep(0.25)
        return held, pacer.statistics().current_rate

    held, later = run_virtual(main)
    assert later == pytest.approx(held)


def test_remaining_is_discounted_by_what_todays_pace_will_still_add_to_the_window() -> None:
    async def main(remaining: int) -> tuple[float, float]:
        pacer = Pacer(RateSpec(150, 5), low_water=2)
        pacer.on_throttled(0.0)  # cut to about 20.6 req/s, gate open at once
        for _ in range(10):
            await pacer.acquire()
        held = pacer.statistics().current_rate
        # 10 of ours are in the window; at ~20.6 req/s it will soon hold ~103 of them.
        pacer.on_answered(remaining)
        await anyio.sleep(0.5)
        return held, pacer.statistics().current_rate

    held, later = run_virtual(lambda: main(80))  # 80 - (103 - 10) < 2: about to be full
    assert later == pytest.approx(held)
    held, later = run_virtual(lambda: main(140))  # 140 - 93 = 47: room to grow
    assert later > held


def test_the_timeline_counts_requests_and_429s_per_wall_second_and_stays_bounded() -> None:
    async def main() -> Pacer:
        pacer = Pacer(RateSpec(10, 1), headroom=0.0, wall_clock=lambda: 1_700_000_000.0,
                      timeline_seconds=3)
        for _ in range(45):
            await pacer.acquire()
        pacer.on_throttled(0.5)
        return pacer

    pacer = run_virtual(main)
    samples = pacer.timeline()
    assert len(samples) == 3 and samples[-1].second - samples[0].second == 2  # bounded
    # 10/1s less the burst: the window cap allows 9 of our own per second, never more.
    assert max(s.requests for s in samples) == 9
    assert samples[-1].throttled == 1
    assert samples[-1].current_rate == pytest.approx(0.7 * 9)
    assert all(s.target_rate == pytest.approx(9.0) for s in samples)


def test_statistics_can_be_read_after_the_event_loop_ended() -> None:
    async def main() -> Pacer:
        pacer = Pacer(RateSpec(100, 1))
        for _ in range(10):
            await pacer.acquire()
        return pacer

    stats = run_virtual(main).statistics()
    assert stats.requests == 10
    assert stats.paused_until is None
    assert stats.achieved_rate == pytest.approx(98.0 * CATCH_UP)


def test_a_fake_clock_moves_only_when_advanced_or_slept_on() -> None:
    clock = FakeClock(5.0)
    anyio.run(clock.sleep, 2.5)
    clock.advance(0.5)
    assert clock.now() == 8.0
    with pytest.raises(ValueError):
        clock.advance(-1)


def test_the_gate_honours_an_injected_clock() -> None:
    async def main() -> tuple[float, int]:
        clock = FakeClock(100.0)
        pacer = Pacer(RateSpec(1000, 1), clock=clock)
        pacer.on_throttled(7.0)
        await pacer.acquire()
        return clock.now(), pacer.statistics().waits_for_retry_hint

    assert anyio.run(main, backend="asyncio") == (107.0, 1)


# --- the window property --------------------------------------------------------------------


_INTERRUPTION = st.one_of(
    st.tuples(st.just("429"), st.one_of(st.none(), st.floats(0, 3))),
    st.tuples(st.just("idle"), st.floats(0, 2)),
    st.tuples(st.just("ok"), st.integers(0, 2)),  # the window is nearly full: hold
)


@settings(max_examples=60, deadline=None)
@given(
    requests=st.integers(40, 120),  # large enough for the window promise (not a plain rate)
    period=st.sampled_from([1.0, 5.0]),
    burst=st.integers(1, 3),
    workers=st.integers(1, 8),
    # Long saturated stretches (where a window could overflow) between 429s, pauses, holds.
    segments=st.lists(st.tuples(st.integers(0, 250), _INTERRUPTION), min_size=1, max_size=6),
)
def test_no_window_of_one_period_ever_holds_more_than_the_budget(
    requests: int,
    period: float,
    burst: int,
    workers: int,
    segments: list[tuple[int, tuple[str, Any]]],
) -> None:
    spec = RateSpec(requests, period)
    events: list[tuple[str, Any]] = []
    for saturated, interruption in segments:
        events += [("ok", None)] * saturated + [interruption]

    async def main() -> list[float]:
        pacer = Pacer(spec, burst=burst)
        admitted: list[float] = []
        queue = events[::-1]

        async def worker() -> None:
            while queue:
                kind, value = queue.pop()
                if kind == "idle":
                    await anyio.sleep(value)
                    continue
                await pacer.acquire()
                admitted.append(anyio.current_time())
                if kind == "ok":
                    pacer.on_answered(value)
                else:
                    pacer.on_throttled(value)

        async with anyio.create_task_group() as tg:
            for _ in range(workers):
                tg.start_soon(worker)
        return admitted

    admitted = sorted(run_virtual(main))
    # The server's window (t - period, t] may hold `requests`, never one more.
    for first, last in zip(admitted, admitted[requests:], strict=False):
        assert last - first >= period - 1e-9, "more than the budget in one window"


def test_a_pacer_is_built_before_the_event_loop_starts_and_read_after_it_ends() -> None:
    pacer = Pacer(RateSpec.parse("120/5s"))  # as the runner does, outside anyio.run

    async def main() -> int:
        await pacer.acquire()
        return pacer.statistics().requests

    assert anyio.run(main, backend="asyncio") == 1
    assert pacer.statistics().requests == 1
