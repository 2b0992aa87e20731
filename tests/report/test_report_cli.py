"""``dispatcher report`` after a real ``run`` and ``status`` against the simulator.

One campaign is sent once for the whole module (31 rows: some recipients without IO or
blocking the service by the population seed, some sends answered 504 after IO stored them,
one invalid row, two citizens who withdraw consent before IO processes their message), then
every test reads it. ``report`` needs no network and no API key: it runs without them.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
import stat
from dataclasses import dataclass
from pathlib import Path

import polars as pl
import pytest
from enginetools import GENERATE, TEMPLATE, cli_env, fast_config, ledger_rows, run_cli
from reporttools import build_mixed_ledger, ledger_dump, parse_exposition

from dispatcher.simulator import DEFAULT_KEY, FaultConfig, running_simulator
from dispatcher.vocabulary import ExitCode

pytestmark = pytest.mark.slow

BOM = b"\xef\xbb\xbf"
FORMULA_NAME = "=1+1"
FORMULA_ADDRESS = "@SUM(A1:A9)"


@dataclass(frozen=True)
class Sent:
    folder: Path
    campaign: Path
    ledger: Path
    rows: list[tuple[int, str, str, str | None]]  # row, fiscal code, state, message id
    withdrawn: set[int]  # sent rows whose citizen withdrew consent before processing
    io_status: dict[int, str]  # row → IO status, as `dispatcher status` recorded it
    formula_row: int


def _write_campaign(path: Path) -> int:
    """30 valid TARI rows, one with formula-like cells, plus one invalid fiscal code."""
    rows = [list(r) for r in GENERATE.tari_rows(30, 11)]
    rows[4][1], rows[4][3] = FORMULA_NAME, FORMULA_ADDRESS  # spreadsheet row 6
    bad = list(rows[0])
    bad[0] = bad[0][:-1] + ("A" if bad[0][-1] != "A" else "B")  # wrong check character
    GENERATE.write_csv(path, [tuple(r) for r in rows] + [tuple(bad)])
    return 6


def _report_env() -> dict[str, str]:
    """No IO key, no IO address: a report must not need them. Italian, whatever the
    machine's locale says (the default when the environment names no language)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("IO_", "LC_", "LANG", "DISPATCHER_LANG"))}
    return env


@pytest.fixture(scope="module")
def sent(tmp_path_factory: pytest.TempPathFactory) -> Sent:
    folder = tmp_path_factory.mktemp("report-e2e")
    campaign = folder / "tari.csv"
    formula_row = _write_campaign(campaign)
    ledger = folder / "tari.dispatcher" / "ledger.sqlite"
    config = fast_config(processing_delay_s=60.0,
                         faults=FaultConfig(seed=1, gateway_error_after_store_share=0.1))
    with running_simulator(config) as sim:
        env = cli_env(sim)
        run = run_cli(["run", str(campaign), "--template", str(TEMPLATE), "--rate", "400/s",
                       "--skip-invalid"], env)
        assert run.returncode == ExitCode.INCOMPLETE, run.stderr[-2000:]  # ambiguous rows
        rows = ledger_rows(ledger)
        sent_rows = [r for r in rows if r[2] == "sent"]
        withdrawn = {sent_rows[0][0], sent_rows[5][0]}
        for row, code, _, _ in sent_rows:
            if row in withdrawn:
                sim.citizen(code, sender_allowed=False)
        sim.advance_clock(120)
        status = run_cli(["status", str(ledger), "--min-age", "0s", "--rate", "400/s"],
                         {**env, "LC_ALL": "en_GB.UTF-8"})  # its words below are English
        # the ambiguous rows have no message id to follow: they need attention (exit 3)
        assert status.returncode == ExitCode.INCOMPLETE, status.stderr[-2000:]
        assert "no message id to follow" in status.stdout
    states = {state for _, _, state, _ in rows}
    assert {"sent", "no_profile", "sender_not_allowed", "ambiguous", "invalid"} <= states, states
    with sqlite3.connect(f"file:{ledger}?mode=ro", uri=True) as db:
        io_status = dict(db.execute("SELECT row, status FROM message_status"))
    db.close()
    return Sent(folder, campaign, ledger, rows, withdrawn, io_status, formula_row)


def _report(sent: Sent, *args: str) -> tuple[int, str, str]:
    """Run ``dispatcher report`` and prove it left the ledger exactly as it was."""
    before = ledger_dump(sent.ledger)
    done = run_cli(["report", *args], _report_env())
    assert ledger_dump(sent.ledger) == before, "the report changed the ledger"
    return done.returncode, done.stdout, done.stderr


def _csv(path: Path, separator: str = ";") -> list[dict[str, str]]:
    text = path.read_bytes().decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text, newline=""), delimiter=separator))


def _states(sent: Sent) -> dict[str, int]:
    counts: dict[str, int] = {}
    for _, _, state, _ in sent.rows:
        counts[state] = counts.get(state, 0) + 1
    return counts


def test_the_default_report_writes_every_file_next_to_the_ledger(sent: Sent) -> None:
    code, stdout, stderr = _report(sent, str(sent.ledger))
    assert code == ExitCode.OK, stderr
    folder = sent.ledger.parent
    for name in ("results.csv", "results.parquet", "report.html", "summary.json",
                 "to_reach.csv"):
        assert (folder / name).is_file(), name
        assert str(folder / name) in stdout
        assert stat.S_IMODE(os.stat(folder / name).st_mode) == 0o600, name
    assert "Inviato (accettato da IO)" in stdout  # the table speaks Italian by default
    raw = (folder / "results.csv").read_bytes()
    assert raw.startswith(BOM)  # Italian Excel by default: BOM and ";"
    header = raw[len(BOM):].splitlines()[0].decode("utf-8")
    assert header.startswith("Riga;codice_fiscale;nome;cognome;indirizzo;importo;")
    assert header.endswith(";Stato IO verificato il;Dettaglio stato IO")  # titles in Italian


def test_the_csv_has_every_input_row_its_outcome_and_io_status(sent: Sent) -> None:
    out = sent.folder / "csv-check"
    code, _, stderr = _report(sent, str(sent.ledger), "--out", str(out), "--csv-dialect",
                              "plain")
    assert code == ExitCode.OK, stderr
    rows = _csv(out / "results.csv", ",")
    by_row = {int(r["row"]): r for r in rows}
    assert sorted(by_row) == list(range(2, 33))  # 31 input rows, header is row 1
    assert rows[0]["codice_fiscale"] == sent.rows[0][1]  # the input's own columns
    for row, code_, state, message_id in sent.rows:
        got = by_row[row]
        assert got["outcome"] == state, row
        assert got["codice_fiscale"] == code_ or state == "invalid"
        assert got["message_id"] == (message_id or "")
        if state == "sent":
            expected = "REJECTED" if row in sent.withdrawn else "PROCESSED"
            assert got["io_status"] == expected == sent.io_status[row], row
            assert got["io_status_label"] == ("Consegnato" if expected == "PROCESSED" else
                                              "Respinto da IO: cittadino senza IO o servizio "
                                              "bloccato")
        else:
            assert got["io_status"] == "", row
    labels = {r["outcome"]: r["outcome_label"] for r in rows}
    assert labels["no_profile"] == "Il cittadino non ha l'app IO"
    assert labels["sender_not_allowed"] == "Servizio disattivato dal cittadino"
    assert labels["ambiguous"] == "Esito incerto: verificare prima di reinviare"
    # the campaign's own formula-like cells are quoted for Excel
    assert by_row[sent.formula_row]["nome"] == "'" + FORMULA_NAME
    assert by_row[sent.formula_row]["indirizzo"] == "'" + FORMULA_ADDRESS
    parquet = pl.read_parquet(out / "results.parquet")
    assert parquet.height == 31
    assert parquet.filter(pl.col("row") == sent.formula_row)["nome"][0] == FORMULA_NAME
    assert parquet.schema["decided_at"] == pl.Datetime("us", "UTC")


def test_the_json_summary_agrees_with_the_ledger(sent: Sent) -> None:
    out = sent.folder / "json-check"
    code, stdout, stderr = _report(sent, str(sent.ledger), "--json", "--format", "json",
                                   "--out", str(out))
    assert code == ExitCode.OK, stderr
    printed = json.loads(stdout)
    written = json.loads((out / "summary.json").read_text("utf-8"))
    assert [p.name for p in out.iterdir()] == ["summary.json"]
    assert {k: v for k, v in printed.items() if k != "generated_at"} == {
        k: v for k, v in written.items() if k != "generated_at"}
    by_outcome = printed["rows"]["by_outcome"]
    assert {k: v for k, v in by_outcome.items() if v} == _states(sent)
    assert by_outcome["pending"] == 0 and by_outcome["failed"] == 0  # zeros are listed
    assert printed["rows"]["total"] == 31
    sent_count = _states(sent)["sent"]
    assert printed["io_status"]["PROCESSED"] == sent_count - len(sent.withdrawn)
    assert printed["io_status"]["REJECTED"] == len(sent.withdrawn)
    assert printed["io_status"]["NOT_CHECKED"] == 0
    assert printed["rows"]["needing_attention"] == _states(sent)["ambiguous"] + len(
        sent.withdrawn)
    with sqlite3.connect(f"file:{sent.ledger}?mode=ro", uri=True) as db:
        requests, throttled = db.execute("SELECT sum(requests), sum(throttled) FROM runs"
                                         ).fetchone()
    db.close()
    runs = printed["runs"]
    assert (runs["count"], runs["requests"], runs["throttled"]) == (1, requests, throttled)
    assert runs["duration_s"] > 0
    assert runs["mean_rate_per_s"] == pytest.approx(requests / runs["duration_s"], rel=0.01)
    assert printed["status_checks"]["passes"] == 1
    assert printed["status_checks"]["requests"] == sent_count
    assert printed["campaign"]["input_file"] == "tari.csv"
    # every row decided, but the ambiguous ones still need a decision: not complete
    assert printed["campaign"]["complete"] is False
    assert printed["open"]["ambiguous"] == _states(sent)["ambiguous"]


def test_english_a_plain_csv_and_only_the_chosen_formats(sent: Sent) -> None:
    out = sent.folder / "english"
    code, stdout, stderr = _report(sent, str(sent.campaign), "--format", "csv,html",
                                   "--lang", "en", "--csv-dialect", "plain",
                                   "--out", str(out))
    assert code == ExitCode.OK, stderr
    assert sorted(p.name for p in out.iterdir()) == ["report.html", "results.csv",
                                                     "to_reach.csv"]
    raw = (out / "results.csv").read_bytes()
    assert not raw.startswith(BOM)
    rows = _csv(out / "results.csv", ",")
    labels = {r["io_status"]: r["io_status_label"] for r in rows if r["io_status"]}
    assert labels["PROCESSED"] == "Delivered"
    assert {r["outcome_label"] for r in rows if r["outcome"] == "no_profile"} == {
        "The citizen does not have IO"}
    assert "Sent (accepted by IO)" in stdout
    page = (out / "report.html").read_text("utf-8")
    assert '<html lang="en">' in page and "To reach by other means" in page


def test_the_html_page_masks_every_fiscal_code_and_charts_the_run(sent: Sent) -> None:
    out = sent.folder / "html-check"
    code, _, stderr = _report(sent, str(sent.ledger), "--format", "html", "--out", str(out))
    assert code == ExitCode.OK, stderr
    page = (out / "report.html").read_text("utf-8")
    for _, fiscal_code, _, _ in sent.rows:
        assert fiscal_code not in page
    assert "<script" not in page.lower() and "http://" not in page and "https://" not in page
    assert page.count("<svg") == 2  # the outcomes and the one run's timeline
    assert 'id="outcomes-title"' in page and 'id="timeline-1-title"' in page
    assert "stroke-dasharray" in page  # the Pacer's target line
    states = _states(sent)
    to_reach = sum(states.get(s, 0) for s in ("ambiguous", "no_profile", "sender_not_allowed",
                                              "invalid")) + len(sent.withdrawn)
    assert f"Da raggiungere con altri mezzi ({to_reach})" in page
    assert "--resend-ambiguous" in page and "Reinviare è inutile" in page


def test_the_metrics_file_is_written_for_node_exporter(sent: Sent) -> None:
    target = sent.folder / "textfile" / "dispatcher.prom"
    code, _, stderr = _report(sent, str(sent.ledger), "--format", "json", "--out",
                              str(sent.folder / "metrics-json"), "--metrics-file",
                              str(target))
    assert code == ExitCode.OK, stderr
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o644
    assert [p.name for p in target.parent.iterdir()] == ["dispatcher.prom"]
    parsed = parse_exposition(target.read_text("utf-8"))
    states = _states(sent)
    for outcome in ("pending", "sending", "invalid", "duplicate", "no_profile",
                    "sender_not_allowed", "sent", "rejected", "failed", "ambiguous"):
        assert parsed.value("dispatcher_rows", outcome=outcome) == states.get(outcome, 0)
    assert parsed.value("dispatcher_io_messages", status="REJECTED") == len(sent.withdrawn)
    # ambiguous rows keep it open
    assert parsed.value("dispatcher_campaign_complete", campaign="tari") == 0
    assert parsed.value("dispatcher_last_run_exit_code") == ExitCode.INCOMPLETE


def test_no_key_or_fiscal_code_reaches_the_terminal(sent: Sent) -> None:
    code, stdout, stderr = _report(sent, str(sent.ledger), "--format", "json", "--out",
                                   str(sent.folder / "quiet"))
    assert code == ExitCode.OK
    for _, fiscal_code, _, _ in sent.rows:
        assert fiscal_code not in stdout + stderr
    assert DEFAULT_KEY not in stdout + stderr


# -- refusals ------------------------------------------------------------------------------


def test_a_missing_ledger_is_exit_2(tmp_path: Path) -> None:
    done = run_cli(["report", str(tmp_path / "none.sqlite")], _report_env())
    assert done.returncode == ExitCode.INVALID_INPUT
    assert "no such ledger" in done.stderr
    assert list(tmp_path.iterdir()) == []  # nothing created on the way


@pytest.mark.parametrize("content", [b"", b"codice_fiscale;nome\nX;Y\n"])
def test_a_file_that_is_not_sqlite_is_refused_and_left_alone(tmp_path: Path,
                                                            content: bytes) -> None:
    path = tmp_path / "ledger.sqlite"
    path.write_bytes(content)
    done = run_cli(["report", str(path)], _report_env())
    assert done.returncode == ExitCode.INVALID_INPUT
    assert "is not a dispatcher ledger" in done.stderr
    assert path.read_bytes() == content
    assert [p.name for p in tmp_path.iterdir()] == ["ledger.sqlite"]


def test_another_programs_sqlite_file_is_refused_and_left_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "anagrafe.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE people (fiscal_code TEXT, name TEXT)")
        db.execute("INSERT INTO people VALUES ('RSSMRA85T10A562S', 'Mario')")
    db.close()
    before = path.read_bytes()
    done = run_cli(["report", str(path)], _report_env())
    assert done.returncode == ExitCode.INVALID_INPUT
    assert "is not a dispatcher ledger" in done.stderr
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["anagrafe.sqlite"]


def test_a_wrong_input_file_is_refused_before_anything_is_written(sent: Sent) -> None:
    other = sent.folder / "other.csv"
    other.write_bytes(sent.campaign.read_bytes().replace(b"31/01/2027", b"28/02/2027", 1))
    out = sent.folder / "wrong-input"
    code, _, stderr = _report(sent, str(sent.ledger), "--input", str(other), "--out",
                              str(out))
    assert code == ExitCode.INVALID_INPUT
    assert "is not the file campaign 1 was sent from" in stderr
    assert not out.exists()
    code, _, stderr = _report(sent, str(sent.ledger), "--input",
                              str(sent.folder / "none.csv"), "--out", str(out))
    assert code == ExitCode.INVALID_INPUT and "no such file" in stderr


def test_the_right_input_file_from_elsewhere_is_accepted(sent: Sent) -> None:
    copy = sent.folder / "archive" / "copia.csv"
    copy.parent.mkdir(exist_ok=True)
    copy.write_bytes(sent.campaign.read_bytes())
    out = sent.folder / "right-input"
    code, _, stderr = _report(sent, str(sent.ledger), "--input", str(copy), "--format", "csv",
                              "--out", str(out))
    assert code == ExitCode.OK, stderr
    assert "codice_fiscale" in _csv(out / "results.csv")[0]


@pytest.mark.parametrize(("args", "message"), [
    (["--campaign", "99"], "no campaign 99"),
    (["--format", "csv,pdf"], "pdf"),
    (["--csv-dialect", "excel2"], "excel2"),
])
def test_bad_choices_are_exit_2(sent: Sent, args: list[str], message: str) -> None:
    out = sent.folder / "bad-choice"
    code, _, stderr = _report(sent, str(sent.ledger), *args, "--out", str(out))
    assert code == ExitCode.INVALID_INPUT, stderr
    assert message in stderr
    assert not out.exists()


def test_a_folder_that_cannot_be_written_is_exit_4(sent: Sent) -> None:
    blocker = sent.folder / "a-file"
    blocker.write_text("not a folder")
    code, _, stderr = _report(sent, str(sent.ledger), "--format", "json", "--out",
                              str(blocker / "reports"))
    assert code == ExitCode.CONFIG_ERROR
    assert "cannot write the reports" in stderr


def test_a_ledger_whose_input_is_gone_is_exported_with_its_fiscal_codes(tmp_path: Path) -> None:
    mixed = build_mixed_ledger(tmp_path / "tari.dispatcher" / "ledger.sqlite")
    mixed.input_file.unlink()
    before = ledger_dump(mixed.path)
    done = run_cli(["report", str(mixed.path), "--format", "csv"], _report_env())
    assert done.returncode == ExitCode.OK, done.stderr
    assert "not found" in done.stderr and "--input" in done.stderr
    rows = _csv(mixed.path.parent / "results.csv")
    assert list(rows[0])[:3] == ["Riga", "Codice fiscale", "Esito (codice)"]
    assert [r["Codice fiscale"] for r in rows] == [mixed.codes[r] for r in sorted(mixed.codes)]
    assert ledger_dump(mixed.path) == before


def _downgrade_to_schema_1(path: Path) -> None:
    """A ledger as dispatcher 0.x (schema 1) left it: no IO-status and test-send tables, no
    stored message bodies, no recording flag."""
    with sqlite3.connect(path) as db:
        for table in ("message_status", "status_checks", "status_runs", "test_sends"):
            db.execute(f"DROP TABLE {table}")
        db.execute("ALTER TABLE rows DROP COLUMN body")
        db.execute("ALTER TABLE campaigns DROP COLUMN recorded")
        db.execute("UPDATE meta SET value='1' WHERE key='schema_version'")
    db.close()


def test_a_report_does_not_upgrade_an_old_ledger(tmp_path: Path) -> None:
    mixed = build_mixed_ledger(tmp_path / "tari.dispatcher" / "ledger.sqlite")
    _downgrade_to_schema_1(mixed.path)
    before = ledger_dump(mixed.path)
    done = run_cli(["report", str(mixed.path), "--format", "json", "--json"], _report_env())
    assert done.returncode == 0, done.stderr
    assert ledger_dump(mixed.path) == before, "the ledger changed"
    summary = json.loads(done.stdout)  # an old ledger reads as "no status checked yet"
    assert summary["status_checks"]["passes"] == 0
    assert summary["io_status"]["NOT_CHECKED"] == summary["rows"]["by_outcome"]["sent"]
