"""``run --profile-cache`` and ``--metrics-file`` from the command line, against the simulator."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

from enginetools import TEMPLATE, cli_env, ledger_states, run_cli, write_campaign

from dispatcher.simulator import RunningSimulator
from dispatcher.vocabulary import ExitCode


def _checks(sim: RunningSimulator) -> int:
    """``POST /profiles`` so far; each command adds one, the pre-flight's probe."""
    return int(sim.stats()["requests"].get("profiles", 0))


def _sends(sim: RunningSimulator) -> int:
    return int(sim.stats()["requests"].get("messages", 0))


def test_a_dry_run_seeds_the_cache_and_the_real_run_checks_no_profile_again(
    tmp_path: Path, simulator: RunningSimulator
) -> None:
    csv_path = write_campaign(tmp_path / "c.csv", 25)
    base = ["run", str(csv_path), "-t", str(TEMPLATE), "--rate", "400/s",
            "--profile-cache", "36h", "--json"]
    env = cli_env(simulator)
    dry = run_cli([*base, "--dry-run", "--check-profiles"], env)
    assert dry.returncode == ExitCode.OK, dry.stderr
    estimate = json.loads(dry.stdout)
    assert estimate["requests_made"] == 25 and estimate["reach_from_profile_cache"] == 0
    cache = tmp_path / "c.dispatcher" / "profiles.sqlite"
    assert estimate["profile_cache"] == str(cache)
    assert stat.S_IMODE(os.stat(cache).st_mode) == 0o600
    assert (_checks(simulator), _sends(simulator)) == (1 + 25, 0)  # the probe, the citizens

    again = json.loads(run_cli([*base, "--dry-run", "--check-profiles"], env).stdout)
    assert again["reach_from_profile_cache"] == 25 and again["requests_made"] == 0
    assert again["reach"] == estimate["reach"]
    assert _checks(simulator) == 2 + 25  # a second probe, no citizen again

    metrics = tmp_path / "textfiles" / "dispatcher.prom"
    real = run_cli([*base, "--metrics-file", str(metrics)], env)
    assert real.returncode == ExitCode.OK, real.stderr
    summary = json.loads(real.stdout)
    reachable = estimate["reach"].get("allowed", 0)
    assert summary["profile_cache"]["checked"] == 0
    assert sum(summary["profile_cache"]["hits"].values()) == 25
    assert _checks(simulator) == 3 + 25 and _sends(simulator) == reachable
    assert summary["outcomes"]["sent"] == reachable
    assert summary["requests"] == reachable  # one request per message: the sends alone
    text = metrics.read_text(encoding="utf-8")
    assert f'dispatcher_rows{{campaign="c",campaign_id="1",outcome="sent"}} {reachable}' in text
    assert 'outcome="ambiguous"} 0' in text
    assert stat.S_IMODE(os.stat(metrics).st_mode) == 0o644


def test_cache_flags_are_checked_before_anything_is_sent(
    tmp_path: Path, simulator: RunningSimulator
) -> None:
    csv_path = write_campaign(tmp_path / "c.csv", 5)
    run = ["run", str(csv_path), "-t", str(TEMPLATE)]
    env = cli_env(simulator)
    no_ttl = run_cli([*run, "--profile-cache-file", str(tmp_path / "p.sqlite")], env)
    assert no_ttl.returncode == ExitCode.INVALID_INPUT
    assert "--profile-cache-file needs --profile-cache" in no_ttl.stderr
    bad_ttl = run_cli([*run, "--profile-cache", "soon"], env)
    assert bad_ttl.returncode == ExitCode.INVALID_INPUT and "duration" in bad_ttl.stderr
    unchecked = run_cli([*run, "--profile-cache", "1d", "--dry-run"], env)
    assert unchecked.returncode == ExitCode.INVALID_INPUT
    assert "needs --check-profiles" in unchecked.stderr
    assert simulator.stats()["requests_total"] == 0
    assert not (tmp_path / "c.dispatcher" / "ledger.sqlite").exists()


def test_a_cache_of_another_service_is_refused_and_nothing_is_sent(
    tmp_path: Path, simulator: RunningSimulator
) -> None:
    csv_path = write_campaign(tmp_path / "c.csv", 5)
    cache = tmp_path / "shared" / "profiles.sqlite"
    run = ["run", str(csv_path), "-t", str(TEMPLATE), "--profile-cache", "1d",
           "--profile-cache-file", str(cache)]
    first = run_cli(run, cli_env(simulator))
    assert first.returncode in (ExitCode.OK, ExitCode.INCOMPLETE), first.stderr
    sent_before = _sends(simulator)
    env = cli_env(simulator)
    env["IO_API_KEY"] = "key-of-another-service"
    other = run_cli([*run, "--new-campaign", "--allow-resend"], env)
    assert other.returncode == ExitCode.CONFIG_ERROR, other.stderr
    assert "another IO service" in other.stderr and "Nothing was sent" in other.stderr
    assert "key-of-another-service" not in other.stderr + other.stdout
    assert _sends(simulator) == sent_before


def test_status_leaves_a_metrics_file_for_the_textfile_collector(
    tmp_path: Path, simulator: RunningSimulator
) -> None:
    csv_path = write_campaign(tmp_path / "c.csv", 8)
    env = cli_env(simulator)
    assert run_cli(["run", str(csv_path), "-t", str(TEMPLATE)], env).returncode in (
        ExitCode.OK, ExitCode.INCOMPLETE)
    sent = ledger_states(tmp_path / "c.dispatcher" / "ledger.sqlite").get("sent", 0)
    metrics = tmp_path / "dispatcher.prom"
    out = run_cli(["status", str(csv_path), "--min-age", "0s", "--metrics-file", str(metrics)],
                  env)
    assert out.returncode == ExitCode.OK, out.stderr
    text = metrics.read_text(encoding="utf-8")
    assert f'dispatcher_status_requests_total{{campaign="c",campaign_id="1"}} {sent}' in text
    assert 'dispatcher_io_messages{campaign="c",campaign_id="1",status="NOT_CHECKED"} 0' in text
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".dispatcher.prom")]
