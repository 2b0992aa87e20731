"""The commands the report suggests, pasted as they are, settle the campaign.

A real ``run`` against the simulator with a template and a ledger outside the default place
(its folder has a space in it), where some submits are stored by IO and answered 504: those
rows are ambiguous. The report says "not complete", names the command that resends them and
the one that asks IO about the rest; each is taken from ``summary.json`` (and found on the
page), run through the shell's word splitting, and does what it says. Then the report says
"complete".
"""

from __future__ import annotations

import json
import shlex
import sqlite3
from html import escape
from pathlib import Path

import pytest
from enginetools import GENERATE, TEMPLATE, cli_env, fast_config, ledger_states, run_cli

from dispatcher.simulator import FaultConfig, running_simulator
from dispatcher.vocabulary import ExitCode

pytestmark = pytest.mark.slow


def _pasted(command: str) -> list[str]:
    """A suggested command as the shell would run it, with this interpreter's dispatcher."""
    words = shlex.split(command)
    assert words[0] == "dispatcher"
    return words[1:]


def _report(ledger: Path, env: dict[str, str], *extra: str) -> dict:
    done = run_cli(["report", str(ledger), "--format", "json,html", *extra], env)
    assert done.returncode == ExitCode.OK, done.stderr
    return json.loads((ledger.parent / "summary.json").read_text("utf-8"))


def _age_the_sends(ledger: Path, seconds: float) -> None:
    """As if the messages had been sent ``seconds`` ago (``status`` skips younger ones)."""
    with sqlite3.connect(ledger) as db:
        db.execute("UPDATE rows SET sending_at = sending_at - ?, decided_at = decided_at - ? "
                   "WHERE sending_at IS NOT NULL", (seconds, seconds))
    db.close()


def test_the_suggested_commands_settle_the_campaign(tmp_path: Path) -> None:
    campaign = tmp_path / "tari.csv"
    GENERATE.write_csv(campaign, GENERATE.tari_rows(24, 7))
    ledger = tmp_path / "archivio tari" / "ledger.sqlite"
    config = fast_config(faults=FaultConfig(seed=4, gateway_error_after_store_share=0.3))
    with running_simulator(config) as sim:
        env = {k: v for k, v in cli_env(sim).items()  # Italian: no locale names another
               if not k.startswith(("LC_", "LANG", "DISPATCHER_LANG"))}
        ran = run_cli(["run", str(campaign), "-t", str(TEMPLATE), "--ledger", str(ledger),
                       "--rate", "400/s"], env)
        assert ran.returncode == ExitCode.INCOMPLETE, ran.stderr[-2000:]
        ambiguous = ledger_states(ledger).get("ambiguous", 0)
        assert ambiguous > 0

        summary = _report(ledger, env)
        assert summary["campaign"]["complete"] is False
        opened = summary["open"]
        assert opened["ambiguous"] == ambiguous and opened["rows"] >= ambiguous
        resend = opened["commands"]["resend_ambiguous"]
        page = (ledger.parent / "report.html").read_text("utf-8")
        assert "non completa:" in page
        assert escape(resend) in page and escape(opened["commands"]["status"]) in page
        assert "-t" in shlex.split(resend) and str(ledger) in shlex.split(resend)

        sim.configure(faults={"gateway_error_after_store_share": 0.0})
        resent = run_cli(_pasted(resend), env)
        assert resent.returncode in (ExitCode.OK, ExitCode.INCOMPLETE), resent.stderr[-2000:]
        assert ledger_states(ledger).get("ambiguous", 0) == 0

        summary = _report(ledger, env)
        assert summary["open"]["ambiguous"] == 0 and summary["open"]["unchecked"] > 0
        _age_the_sends(ledger, 3600)
        status = run_cli(_pasted(summary["open"]["commands"]["status"]), env)
        assert status.returncode == ExitCode.OK, status.stderr[-2000:]

        summary = _report(ledger, env)
        assert summary["open"]["rows"] == 0
        assert summary["campaign"]["complete"] is True
        page = (ledger.parent / "report.html").read_text("utf-8")
        assert "completa: ogni riga ha un esito definitivo" in page
        assert '<section id="open"' not in page

