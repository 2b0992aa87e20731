"""Who ran a campaign, from where, with what: kept per run, in the ledger and the report."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from enginetools import TEMPLATE, cli_env, run_cli, write_campaign

from dispatcher import __version__
from dispatcher.ledger import open_for_reading
from dispatcher.simulator import DEFAULT_KEY, RunningSimulator
from dispatcher.vocabulary import ExitCode

CODE = "RSSMRA85T10A562S"


def test_each_run_keeps_operator_host_version_command_and_settings(
    tmp_path: Path, simulator: RunningSimulator,
) -> None:
    campaign = write_campaign(tmp_path / "c.csv", 8)
    ledger = tmp_path / "l.sqlite"
    stop_file = tmp_path / f"stop-{CODE}"  # a fiscal code in an argument: masked in the trail
    args = ["run", str(campaign), "-t", str(TEMPLATE), "--ledger", str(ledger),
            "--stop-file", str(stop_file), "--operator", "anna.rossi"]
    first = run_cli(args, cli_env(simulator))
    assert first.returncode == ExitCode.OK, first.stderr[-2000:]
    second = run_cli(args[:-2], cli_env(simulator, DISPATCHER_OPERATOR="ufficio tributi"))
    assert second.returncode == ExitCode.OK, second.stderr[-2000:]
    with open_for_reading(ledger) as opened:
        runs = opened.runs.of_campaign(1)
    assert [r.operator for r in runs] == ["anna.rossi", "ufficio tributi"]
    run = runs[0]
    assert (run.host, run.version) == (socket.gethostname(), __version__)
    assert run.command is not None and run.command.startswith("dispatcher run ")
    assert "--operator anna.rossi" in run.command
    assert CODE not in run.command and "RSSMRA*******62S" in run.command
    settings = json.loads(run.settings or "{}")
    assert settings["base_url"] == simulator.base_url and settings["api_key_from"]
    assert DEFAULT_KEY not in (run.settings or "") + run.command

    report = run_cli(["report", str(ledger), "--out", str(tmp_path / "r")], cli_env(simulator))
    assert report.returncode == ExitCode.OK, report.stderr[-2000:]
    summary = json.loads((tmp_path / "r" / "summary.json").read_text(encoding="utf-8"))
    last = summary["runs"]["last"]
    assert (last["operator"], last["version"]) == ("ufficio tributi", __version__)
    assert last["settings"]["rate"] == settings["rate"]
    page = (tmp_path / "r" / "report.html").read_text(encoding="utf-8")
    assert f"anna.rossi@{socket.gethostname()}" in page
