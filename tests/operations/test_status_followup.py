"""``dispatcher status`` against the simulator: IO's outcome of every sent message, asked once.

The simulator decides a message when its clock passes the processing delay, with the consent
the citizen has at that moment. Consent withdrawn after the profile check but before
processing must therefore give REJECTED, exactly for those citizens.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from enginetools import GENERATE, TEMPLATE, cli_env, fast_config, run_cli

from dispatcher.campaign import CampaignSource
from dispatcher.ledger import Ledger
from dispatcher.operations.errors import OperationRefused
from dispatcher.operations.run import RunOptions, run_campaign
from dispatcher.operations.status import StatusOptions, check_statuses
from dispatcher.settings import RateSpec, Secret, Settings
from dispatcher.simulator import DEFAULT_KEY, PopulationConfig, running_simulator
from dispatcher.vocabulary import ExitCode, RowState

NOW = StatusOptions(min_age_s=0.0)


def _settings(base_url: str) -> Settings:
    return Settings(base_url=base_url, api_key=Secret(DEFAULT_KEY), rate=RateSpec.parse("400/s"),
                    concurrency=8, read_timeout=5.0)


def _premium_campaign(path: Path, rows: int) -> Path:
    """TARI rows; every third one is sent as ADVANCED (Premium)."""
    with path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream, delimiter=";")
        writer.writerow([*GENERATE.HEADER, "feature_level_type"])
        for i, row in enumerate(GENERATE.tari_rows(rows, 5)):
            writer.writerow([*row, "ADVANCED" if i % 3 == 0 else "STANDARD"])
    return path


def _get_requests(sim) -> int:
    return sum(sim.stats()["by_endpoint"].get("message_status", {}).values())


@pytest.fixture
def slow_processing():
    """Everyone has IO and allows the service; IO processes a message 60 s (sim time) later."""
    config = fast_config(
        processing_delay_s=60.0,
        population=PopulationConfig(seed=3, share_missing=0.0, share_blocked=0.0),
    )
    with running_simulator(config) as sim:
        yield sim


def test_status_records_processed_and_rejected_exactly_for_withdrawn_consent(
    tmp_path: Path, slow_processing
) -> None:
    sim = slow_processing
    campaign = CampaignSource(_premium_campaign(tmp_path / "c.csv", 60), TEMPLATE)
    ledger_path = tmp_path / "run" / "ledger.sqlite"
    summary = run_campaign(campaign, settings=_settings(sim.base_url), ledger_path=ledger_path,
                           options=RunOptions())
    assert summary.counts[RowState.SENT] == 60

    with Ledger.open(ledger_path) as ledger:
        sent = {r.row: r for r in ledger.rows.all(summary.campaign_id)}
    rows = sorted(sent)
    withdrawn = {rows[1], rows[7], rows[30]}  # profile checked OK, consent withdrawn now
    for row in withdrawn:
        sim.citizen(sent[row].fiscal_code, sender_allowed=False)

    # Before processing: everything is ACCEPTED, nothing final, all still open.
    first = check_statuses(settings=_settings(sim.base_url), ledger_path=ledger_path,
                           options=NOW)
    assert first.asked == 60 and first.answered == 60
    assert first.counts == {"ACCEPTED": 60}
    assert first.open_after == 60 and first.became_final == 0

    sim.advance_clock(120)
    paid = next(r for r in rows if r not in withdrawn and (r - rows[0]) % 3 == 0)
    sim.mark_message(sent[paid].message_id, read_status="READ", payment_status="PAID")

    second = check_statuses(settings=_settings(sim.base_url), ledger_path=ledger_path,
                            options=NOW)
    assert second.asked == 60
    assert second.counts == {"PROCESSED": 57, "REJECTED": 3}
    assert second.exit_code is ExitCode.OK  # REJECTED is IO's verdict, not a failed check
    with Ledger.open(ledger_path) as ledger:
        statuses = ledger.statuses.latest(summary.campaign_id)
        history = ledger.statuses.checks(summary.campaign_id, rows[1])
    assert {r for r, s in statuses.items() if s.status == "REJECTED"} == withdrawn
    for row, status in statuses.items():
        advanced = (row - rows[0]) % 3 == 0
        if advanced and status.status == "PROCESSED":
            assert status.read_status in ("UNREAD", "READ")
            assert status.payment_status in ("NOT_PAID", "PAID")
        else:  # STANDARD messages (and rejected ones) never carry read/payment status
            assert status.read_status is None and status.payment_status is None, row
        assert status.message_id == sent[row].message_id
        assert status.final and status.checks == 2
    assert (statuses[paid].read_status, statuses[paid].payment_status) == ("READ", "PAID")
    assert [h.status for h in history] == ["ACCEPTED", "REJECTED"]  # the history is kept

    # A third pass asks nothing: every row is final.
    before = _get_requests(sim)
    third = check_statuses(settings=_settings(sim.base_url), ledger_path=ledger_path,
                           options=NOW)
    assert third.asked == 0 and third.requests == 0
    assert third.plan.final == 60
    assert _get_requests(sim) == before


def test_only_open_rows_are_asked_again_and_young_or_old_rows_are_skipped(
    tmp_path: Path, slow_processing
) -> None:
    sim = slow_processing
    campaign = CampaignSource(_premium_campaign(tmp_path / "c.csv", 20), TEMPLATE)
    ledger_path = tmp_path / "ledger.sqlite"
    run_campaign(campaign, settings=_settings(sim.base_url), ledger_path=ledger_path,
                 options=RunOptions())

    young = check_statuses(settings=_settings(sim.base_url), ledger_path=ledger_path,
                           options=StatusOptions(min_age_s=3600))
    assert young.asked == 0 and young.plan.too_young == 20 and young.open_after == 20
    old = check_statuses(settings=_settings(sim.base_url), ledger_path=ledger_path,
                         options=StatusOptions(min_age_s=0, horizon_s=-1))
    assert old.asked == 0 and old.plan.expired == 20 and old.open_after == 0

    sim.advance_clock(120)
    sim.reset()  # IO forgot the messages: 404s are recorded, the rows stay open
    lost = check_statuses(settings=_settings(sim.base_url), ledger_path=ledger_path,
                          options=NOW)
    assert lost.asked == 20 and lost.answered == 0 and lost.open_after == 20
    assert lost.exit_code is ExitCode.INCOMPLETE
    with Ledger.open(ledger_path) as ledger:
        some = next(iter(ledger.statuses.latest(1).values()))
    assert some.status is None and some.http_status == 404
    assert "does not know this message" in (some.detail or "")


def test_missing_ledger_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(OperationRefused, match="no such ledger") as refused:
        check_statuses(settings=_settings("http://127.0.0.1:9"),
                       ledger_path=tmp_path / "nope.sqlite")
    assert refused.value.exit_code is ExitCode.INVALID_INPUT


def test_status_cli_json_exit_code_and_masking(tmp_path: Path, slow_processing) -> None:
    sim = slow_processing
    csv_path = _premium_campaign(tmp_path / "c.csv", 12)
    env = cli_env(sim)
    sent = run_cli(["run", str(csv_path), "--template", str(TEMPLATE), "--rate", "400/s"], env)
    assert sent.returncode == 0, sent.stderr
    first_cf = next(GENERATE.tari_rows(1, 5))[0]
    sim.citizen(first_cf, sender_allowed=False)
    sim.advance_clock(120)

    # The campaign file stands for its ledger (FILE.dispatcher/ledger.sqlite).
    done = run_cli(["status", str(csv_path), "--min-age", "0", "--json"], env)
    assert done.returncode == ExitCode.OK, done.stderr
    summary = json.loads(done.stdout)
    assert summary["statuses"] == {"PROCESSED": 11, "REJECTED": 1}
    assert summary["asked"] == 12 and summary["open_after"] == 0
    assert first_cf not in done.stdout + done.stderr
    assert DEFAULT_KEY not in done.stdout + done.stderr

    again = run_cli(["status", str(csv_path), "--min-age", "0"], env)
    assert again.returncode == ExitCode.OK
    assert "REJECTED: the citizen has no IO profile or blocked the service" in again.stdout
    assert "asked 0" in again.stdout and "12 already final" in again.stdout
    missing = run_cli(["status", str(tmp_path / "none.sqlite")], env)
    assert missing.returncode == ExitCode.INVALID_INPUT
    assert "no such ledger" in missing.stderr
