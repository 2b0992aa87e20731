"""summary.json: the numbers a monitor reads, with a stable shape and ISO-8601 UTC times."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

from reporttools import (
    RUN_REQUESTS,
    RUN_SECONDS,
    RUN_THROTTLED,
    STATE_OF,
    T0,
    build_mixed_ledger,
    pin_run,
)

from dispatcher.ledger import Ledger, NewRow, StatusObservation
from dispatcher.report import build_summary
from dispatcher.report.summary import SUMMARY_SCHEMA
from dispatcher.vocabulary import RowState

ISO_Z = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
IO_STATUS_KEYS = ["PROCESSED", "ACCEPTED", "THROTTLED", "REJECTED", "FAILED", "NOT_CHECKED"]


def _summary(mixed, now: float | None = None) -> dict:
    with mixed.open() as ledger:
        return json.loads(build_summary(ledger, mixed.campaign_id, now=now).to_json())


def test_the_summary_has_a_stable_schema(mixed) -> None:
    data = _summary(mixed)
    assert data["schema"] == SUMMARY_SCHEMA == 2
    assert set(data) == {"schema", "generated_at", "ledger", "campaign", "open",
                         "remote_content", "rows", "io_status", "runs", "status_checks"}
    assert set(data["open"]) == {"rows", "unfinished", "ambiguous", "unchecked",
                                 "recording_cut_short", "scheduled_later", "next_due",
                                 "commands"}
    assert set(data["campaign"]) == {"id", "input_file", "input_sha256", "template_sha256",
                                     "created_at",
                                     "completed_at", "complete"}
    assert set(data["rows"]) == {"total", "needing_attention", "to_reach", "by_outcome"}
    assert set(data["runs"]) == {"count", "duration_s", "requests", "throttled",
                                 "mean_rate_per_s", "last"}
    assert set(data["runs"]["last"]) == {"run_id", "started_at", "finished_at", "duration_s",
                                         "requests", "throttled", "mean_rate_per_s", "rate",
                                         "exit_code", "stopped_reason",
                                         # the audit trail (dispatcher.audit)
                                         "operator", "host", "version", "command", "settings"}
    assert set(data["status_checks"]) == {"passes", "requests", "throttled", "last_at"}
    assert data["ledger"] == str(mixed.path)


def test_counts_list_every_outcome_and_io_status_zeros_included(mixed) -> None:
    data = _summary(mixed)
    by_outcome = data["rows"]["by_outcome"]
    assert list(by_outcome) == [s.value for s in RowState]
    expected = {s.value: sum(1 for v in STATE_OF.values() if v is s) for s in RowState}
    assert by_outcome == expected
    assert by_outcome["pending"] == 0 and by_outcome["ambiguous"] == 2
    assert data["rows"]["total"] == len(STATE_OF) == sum(by_outcome.values())
    # ambiguous 2 + failed 1 + rejected at submit 1 + IO REJECTED 1 + IO FAILED 1
    assert data["rows"]["needing_attention"] == 6
    assert list(data["io_status"]) == IO_STATUS_KEYS
    assert data["io_status"] == dict.fromkeys(IO_STATUS_KEYS, 1)
    assert sum(data["io_status"].values()) == by_outcome["sent"]


def test_times_are_iso_8601_utc_with_a_z(mixed) -> None:
    data = _summary(mixed, now=T0 + 86400)
    assert data["generated_at"] == "2027-01-16T08:00:00Z"
    assert data["runs"]["last"]["started_at"] == "2027-01-15T08:00:00Z"
    assert data["runs"]["last"]["finished_at"] == "2027-01-15T08:00:40Z"
    for moment in (data["campaign"]["created_at"], data["campaign"]["completed_at"],
                   data["status_checks"]["last_at"]):
        assert ISO_Z.fullmatch(moment), moment
    # every row decided, but 2 are ambiguous and 3 sent messages have no final IO status
    assert data["campaign"]["complete"] is False
    assert data["open"]["ambiguous"] == 2 and data["open"]["unchecked"] == 3
    assert data["open"]["rows"] == 5 and data["open"]["unfinished"] == 0


def test_run_duration_requests_429s_and_mean_rate(mixed) -> None:
    data = _summary(mixed)
    runs = data["runs"]
    assert runs["count"] == 1
    assert runs["duration_s"] == RUN_SECONDS
    assert (runs["requests"], runs["throttled"]) == (RUN_REQUESTS, RUN_THROTTLED)
    assert runs["mean_rate_per_s"] == RUN_REQUESTS / RUN_SECONDS == 2.5
    assert runs["last"]["exit_code"] == 3 and runs["last"]["rate"] == "120/5s"
    assert data["status_checks"]["passes"] == 1 and data["status_checks"]["requests"] == 5


def test_several_runs_add_up_and_the_last_one_is_shown_alone(mixed) -> None:
    with mixed.open() as ledger:
        run = ledger.runs.begin(mixed.campaign_id, rate="150/5s")
        ledger.runs.finish(run, requests=50, throttled=1, stopped_reason="deadline",
                           exit_code=75)
    pin_run(mixed.path, run, started_at=T0 + 600, finished_at=T0 + 610)
    runs = _summary(mixed)["runs"]
    assert runs["count"] == 2
    assert runs["duration_s"] == RUN_SECONDS + 10
    assert runs["requests"] == RUN_REQUESTS + 50 and runs["throttled"] == RUN_THROTTLED + 1
    assert runs["mean_rate_per_s"] == round((RUN_REQUESTS + 50) / (RUN_SECONDS + 10), 3)
    last = runs["last"]
    assert (last["run_id"], last["duration_s"], last["mean_rate_per_s"]) == (run, 10.0, 5.0)
    assert (last["stopped_reason"], last["exit_code"]) == ("deadline", 75)


def test_a_run_that_never_finished_lasts_until_its_last_recorded_second(mixed) -> None:
    with mixed.open() as ledger:
        run = ledger.runs.begin(mixed.campaign_id, rate="120/5s")
    pin_run(mixed.path, run, started_at=T0 + 1000, finished_at=None)
    with sqlite3.connect(mixed.path) as db:  # seconds flushed before the process died
        db.executemany("INSERT INTO run_seconds VALUES (?, ?, ?, ?, ?, ?)",
                       [(run, int(T0) + 1000 + s, 6, 0, 24.0, 24.0) for s in range(5)])
    db.close()
    last = _summary(mixed)["runs"]["last"]
    assert last["finished_at"] is None and last["exit_code"] is None
    assert last["duration_s"] == 5.0  # seconds 0..4 → 5 s
    assert last["requests"] == 30  # summed from its seconds, the run row has none
    assert last["mean_rate_per_s"] == 6.0


def test_a_campaign_without_runs_has_zero_rate_not_a_division_error(tmp_path: Path) -> None:
    with Ledger.open(tmp_path / "l.sqlite") as ledger:
        cid = ledger.campaigns.start(input_path="/srv/uffici/tributi/avvisi à.csv",
                                     input_sha256="0" * 64, template_sha256=None,
                                     rows=[NewRow(2, "X", RowState.PENDING, "h")])
        summary = build_summary(ledger, cid)
    data = json.loads(summary.to_json())
    assert summary.to_json().endswith("\n")
    assert "avvisi à.csv" in summary.to_json()  # UTF-8, not \u escapes
    assert data["campaign"]["input_file"] == "avvisi à.csv"  # the name, not the folders
    assert data["campaign"]["complete"] is False and data["campaign"]["completed_at"] is None
    assert data["runs"] == {"count": 0, "duration_s": 0.0, "requests": 0, "throttled": 0,
                            "mean_rate_per_s": 0.0, "last": None}
    assert data["status_checks"]["last_at"] is None
    assert data["rows"]["by_outcome"]["pending"] == 1
    assert data["io_status"] == dict.fromkeys(IO_STATUS_KEYS, 0)


def test_a_status_io_adds_later_is_counted_not_dropped(tmp_path: Path) -> None:
    mixed = build_mixed_ledger(tmp_path / "x" / "ledger.sqlite")
    with mixed.open() as ledger:
        ledger.statuses.record(mixed.campaign_id, [
            StatusObservation(4, "01MSGID0004", T0 + 7200, "EXPIRED"),
        ])
    io = _summary(mixed)["io_status"]
    assert io["EXPIRED"] == 1 and io["NOT_CHECKED"] == 0
    assert list(io)[:6] == IO_STATUS_KEYS
