"""Whole runs against the simulator with an injected wall clock: the send window at the start
and closing mid-run, and rows whose send-after date is still ahead."""

from __future__ import annotations

import csv
from datetime import datetime
from pathlib import Path

import pytest
import structlog
from enginetools import GENERATE, TEMPLATE, assert_no_duplicates_outside_ambiguous, write_campaign

from dispatcher.campaign import CampaignSource
from dispatcher.clock import FakeClock
from dispatcher.ledger import Ledger
from dispatcher.operations.errors import OperationRefused
from dispatcher.operations.run import RunHooks, RunOptions, RunResult, run_campaign
from dispatcher.schedule import ROME, OutsideWindow, SendWindow
from dispatcher.settings import RateSpec, Secret, Settings
from dispatcher.simulator import DEFAULT_KEY, RunningSimulator
from dispatcher.vocabulary import ExitCode, RowState

CONCURRENCY = 4


def rome(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=ROME).timestamp()


def _settings(sim: RunningSimulator, window: str | None = "08:00-20:00") -> Settings:
    return Settings(base_url=sim.base_url, api_key=Secret(DEFAULT_KEY),
                    rate=RateSpec.parse("400/s"), concurrency=CONCURRENCY, read_timeout=5.0,
                    send_window=SendWindow.parse(window) if window else None)


def _run(source: CampaignSource, sim: RunningSimulator, ledger: Path, clock: FakeClock, *,
         policy: OutsideWindow = OutsideWindow.WAIT, window: str | None = "08:00-20:00",
         hooks: RunHooks = RunHooks()) -> RunResult:
    options = RunOptions(outside_window=policy, clock=clock, export=False)
    return run_campaign(source, settings=_settings(sim, window), ledger_path=ledger,
                        options=options, hooks=hooks)


def test_outside_the_window_exit_sends_nothing_and_the_next_run_inside_it_sends(
    tmp_path: Path, simulator: RunningSimulator,
) -> None:
    source = CampaignSource(write_campaign(tmp_path / "c.csv", 40), TEMPLATE)
    ledger = tmp_path / "ledger.sqlite"
    night = FakeClock(rome("2027-01-15 01:00"))
    with pytest.raises(OperationRefused) as refused:
        _run(source, simulator, ledger, night, policy=OutsideWindow.EXIT)
    assert refused.value.exit_code is ExitCode.STOPPED == 75
    assert "outside the send window 08:00-20:00" in refused.value.message
    assert "2027-01-15 08:00" in refused.value.message
    assert simulator.stats()["requests_total"] == 0 and simulator.inbox() == {}

    morning = FakeClock(rome("2027-01-15 08:05"))
    result = _run(source, simulator, ledger, morning, policy=OutsideWindow.EXIT)
    assert result.exit_code is ExitCode.OK and result.unfinished == 0
    assert len(simulator.inbox()) == result.counts[RowState.SENT] > 20
    assert_no_duplicates_outside_ambiguous(ledger, simulator.inbox())


def test_a_run_started_before_the_window_waits_for_it_then_sends_everything(
    tmp_path: Path, simulator: RunningSimulator,
) -> None:
    source = CampaignSource(write_campaign(tmp_path / "c.csv", 30), TEMPLATE)
    clock = FakeClock(rome("2027-01-15 06:00"))
    with structlog.testing.capture_logs() as logs:
        result = _run(source, simulator, tmp_path / "ledger.sqlite", clock)
    assert result.exit_code is ExitCode.OK and result.unfinished == 0
    assert clock.now() >= rome("2027-01-15 08:00")
    events = [e["event"] for e in logs]
    assert events.count("send_window_waiting") == 1
    assert events.count("send_window_resumed") == 1
    # nothing left the dispatcher for a citizen before the wait ended
    assert events.index("send_window_resumed") < events.index("run_finished")


def _closing_at(clock: FakeClock, after_rows: int, to: float) -> tuple[RunHooks, list[int]]:
    """Hooks that move the clock to ``to`` once ``after_rows`` rows are decided; the list gets
    the number of sent rows at that moment."""
    decided: list[RowState] = []
    sent_at_close: list[int] = []

    def on_outcome(state: RowState) -> None:
        decided.append(state)
        if len(decided) == after_rows:
            sent_at_close.append(decided.count(RowState.SENT))
            clock.advance(to - clock.now())

    return RunHooks(on_outcome=on_outcome), sent_at_close


def test_when_the_window_closes_mid_run_with_exit_no_new_submit_starts_and_it_exits_75(
    tmp_path: Path, simulator: RunningSimulator,
) -> None:
    source = CampaignSource(write_campaign(tmp_path / "c.csv", 120, seed=5), TEMPLATE)
    ledger = tmp_path / "ledger.sqlite"
    clock = FakeClock(rome("2027-01-15 19:50"))
    hooks, sent_at_close = _closing_at(clock, 20, rome("2027-01-15 20:00"))
    result = _run(source, simulator, ledger, clock, policy=OutsideWindow.EXIT, hooks=hooks)
    assert result.exit_code is ExitCode.STOPPED
    assert result.stopped_reason and "outside the send window" in result.stopped_reason
    # at most the submits already past the gate finish: one per submit worker
    assert result.counts[RowState.SENT] <= sent_at_close[0] + CONCURRENCY
    assert result.counts[RowState.PENDING] >= 120 - 20 - 2 * CONCURRENCY
    assert result.counts[RowState.SENDING] == 0 and result.counts[RowState.AMBIGUOUS] == 0

    morning = FakeClock(rome("2027-01-16 08:00"))
    again = _run(source, simulator, ledger, morning, policy=OutsideWindow.EXIT)
    assert again.exit_code is ExitCode.OK and again.unfinished == 0
    assert_no_duplicates_outside_ambiguous(ledger, simulator.inbox())


def test_when_the_window_closes_mid_run_the_run_waits_for_the_next_morning(
    tmp_path: Path, simulator: RunningSimulator,
) -> None:
    source = CampaignSource(write_campaign(tmp_path / "c.csv", 80, seed=6), TEMPLATE)
    ledger = tmp_path / "ledger.sqlite"
    clock = FakeClock(rome("2027-01-15 21:30"))  # a window across midnight, closing at 06:00
    hooks, _ = _closing_at(clock, 15, rome("2027-01-16 06:00"))
    with structlog.testing.capture_logs() as logs:
        result = _run(source, simulator, ledger, clock, window="22:00-06:00", hooks=hooks)
    assert result.exit_code is ExitCode.OK and result.unfinished == 0
    assert clock.now() >= rome("2027-01-16 22:00")  # it waited for the evening
    waits = [e for e in logs if e["event"] == "send_window_waiting"]
    assert [w["opens_at"] for w in waits] == ["2027-01-15 22:00", "2027-01-16 22:00"]
    assert sum(e["event"] == "send_window_resumed" for e in logs) == 2
    assert_no_duplicates_outside_ambiguous(ledger, simulator.inbox())


def _scheduled_campaign(path: Path, rows: int, later: dict[int, str]) -> Path:
    """A TARI campaign with an ``invia_dal`` column; ``later`` maps data rows to a date."""
    people = list(GENERATE.tari_rows(rows, 9))
    with path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream, delimiter=";")
        writer.writerow((*GENERATE.HEADER, "invia_dal"))
        for number, person in enumerate(people, start=2):
            writer.writerow((*person, later.get(number, "")))
    return path


def test_rows_not_due_stay_pending_then_a_resume_that_reads_no_file_sends_them(
    tmp_path: Path, simulator: RunningSimulator, monkeypatch: pytest.MonkeyPatch,
) -> None:
    later = {2: "20/01/2027", 3: "2027-01-18T09:30", 4: "2027-01-15"}  # row 4: due today
    source = CampaignSource(_scheduled_campaign(tmp_path / "c.csv", 20, later), TEMPLATE)
    ledger = tmp_path / "ledger.sqlite"
    first = _run(source, simulator, ledger, FakeClock(rome("2027-01-15 10:00")), window=None)
    assert first.exit_code is ExitCode.OK
    assert first.scheduled_later == 2 and first.unfinished == 0
    assert first.next_due == rome("2027-01-18 09:30")
    assert first.counts[RowState.PENDING] == 2
    with Ledger.open(ledger) as book:
        assert book.rows.get(first.campaign_id, 2).send_after == rome("2027-01-20 00:00")
        assert book.rows.get(first.campaign_id, 4).state is not RowState.PENDING
        assert book.campaigns.get(first.campaign_id).completed_at is None

    def no_reading(self: CampaignSource) -> None:
        raise AssertionError("a resume must not read the campaign file")

    monkeypatch.setattr(CampaignSource, "load", no_reading)
    hourly = _run(source, simulator, ledger, FakeClock(rome("2027-01-18 10:00")), window=None)
    assert hourly.resumed and hourly.scheduled_later == 1
    assert hourly.next_due == rome("2027-01-20 00:00")
    last = _run(source, simulator, ledger, FakeClock(rome("2027-01-20 00:00")), window=None)
    assert last.exit_code is ExitCode.OK and last.scheduled_later == 0
    assert last.counts[RowState.PENDING] == 0
    with Ledger.open(ledger) as book:
        assert book.campaigns.get(last.campaign_id).completed_at is not None
    assert_no_duplicates_outside_ambiguous(ledger, simulator.inbox())
