"""Runs answer as records: a finished run's totals, a killed run's summed from its seconds."""

from __future__ import annotations

from pathlib import Path

from ledgertools import pending, start

from dispatcher.ledger import Ledger, RunRecord, TimelineSample


def test_a_killed_run_is_summed_from_the_seconds_it_saved(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    with Ledger.open(path) as ledger:
        cid = start(ledger, pending(range(2, 4)))
        finished = ledger.runs.begin(cid, rate="120/5s")
        ledger.runs.finish(finished, requests=7, throttled=1, stopped_reason=None, exit_code=0,
                           timeline=[TimelineSample(100, 7, 1, 24.0, 12.0)])
        killed = ledger.runs.begin(cid, rate="120/5s")
        ledger.runs.record_timeline(killed, [TimelineSample(200, 5, 0, 24.0, 24.0),
                                             TimelineSample(201, 3, 1, 24.0, None)])
        ledger.runs.record_timeline(killed, [TimelineSample(201, 4, 2, 24.0, 16.8)])  # grew
    with Ledger.open(path) as ledger:  # after the kill
        runs = ledger.runs.of_campaign(cid)
        assert [r.run_id for r in runs] == [finished, killed]
        done, cut = runs
        assert (done.requests, done.throttled, done.exit_code, done.last_second) == (7, 1, 0, 100)
        assert done.finished_at is not None and done.rate == "120/5s"
        assert (cut.requests, cut.throttled, cut.finished_at, cut.exit_code) == (9, 2, None, None)
        assert cut.last_second == 201
        assert ledger.runs.get(killed) == cut and ledger.runs.get(999) is None
        assert ledger.runs.timeline(killed) == [TimelineSample(200, 5, 0, 24.0, 24.0),
                                                TimelineSample(201, 4, 2, 24.0, 16.8)]


def test_a_runs_mean_rate_counts_its_whole_duration() -> None:
    run = RunRecord(run_id=1, campaign_id=1, started_at=1000.0, finished_at=1100.0,
                    rate="150/5s", requests=2500, throttled=3, stopped_reason=None,
                    exit_code=0, last_second=1090)
    assert run.duration_s == 100.0 and run.mean_rate == 25.0
    never = RunRecord(run_id=2, campaign_id=1, started_at=1000.0, finished_at=None,
                      rate=None, requests=0, throttled=0, stopped_reason=None, exit_code=None,
                      last_second=None)
    assert never.duration_s == 0.0 and never.mean_rate == 0.0
