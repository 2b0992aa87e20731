"""Every command logs the same way, and ``results.csv`` has one format whoever wrote it."""

from __future__ import annotations

import json
from pathlib import Path

from enginetools import TEMPLATE, cli_env, run_cli, write_campaign


def _log_lines(stderr: str) -> list[dict[str, object]]:
    """Every stderr line of a command whose stderr is not a terminal: one JSON object each."""
    assert "\x1b[" not in stderr  # no ANSI colour codes in a file
    lines = [line for line in stderr.splitlines() if line.strip()]
    return [json.loads(line) for line in lines]


def test_run_and_report_write_results_csv_in_the_same_format(tmp_path: Path, simulator) -> None:
    csv_path = write_campaign(tmp_path / "c.csv", 20)
    env = cli_env(simulator)
    ran = run_cli(["run", str(csv_path), "-t", str(TEMPLATE)], env)
    assert ran.returncode in (0, 3), ran.stderr
    results = csv_path.with_name("c.dispatcher") / "results.csv"
    by_run = results.read_bytes()
    reported = run_cli(["report", str(csv_path)], env)
    assert reported.returncode == 0, reported.stderr
    by_report = results.read_bytes()
    assert by_run.startswith("\ufeff".encode()) and by_report.startswith("\ufeff".encode())
    assert by_run.splitlines()[0] == by_report.splitlines()[0]  # same columns, same separator
    assert b";" in by_run.splitlines()[0]
    assert len(by_run.splitlines()) == len(by_report.splitlines()) == 21


def test_status_and_test_log_json_lines_when_stderr_is_a_file(tmp_path: Path, simulator) -> None:
    csv_path = write_campaign(tmp_path / "c.csv", 10)
    env = cli_env(simulator)
    tested = run_cli(["test", str(csv_path), "-t", str(TEMPLATE), "--to", "AAAAAA00A00A000A",
                      "--count", "1"], env)
    assert tested.returncode == 0, tested.stderr
    events = _log_lines(tested.stderr)
    assert any(e.get("event") == "test_sent" for e in events)
    ran = run_cli(["run", str(csv_path), "-t", str(TEMPLATE)], env)
    assert ran.returncode in (0, 3), ran.stderr
    assert _log_lines(ran.stderr)
    status = run_cli(["status", str(csv_path), "--min-age", "0s"], env)
    assert status.returncode in (0, 3), status.stderr
    events = _log_lines(status.stderr)
    assert any(e.get("event") == "status_finished" for e in events)
