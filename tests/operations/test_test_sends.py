"""``dispatcher test`` and ``run --require-test`` against the simulator over loopback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from enginetools import GENERATE, TEMPLATE, cli_env, ledger_states, run_cli, write_campaign

from dispatcher.campaign import load_campaign
from dispatcher.ledger import Ledger
from dispatcher.operations.test_send import TestSendError, parse_recipients, pick_rows
from dispatcher.simulator import SANDBOX_FISCAL_CODE
from dispatcher.vocabulary import ExitCode

COLLEAGUE = "RSSMRA80A01H501U"


def test_recipients_are_checked_and_deduplicated() -> None:
    assert parse_recipients(f" aaaaaa00a00a000a ,{COLLEAGUE},{SANDBOX_FISCAL_CODE}") == [
        SANDBOX_FISCAL_CODE, COLLEAGUE,
    ]
    with pytest.raises(TestSendError, match="not a valid fiscal code"):
        parse_recipients("RSSMRA80A01H501X")
    with pytest.raises(TestSendError, match="at least one"):
        parse_recipients(" , ")


def test_rows_are_the_first_valid_ones_or_the_chosen_valid_ones(tmp_path: Path) -> None:
    sample = Path(__file__).resolve().parents[2] / "sample_data"
    campaign = load_campaign(sample / "tari_2027.csv", template=sample / "tari_2027.toml")
    first = pick_rows(campaign, count=3)
    assert len(first) == 3 and all(r.message for r in first)
    invalid = next(r.row for r in campaign.rows() if r.problems and r.message is None)
    with pytest.raises(TestSendError, match=f"row {invalid} is"):
        pick_rows(campaign, rows=[invalid])
    with pytest.raises(TestSendError, match="no row 99999"):
        pick_rows(campaign, rows=[first[0].row, 99999])
    assert [r.row for r in pick_rows(campaign, rows=[first[1].row])] == [first[1].row]


def test_test_send_reaches_the_test_recipients_only_and_unlocks_require_test(
    tmp_path: Path, simulator
) -> None:
    csv_path = write_campaign(tmp_path / "tari.csv", 8)
    env = cli_env(simulator)
    base = [str(csv_path), "--template", str(TEMPLATE)]

    refused = run_cli(["run", *base, "--require-test"], env)
    assert refused.returncode == ExitCode.INVALID_INPUT
    assert "no test send of this file and template" in refused.stderr
    assert simulator.stats()["requests_total"] == 0

    sent = run_cli(["test", *base, "--to", f"{SANDBOX_FISCAL_CODE},{COLLEAGUE}", "--rows",
                    "2,4", "--json"], env)
    assert sent.returncode == ExitCode.OK, sent.stderr
    result = json.loads(sent.stdout)
    assert [(s["row"], s["outcome"]) for s in result["sends"]] == [
        (2, "sent"), (2, "sent"), (4, "sent"), (4, "sent"),
    ]
    assert COLLEAGUE not in sent.stdout + sent.stderr  # masked
    inbox = simulator.inbox()
    assert set(inbox) == {SANDBOX_FISCAL_CODE, COLLEAGUE}  # no citizen got anything
    citizens = [r[0] for r in GENERATE.tari_rows(8, 11)]
    subjects = {m["subject"] for m in inbox[COLLEAGUE]}
    assert subjects == {"TARI 2027: il suo avviso di pagamento"}
    stats = simulator.stats()["by_endpoint"]
    # one profile check: the pre-flight's probe of IO's test code, none of the testers
    assert stats.get("profiles") == {"200": 1}

    ledger = csv_path.with_name("tari.dispatcher") / "ledger.sqlite"
    with Ledger.open(ledger) as opened:
        assert opened.campaigns.latest() is None  # test sends are not a campaign
        assert len(opened.test_sends.list()) == 4

    real = run_cli(["run", *base, "--require-test", "--rate", "400/s"], env)
    assert real.returncode == ExitCode.OK, real.stderr
    assert sum(ledger_states(ledger).values()) == 8
    assert set(simulator.inbox()) - {SANDBOX_FISCAL_CODE, COLLEAGUE} <= set(citizens)

    # A changed template needs a new test.
    changed = tmp_path / "changed.toml"
    changed.write_text(TEMPLATE.read_text().replace("TARI 2027:", "TARI 2027 -"))
    again = run_cli(["run", str(csv_path), "--template", str(changed), "--require-test",
                     "--new-campaign"], env)
    assert again.returncode == ExitCode.INVALID_INPUT
    assert "no test send" in again.stderr


def test_a_rejected_test_send_does_not_unlock_require_test(tmp_path: Path, simulator) -> None:
    csv_path = write_campaign(tmp_path / "tari.csv", 3)
    env = cli_env(simulator)
    simulator.configure(keys=[{"key": "demo-key", "premium_write": False}])
    premium = tmp_path / "premium.toml"
    premium.write_text(TEMPLATE.read_text() + 'feature_level_type = "ADVANCED"\n')
    sent = run_cli(["test", str(csv_path), "--template", str(premium), "--to",
                    SANDBOX_FISCAL_CODE, "--count", "1"], env)
    assert sent.returncode == ExitCode.INCOMPLETE, sent.stdout + sent.stderr
    assert "rejected" in sent.stdout
    refused = run_cli(["run", str(csv_path), "--template", str(premium), "--require-test"], env)
    assert refused.returncode == ExitCode.INVALID_INPUT


def test_bad_recipient_or_row_sends_nothing(tmp_path: Path, simulator) -> None:
    csv_path = write_campaign(tmp_path / "tari.csv", 3)
    env = cli_env(simulator)
    bad = run_cli(["test", str(csv_path), "--template", str(TEMPLATE), "--to", "NOTACODE"], env)
    assert bad.returncode == ExitCode.INVALID_INPUT and "not a valid fiscal code" in bad.stderr
    row = run_cli(["test", str(csv_path), "--template", str(TEMPLATE), "--to",
                   SANDBOX_FISCAL_CODE, "--rows", "50"], env)
    assert row.returncode == ExitCode.INVALID_INPUT and "no row 50" in row.stderr
    assert simulator.stats()["requests_total"] == 0
