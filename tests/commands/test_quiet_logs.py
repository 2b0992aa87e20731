"""Logs fit for cron: JSON lines, no line per row by default, ``--quiet``, ``--log-level``."""

from __future__ import annotations

import json
from pathlib import Path

from enginetools import TEMPLATE, cli_env, run_cli, write_campaign

from dispatcher.simulator import RunningSimulator
from dispatcher.vocabulary import ExitCode


def _lines(stderr: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in stderr.splitlines()]  # every line is JSON


def test_a_1000_row_run_logs_its_start_progress_and_end_not_every_row(
    tmp_path: Path, simulator: RunningSimulator,
) -> None:
    campaign = write_campaign(tmp_path / "c.csv", 1000, seed=31)
    base = ["run", str(campaign), "--template", str(TEMPLATE), "--rate", "2000/s"]
    default = run_cli([*base, "--ledger", str(tmp_path / "a.sqlite")], cli_env(simulator))
    assert default.returncode == ExitCode.OK, default.stderr[-2000:]
    events = _lines(default.stderr)
    assert len(events) < 60
    assert "\x1b[" not in default.stderr  # no colour codes in a file
    names = [e["event"] for e in events]
    assert "run_started" in names and "run_finished" in names
    assert "row_decided" not in names

    debug = run_cli(["--log-level", "debug", *base, "--ledger", str(tmp_path / "b.sqlite"),
                     "--allow-resend"], cli_env(simulator))
    assert debug.returncode == ExitCode.OK, debug.stderr[-2000:]
    assert sum(e["event"] == "row_decided" for e in _lines(debug.stderr)) == 1000

    quiet = run_cli(["--quiet", *base, "--ledger", str(tmp_path / "c.sqlite")],
                    cli_env(simulator))
    assert quiet.returncode == ExitCode.OK, quiet.stderr[-2000:]
    assert quiet.stderr == ""


def test_an_unknown_log_level_is_a_usage_error(tmp_path: Path) -> None:
    result = run_cli(["--log-level", "chatty", "validate", str(tmp_path / "x.csv")], {})
    assert result.returncode == 2
    assert "chatty" in result.stderr and "Traceback" not in result.stderr
