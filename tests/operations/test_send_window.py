"""The send window on its own: hours in Rome, across midnight, on the days the clocks change,
and the gate the pipeline's workers pass (waiting once, exiting, stopping mid-wait)."""

from __future__ import annotations

from datetime import datetime

import anyio
import pytest
import structlog

from dispatcher.clock import FakeClock
from dispatcher.schedule import ROME, OutsideWindow, SendGate, SendWindow
from dispatcher.stopping import StopPolicy


def rome(text: str) -> float:
    """``2027-01-15 06:00`` in Italian time, as Unix time."""
    return datetime.fromisoformat(text).replace(tzinfo=ROME).timestamp()


def utc_hour(instant: float) -> str:
    return datetime.fromtimestamp(instant, ROME).isoformat(timespec="minutes")


def test_a_day_window_is_open_from_its_start_until_just_before_its_end() -> None:
    window = SendWindow.parse("08:00-20:00")
    assert str(window) == "08:00-20:00"
    assert not window.is_open(rome("2027-01-15 07:59"))
    assert window.is_open(rome("2027-01-15 08:00"))
    assert window.is_open(rome("2027-01-15 19:59"))
    assert not window.is_open(rome("2027-01-15 20:00"))
    assert window.next_open(rome("2027-01-15 21:30")) == rome("2027-01-16 08:00")
    assert window.next_open(rome("2027-01-15 06:10")) == rome("2027-01-15 08:00")
    assert window.next_close(rome("2027-01-15 09:00")) == rome("2027-01-15 20:00")


def test_a_window_across_midnight_is_open_late_and_early() -> None:
    window = SendWindow.parse("22:00-06:00")
    assert window.crosses_midnight
    assert window.is_open(rome("2027-01-15 23:30")) and window.is_open(rome("2027-01-16 05:59"))
    assert not window.is_open(rome("2027-01-16 06:00"))
    assert not window.is_open(rome("2027-01-16 12:00"))
    assert window.next_open(rome("2027-01-16 12:00")) == rome("2027-01-16 22:00")
    assert window.next_close(rome("2027-01-15 23:00")) == rome("2027-01-16 06:00")


@pytest.mark.parametrize("text", ["8-20", "08:00", "25:00-26:00", "08:60-20:00", "09:00-09:00"])
def test_a_window_that_is_not_one_is_refused_with_the_reason(text: str) -> None:
    with pytest.raises(ValueError, match="send window"):
        SendWindow.parse(text)


def test_on_the_spring_change_the_window_still_opens_at_eight_in_rome() -> None:
    window = SendWindow.parse("08:00-20:00")
    evening = rome("2027-03-27 21:00")  # Saturday; the clocks go forward that night
    opens = window.next_open(evening)
    assert utc_hour(opens) == "2027-03-28T08:00+02:00"
    assert opens - evening == 10 * 3600  # 11 hours on the wall, 10 in reality


def test_on_the_autumn_change_the_window_still_opens_at_eight_in_rome() -> None:
    window = SendWindow.parse("08:00-20:00")
    evening = rome("2027-10-30 21:00")  # the clocks go back that night
    opens = window.next_open(evening)
    assert utc_hour(opens) == "2027-10-31T08:00+01:00"
    assert opens - evening == 12 * 3600


def test_a_window_opening_in_the_skipped_spring_hour_opens_when_the_clock_jumps() -> None:
    window = SendWindow.parse("02:30-05:00")
    opens = window.next_open(rome("2027-03-28 00:30"))
    assert utc_hour(opens) == "2027-03-28T03:00+02:00"  # 02:00 → 03:00: first moment ≥ 02:30
    assert window.is_open(opens) and not window.is_open(opens - 1)


async def _admit_all(gate: SendGate, workers: int) -> list[bool]:
    results: list[bool] = []

    async def one() -> None:
        results.append(await gate.admit())

    async with anyio.create_task_group() as tg:
        for _ in range(workers):
            tg.start_soon(one)
    return results


def test_outside_the_window_workers_wait_until_it_opens_and_the_wait_is_logged_once() -> None:
    clock = FakeClock(rome("2027-01-15 05:30"))
    window = SendWindow.parse("08:00-20:00")

    async def main() -> list[bool]:
        gate = SendGate(window, OutsideWindow.WAIT, StopPolicy(), clock)
        paused: list[str] = []
        gate.when_waiting(lambda: paused.append("paused"))
        admitted = await _admit_all(gate, 12)
        assert paused == ["paused"] and gate.waits == 1 and not gate.waiting
        with anyio.fail_after(1):
            await gate.until_sending()
        return admitted

    with structlog.testing.capture_logs() as logs:
        admitted = anyio.run(main)
    assert admitted == [True] * 12
    assert clock.now() == rome("2027-01-15 08:00")  # woke when it opened, not later
    events = [e["event"] for e in logs]
    assert events.count("send_window_waiting") == 1 and events.count("send_window_resumed") == 1
    waiting = next(e for e in logs if e["event"] == "send_window_waiting")
    assert waiting["opens_at"] == "2027-01-15 08:00" and waiting["wait_s"] == 9000


def test_with_exit_outside_the_window_the_run_is_stopped_and_nothing_is_admitted() -> None:
    clock = FakeClock(rome("2027-01-15 21:00"))

    async def main() -> tuple[list[bool], StopPolicy]:
        stops = StopPolicy()
        gate = SendGate(SendWindow.parse("08:00-20:00"), OutsideWindow.EXIT, stops, clock)
        return await _admit_all(gate, 4), stops

    admitted, stops = anyio.run(main)
    assert admitted == [False] * 4
    assert stops.reason is not None and "outside the send window 08:00-20:00" in stops.reason
    assert "2027-01-16 08:00" in stops.reason and stops.fatal is None
    assert clock.now() == rome("2027-01-15 21:00")  # no time spent waiting


class _StillNight:
    """Time stands still at night; a sleep really sleeps (so only a stop can end the wait)."""

    def now(self) -> float:
        return rome("2027-01-15 23:00")

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(seconds)


def test_a_stop_during_the_wait_ends_it_at_once_with_nothing_admitted() -> None:
    async def main() -> bool:
        stops = StopPolicy()
        gate = SendGate(SendWindow.parse("08:00-20:00"), OutsideWindow.WAIT, stops,
                        _StillNight())
        with anyio.fail_after(5):
            async with anyio.create_task_group() as tg:
                admitted: list[bool] = []

                async def worker() -> None:
                    admitted.append(await gate.admit())

                tg.start_soon(worker)
                await anyio.sleep(0.05)
                assert gate.waiting
                stops.stop("received SIGINT")
        return admitted[0]

    assert anyio.run(main) is False
