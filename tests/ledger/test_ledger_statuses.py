"""The ledger's IO-status and test-send tables: planning, history, upgrade from schema 1."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from dispatcher.ledger import SCHEMA_VERSION, Ledger, NewRow, Outcome, StatusObservation
from dispatcher.vocabulary import RowState

CODES = ["RSSMRA80A01H501U", "VRDGPP70B02F205Z", "BNCLRA85C43L219X", "NREFNC90D04A944S"]


def _sent_campaign(path: Path) -> tuple[Ledger, int]:
    ledger = Ledger.open(path)
    campaign = ledger.campaigns.start(
        input_path="c.csv", input_sha256="a" * 64, template_sha256=None,
        rows=[NewRow(i + 2, cf, RowState.PENDING, f"h{i}") for i, cf in enumerate(CODES)],
    )
    run = ledger.runs.begin(campaign, rate="150/5s")
    ledger.rows.mark_sending(campaign, run, [2, 3, 4])
    ledger.rows.record_outcomes(campaign, run, [
        Outcome(2, RowState.SENT, 201, "01M2"), Outcome(3, RowState.SENT, 201, "01M3"),
        Outcome(4, RowState.SENT, 201, None), Outcome(5, RowState.NO_PROFILE, 404),
    ])
    return ledger, campaign


def test_plan_and_record_keep_history_and_never_forget_a_status(tmp_path: Path) -> None:
    ledger, campaign = _sent_campaign(tmp_path / "l.sqlite")
    now = time.time()
    plan = ledger.statuses.plan(campaign, now=now, min_age_s=0, horizon_s=86400)
    assert [q.row for q in plan.due] == [2, 3] and plan.without_id == 1
    assert ledger.statuses.counts(campaign) == {"NOT_CHECKED": 3}

    ledger.statuses.record(campaign, [
        StatusObservation(2, "01M2", now, "ACCEPTED", http_status=200),
        StatusObservation(3, "01M3", now, "PROCESSED", "UNREAD", "NOT_PAID", 200),
    ])
    # A later failed check (no status) keeps the status learned before.
    ledger.statuses.record(campaign, [
        StatusObservation(2, "01M2", now + 1, None, http_status=500, detail="boom"),
    ])
    latest = ledger.statuses.latest(campaign)
    assert latest[2].status == "ACCEPTED" and latest[2].detail == "boom"
    assert latest[2].checks == 2 and not latest[2].final and latest[2].status_since == now
    assert latest[3].final
    assert [c.status for c in ledger.statuses.checks(campaign, 2)] == ["ACCEPTED", None]

    plan = ledger.statuses.plan(campaign, now=now, min_age_s=0, horizon_s=86400)
    assert [q.row for q in plan.due] == [2] and plan.final == 1
    followed = ledger.statuses.plan(campaign, now=now, min_age_s=0, horizon_s=86400,
                                    follow_reads=True)
    assert [q.row for q in followed.due] == [2, 3]  # unread Premium message stays open

    ledger.statuses.record(campaign, [StatusObservation(2, "01M2", now + 2, "PROCESSED")])
    assert ledger.statuses.latest(campaign)[2].status_since == now + 2
    assert ledger.statuses.counts(campaign) == {"NOT_CHECKED": 1, "PROCESSED": 2}
    ledger.close()


def _test_send(ledger: Ledger, template_sha256: str | None, outcome: RowState,
               message_id: str | None, http_status: int, detail: str | None) -> int:
    test_id = ledger.test_sends.begin(input_path="c.csv", input_sha256="f1",
                                      template_sha256=template_sha256, source_row=2,
                                      recipient=CODES[0], content_hash="h")
    ledger.test_sends.finish(test_id, outcome=outcome, message_id=message_id,
                             http_status=http_status, detail=detail)
    return test_id


def test_test_sends_are_tied_to_file_and_template(tmp_path: Path) -> None:
    with Ledger.open(tmp_path / "l.sqlite") as ledger:
        _test_send(ledger, "t1", RowState.REJECTED, None, 403, "no")
        assert not ledger.test_sends.has_successful("f1", "t1")
        _test_send(ledger, None, RowState.SENT, "01M", 201, None)
        assert ledger.test_sends.has_successful("f1", None)
        assert not ledger.test_sends.has_successful("f1", "t1")
        assert not ledger.test_sends.has_successful("f2", None)
        assert [s.outcome for s in ledger.test_sends.list()] == ["sent", "rejected"]
        assert [s.outcome for s in ledger.test_sends.list("f1", "t1")] == ["rejected"]


def test_a_schema_1_ledger_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    ledger, campaign = _sent_campaign(path)
    ledger.close()
    with sqlite3.connect(path) as db:  # what version 1 looked like
        for table in ("message_status", "status_checks", "status_runs", "test_sends"):
            db.execute(f"DROP TABLE {table}")
        db.execute("ALTER TABLE rows DROP COLUMN body")
        db.execute("ALTER TABLE campaigns DROP COLUMN recorded")
        db.execute("UPDATE meta SET value='1' WHERE key='schema_version'")
    with Ledger.open(path) as upgraded:
        assert upgraded.rows.counts(campaign)[RowState.SENT] == 3
        assert upgraded.statuses.counts(campaign) == {"NOT_CHECKED": 3}
        assert not upgraded.test_sends.has_successful("x", None)
    with sqlite3.connect(path) as db:
        (version,) = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
    assert int(version) == SCHEMA_VERSION == 5
