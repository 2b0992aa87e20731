"""``run --dry-run``: counts, reach and estimate against the simulator; nothing is ever sent."""

from __future__ import annotations

import json
from pathlib import Path

from enginetools import TEMPLATE, cli_env, run_cli, write_campaign

from dispatcher.campaign import load_campaign
from dispatcher.ledger import Ledger, Outcome
from dispatcher.operations.dry_run import DryRunReport, dry_run
from dispatcher.operations.starting import new_row
from dispatcher.settings import RateSpec, Secret, Settings
from dispatcher.simulator import DEFAULT_KEY, DEFAULT_SERVICE_ID, fiscal_code_hash
from dispatcher.vocabulary import ExitCode, RowState

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data"


def test_estimate_arithmetic() -> None:
    unchecked = DryRunReport(rows=10, invalid=1, duplicate=1, already_decided=0, to_process=8,
                             rate_per_second=24.0)
    assert unchecked.requests_needed == 16 and unchecked.duration_s(16) == 16 / 24
    checked = DryRunReport(rows=10, invalid=1, duplicate=1, already_decided=0, to_process=8,
                           rate_per_second=24.0, checked=True,
                           reach={"allowed": 5, "not_allowed": 1, "no_profile": 1, "failed": 1})
    assert checked.reachable == 5 and checked.unknown == 1
    assert checked.requests_needed == 8 + 5 + 1  # every check again, sends, the unknown's send
    assert checked.requests_needed_with_cache == 5 + 2  # sends; the unknown checked and sent


def test_dry_run_reach_matches_the_simulator_population_and_sends_nothing(
    tmp_path: Path, simulator
) -> None:
    campaign = load_campaign(write_campaign(tmp_path / "c.csv", 200), template=TEMPLATE)
    settings = Settings(base_url=simulator.base_url, api_key=Secret(DEFAULT_KEY),
                        rate=RateSpec.parse("400/s"), concurrency=8)
    seen: dict[str, str] = {}
    report = dry_run(campaign, settings=settings, ledger_path=tmp_path / "none.sqlite",
                     check=True, on_answer=lambda cf, kind: seen.__setitem__(cf, kind.value))
    assert report.to_process == 200 and report.checked
    assert sum(report.reach.values()) == 200 == len(seen)
    truth = {"allowed": 0, "not_allowed": 0, "no_profile": 0}
    for code in seen:
        citizen = simulator.citizen(code)
        kind = ("no_profile" if not citizen["has_profile"]
                else "allowed" if citizen["sender_allowed"][DEFAULT_SERVICE_ID] else "not_allowed")
        truth[kind] += 1
        assert seen[code] == kind, fiscal_code_hash(code)
    assert report.reach == {k: n for k, n in truth.items() if n}
    assert report.requests_made == 200
    stats = simulator.stats()
    assert set(stats["by_endpoint"]) == {"profiles"} and simulator.inbox() == {}
    assert report.requests_needed == 200 + report.reachable
    assert report.duration_s(report.requests_needed) == report.requests_needed / 400


def test_dry_run_cli_without_checks_needs_no_key_and_reports_invalid_rows(tmp_path: Path,
                                                                          simulator) -> None:
    env = cli_env(simulator)
    env.pop("IO_API_KEY")
    out = run_cli(["run", str(SAMPLE / "tari_2027.csv"), "--template",
                   str(SAMPLE / "tari_2027.toml"), "--dry-run", "--json",
                   "--ledger", str(tmp_path / "l.sqlite")], env)
    assert out.returncode == ExitCode.OK, out.stderr
    report = json.loads(out.stdout[out.stdout.index("{\n"):])
    campaign = load_campaign(SAMPLE / "tari_2027.csv", template=SAMPLE / "tari_2027.toml")
    assert report["to_process"] == campaign.valid_count
    assert report["invalid"] == campaign.invalid_count > 0
    assert report["requests_needed"] == 2 * campaign.valid_count
    assert report["estimated_seconds"] == round(2 * campaign.valid_count / 24, 1)  # 120/5s
    assert not (tmp_path / "l.sqlite").exists()
    assert simulator.stats()["requests_total"] == 0


def test_dry_run_counts_only_rows_a_resume_would_take(tmp_path: Path, simulator) -> None:
    campaign = load_campaign(write_campaign(tmp_path / "c.csv", 30), template=TEMPLATE)
    ledger_path = tmp_path / "l.sqlite"
    with Ledger.open(ledger_path) as ledger:  # an unfinished campaign: 10 rows decided
        campaign_id = ledger.campaigns.start(
            input_path=str(campaign.path), input_sha256=campaign.source_sha256,
            template_sha256=campaign.template_sha256, rows=[new_row(r) for r in campaign.rows()])
        run_id = ledger.runs.begin(campaign_id, rate="1/s")
        ledger.rows.record_outcomes(campaign_id, run_id, [
            Outcome(row, RowState.NO_PROFILE, 404) for row in range(2, 12)
        ])
    settings = Settings(base_url=simulator.base_url, rate=RateSpec.parse("400/s"))
    report = dry_run(campaign, settings=settings, ledger_path=ledger_path, check=False)
    assert (report.to_process, report.already_decided) == (20, 10)
    assert simulator.stats()["requests_total"] == 0


def test_dry_run_cli_with_profile_checks_prints_reach_and_both_estimates(
    tmp_path: Path, simulator
) -> None:
    csv_path = write_campaign(tmp_path / "c.csv", 30)
    out = run_cli(["run", str(csv_path), "--template", str(TEMPLATE), "--dry-run",
                   "--check-profiles", "--rate", "400/s"], cli_env(simulator))
    assert out.returncode == ExitCode.OK, out.stderr
    assert "Dry run: nothing was sent" in out.stdout
    assert "has IO and allows the service" in out.stdout
    assert "With --profile-cache" in out.stdout
    assert "30 requests made now" in out.stdout
    assert set(simulator.stats()["by_endpoint"]) == {"profiles"}
    assert not csv_path.with_name("c.dispatcher").exists() or not any(
        csv_path.with_name("c.dispatcher").glob("ledger.sqlite")
    )
