"""``--json`` means JSON: exactly one document on stdout on every way out, with the exit code."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from enginetools import TEMPLATE, cli_env, run_cli, write_campaign

from dispatcher.ledger import RunLock
from dispatcher.simulator import RunningSimulator
from dispatcher.vocabulary import ExitCode

SAMPLES = Path(__file__).resolve().parents[2] / "sample_data"


def _document(stdout: str) -> dict[str, object]:
    document = json.loads(stdout)  # one document, nothing else: json.loads refuses extra data
    assert isinstance(document, dict)
    return document


def test_refusals_print_one_json_document_with_the_exit_code(
    tmp_path: Path, simulator: RunningSimulator,
) -> None:
    env = cli_env(simulator)
    campaign = write_campaign(tmp_path / "c.csv", 10)
    ledger = tmp_path / "l.sqlite"
    no_key = {k: v for k, v in env.items() if k != "IO_API_KEY"}
    cases = {
        "missing file": (["validate", str(tmp_path / "nowhere.csv"), "--json"], env,
                         ExitCode.INVALID_INPUT),
        "invalid rows": (["run", str(SAMPLES / "tari_2027.csv"), "-t",
                          str(SAMPLES / "tari_2027.toml"), "--json"], env,
                         ExitCode.INVALID_INPUT),
        "no key": (["run", str(campaign), "-t", str(TEMPLATE), "--json"], no_key,
                   ExitCode.CONFIG_ERROR),
        "check, wrong key": (["check", "--json"], {**env, "IO_API_KEY": "wrong-key"},
                             ExitCode.CONFIG_ERROR),
        "status, no ledger": (["status", str(tmp_path / "none.sqlite"), "--json"], env,
                              ExitCode.INVALID_INPUT),
    }
    for name, (args, environment, expected) in cases.items():
        result = run_cli(args, environment)
        assert result.returncode == expected, (name, result.stderr[-1000:])
        document = _document(result.stdout)
        assert document.get("exit_code") == expected, (name, document)
        if name == "invalid rows":
            validation = document["validation"]
            assert isinstance(validation, dict) and validation["invalid"] > 0
    with RunLock(ledger):
        locked = run_cli(["run", str(campaign), "-t", str(TEMPLATE), "--ledger", str(ledger),
                          "--json"], env)
    assert locked.returncode == ExitCode.LOCKED
    document = _document(locked.stdout)
    assert document["exit_code"] == ExitCode.LOCKED and f"pid {os.getpid()}" in str(
        document["error"])


def test_a_successful_run_prints_its_summary_document_only(
    tmp_path: Path, simulator: RunningSimulator,
) -> None:
    campaign = write_campaign(tmp_path / "c.csv", 10)
    result = run_cli(["run", str(campaign), "-t", str(TEMPLATE), "--json"], cli_env(simulator))
    assert result.returncode == ExitCode.OK, result.stderr[-1000:]
    assert _document(result.stdout)["exit_code"] == ExitCode.OK


def test_an_internal_error_under_json_still_prints_a_document(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    from dispatcher.commands import _output

    monkeypatch.setattr(sys, "excepthook", lambda *exc: None)  # the scrubbed traceback's
    monkeypatch.setattr(_output._JsonMode, "on", False)
    _output.json_errors(True)
    try:
        error = RuntimeError("boom")
        sys.excepthook(RuntimeError, error, error.__traceback__)
    finally:
        monkeypatch.setattr(_output._JsonMode, "on", False)
    document = _document(capsys.readouterr().out)
    assert document["exit_code"] == 1 and "RuntimeError" in str(document["error"])
