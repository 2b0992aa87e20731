"""Premium (ADVANCED), remote content and attachments, end to end against the simulator.

(Over 400 lines: one scenario per IO refusal of Premium and remote content, kept side by side.)

Every test drives the real pipeline (campaign file + template → ``run_campaign`` or the CLI →
``Client`` → the simulator over loopback) and then reads what the ledger kept for each row:
the state, the HTTP status and the detail, which must carry IO's ProblemJson title and detail
(FACTS.md §2.4) and nothing secret. The simulator's inbox proves what IO stored: nothing for a
refused row, exactly one message for a sent one.

The simulated ente ``comune`` has three keys that differ only in their APIM groups, and a
remote-content configuration of its own; another ente, ``altro``, owns a second one.
"""

from __future__ import annotations

import csv
import json
import sqlite3
import stat
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from enginetools import (
    GENERATE,
    assert_no_duplicates_outside_ambiguous,
    cli_env,
    fast_config,
    ledger_states,
    run_cli,
)

from dispatcher.campaign import CampaignSource, load_campaign
from dispatcher.ioapi import Client
from dispatcher.ioapi.models import SubmitAnswer
from dispatcher.ledger import Ledger, LedgerRow
from dispatcher.message import OutgoingMessage
from dispatcher.operations.run import RunOptions, RunResult, run_campaign
from dispatcher.pacing import Pacer
from dispatcher.privacy import FISCAL_CODE_IN_TEXT
from dispatcher.settings import RateSpec, Secret, Settings
from dispatcher.simulator import (
    PopulationConfig,
    RunningSimulator,
    SimulatorConfig,
    apply_changes,
    running_simulator,
)
from dispatcher.vocabulary import ExitCode, RowState, SubmitKind

OUR_CONFIGURATION = "01HZZZZZZZZZZZZZZZZZZZC0MN"
"""A remote-content configuration owned by our ente (``comune``)."""
FOREIGN_CONFIGURATION = "01HZZZZZZZZZZZZZZZZZZZ0THR"
"""Owned by another ente (``altro``)."""
UNKNOWN_CONFIGURATION = "01HZZZZZZZZZZZZZZZZZZZN0NE"
"""A well-formed ULID that no ente owns."""

KEY_PLAIN = "plain-K3Y-must-never-reach-the-ledger-0001"
"""The groups a Backoffice account gets by default: no Premium, no third party."""
KEY_PREMIUM = "premium-K3Y-must-never-reach-the-ledger-0002"
"""Plus ``ApiMessageWriteAdvanced`` (and ``ApiMessageReadAdvanced``)."""
KEY_THIRD_PARTY = "thirdparty-K3Y-must-never-reach-the-ledger-0003"
"""Plus ``ApiThirdPartyMessageWrite``: remote content with STANDARD messages."""
KEY_OTHER_ENTE = "altro-K3Y-must-never-reach-the-ledger-0004"
ALL_KEYS = (KEY_PLAIN, KEY_PREMIUM, KEY_THIRD_PARTY, KEY_OTHER_ENTE)

# IO's answers (FACTS.md §2.4, C1), as the ledger keeps them: "title: detail".
NOT_ALLOWED = "You are not allowed here: You do not have enough permissions to send "
PREMIUM_REFUSED = NOT_ALLOWED + "a Premium message"
THIRD_PARTY_REFUSED = NOT_ALLOWED + "a third party message"
CONFIGURATION_NOT_FOUND = ("Remote Content Configuration NOT FOUND: Cannot find any Remote "
                           "Content Configuration with the given id")
NOT_YOUR_CONFIGURATION = ("Not your configuration: You're not the owner of the configuration "
                          "related to the given configuration_id")
ATTACHMENTS_REFUSED = ("Attachments call forbidden: You are not allowed to send messages with "
                       "attachmens with STANDARD messages, please use ADVANCED")
NO_CONFIGURATION = ("No configuration id for remote content: You did not send any "
                    "configuration id for your remote content in third_party_data")

SUBJECT = "Comune di Esempio: esito della sua pratica"
MARKDOWN = """
Gentile {nome},

il **Comune di Esempio** le comunica che la sua pratica è stata esaminata. Trova il
dettaglio in questo messaggio; per informazioni si rivolga all'Ufficio Tributi.
"""
RECEIPT_LOCAL = "2026-12-01T09:00:00+01:00"
RECEIPT_UTC = "2026-12-01T08:00:00.000Z"


# --- the simulated IO and the campaign files ----------------------------------------------


def _keys(*, plain_premium: bool = False, our_configurations: Sequence[str] = ()) -> list[dict]:
    """The key list as the control surface takes it (the same spelling builds the start)."""
    comune = {"ente": "comune", "service_id": "comune-service",
              "organization_fiscal_code": "00123450587"}
    return [
        {"key": KEY_PLAIN, **comune, "premium_write": plain_premium,
         "remote_configurations": [OUR_CONFIGURATION, *our_configurations]},
        {"key": KEY_PREMIUM, **comune, "premium_write": True, "premium_read": True},
        {"key": KEY_THIRD_PARTY, **comune, "third_party": True},
        {"key": KEY_OTHER_ENTE, "ente": "altro", "service_id": "altro-service",
         "third_party": True, "remote_configurations": [FOREIGN_CONFIGURATION]},
    ]


def _config() -> SimulatorConfig:
    """Fast, and everyone has IO and allows the service: only the send can refuse a row."""
    base = fast_config(population=PopulationConfig(seed=3, share_missing=0.0,
                                                   share_blocked=0.0))
    return apply_changes(base, {"keys": _keys()})


@pytest.fixture
def sim() -> Iterator[RunningSimulator]:
    with running_simulator(_config()) as running:
        yield running


def _codes(n: int, seed: int = 21) -> list[str]:
    """``n`` distinct valid fiscal codes (check character and all)."""
    return [r[0] for r in GENERATE.tari_rows(n, seed)]


def _write_campaign(
    directory: Path,
    codes: Sequence[str],
    columns: Mapping[str, Sequence[str]] | None = None,
    defaults: Mapping[str, str | bool] | None = None,
    name: str = "pratiche",
) -> tuple[Path, Path]:
    """A CSV (``codice_fiscale;nome;<columns>``) and its TOML template with ``[defaults]``."""
    columns = dict(columns or {})
    csv_path = directory / f"{name}.csv"
    with csv_path.open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out, delimiter=";")
        writer.writerow(["codice_fiscale", "nome", *columns])
        for i, code in enumerate(codes):
            writer.writerow([code, f"Persona {i + 1}", *(v[i] for v in columns.values())])
    lines = [f"subject = {json.dumps(SUBJECT)}", f'markdown = """{MARKDOWN}"""', "[defaults]"]
    lines += [f"{k} = {json.dumps(v)}" for k, v in (defaults or {}).items()]
    template = directory / f"{name}.toml"
    template.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return csv_path, template


def _run(sim: RunningSimulator, files: tuple[Path, Path], key: str, ledger: Path,
         **options: Any) -> RunResult:
    campaign = CampaignSource(files[0], files[1])
    settings = Settings(base_url=sim.base_url, api_key=Secret(key), rate=RateSpec.parse("400/s"),
                        concurrency=4, read_timeout=5.0)
    return run_campaign(campaign, settings=settings, ledger_path=ledger,
                        options=RunOptions(**options))


def _env(sim: RunningSimulator, key: str) -> dict[str, str]:
    """The CLI's environment: the simulator's URL and one of our keys."""
    return {**cli_env(sim), "IO_API_KEY": key}


def _submit(sim: RunningSimulator, key: str, payload: dict[str, Any]) -> SubmitAnswer:
    """One ``POST /messages`` through the dispatcher's own client (paced, classified)."""

    async def submit() -> SubmitAnswer:
        pacer = Pacer(RateSpec.parse("100/s"))
        async with Client(base_url=sim.base_url, api_key=key, pacer=pacer) as client:
            return await client.submit_message(
                OutgoingMessage.from_body(payload["fiscal_code"], payload))

    return anyio.run(submit, backend="asyncio")


# --- reading the ledger and IO's store ---------------------------------------------------


def _rows(ledger_path: Path) -> dict[int, LedgerRow]:
    """Rows of the newest campaign, by spreadsheet row number (header = 1)."""
    with Ledger.open(ledger_path) as ledger:
        latest = ledger.campaigns.latest()
        assert latest is not None
        return {r.row: r for r in ledger.rows.all(latest.campaign_id)}


def _history(ledger_path: Path, row: int) -> list[tuple[str, int | None, str | None]]:
    with Ledger.open(ledger_path) as ledger:
        latest = ledger.campaigns.latest()
        assert latest is not None
        return [(event.state, event.http_status, event.detail)
                for event in ledger.rows.history(latest.campaign_id, row)]


def _assert_rejected(row: LedgerRow, status: int, detail: str, attempts: int = 1) -> None:
    assert row.state is RowState.REJECTED, (row.row, row.state, row.detail)
    assert row.http_status == status, (row.row, row.http_status)
    assert row.detail == detail, (row.row, row.detail)
    assert row.message_id is None
    assert row.attempts == attempts  # one per run: a 4xx is never retried by itself


def _assert_sent(row: LedgerRow) -> None:
    assert row.state is RowState.SENT, (row.row, row.state, row.detail)
    assert row.http_status == 201 and row.message_id and row.detail is None


def _stored(sim: RunningSimulator, key: str, row: LedgerRow) -> dict[str, Any]:
    """What IO keeps for a sent row: ``GET /messages/{fiscal_code}/{id}`` with our key."""
    response = httpx.get(f"{sim.base_url}/messages/{row.fiscal_code}/{row.message_id}",
                         headers={"Ocp-Apim-Subscription-Key": key}, timeout=5)
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    assert body["status"] == "PROCESSED", body  # processing_delay_s=0: decided at once
    message: dict[str, Any] = body["message"]
    return message


def _results(ledger_path: Path) -> list[dict[str, str]]:
    """``results.csv``, which ``dispatcher run`` writes next to the ledger (as ``report`` does)."""
    text = (ledger_path.parent / "results.csv").read_text(encoding="utf-8")
    return list(csv.DictReader(text.splitlines()))  # --csv-dialect plain: codes, ","


def _assert_ledger_keeps_no_secret(ledger_path: Path) -> None:
    """No API key anywhere in the ledger, and no fiscal code in clear in any free text.

    Fiscal codes are kept in clear only where the ledger needs them (``rows.fiscal_code``,
    the recipient of a row); every ``detail`` is masked like the logs (``RSSMRA*******62S``).
    The file is private to its owner (0600).
    """
    assert stat.S_IMODE(ledger_path.stat().st_mode) == 0o600
    with sqlite3.connect(f"file:{ledger_path}?mode=ro", uri=True) as db:
        tables = [t for (t,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            for record in db.execute(f"SELECT * FROM {table}"):
                text = repr(record)
                for key in ALL_KEYS:
                    assert key not in text, (table, "API key in the ledger")
        for table in ("rows", "events"):
            for (detail,) in db.execute(f"SELECT detail FROM {table} WHERE detail IS NOT NULL"):
                assert not FISCAL_CODE_IN_TEXT.search(detail), (table, detail)


# --- 1. Premium ---------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["defaults", "column"])
def test_premium_needs_the_premium_group_and_its_refusal_reaches_the_ledger(
    tmp_path: Path, sim: RunningSimulator, where: str
) -> None:
    codes = _codes(4)
    if where == "defaults":  # the whole campaign is Premium
        files = _write_campaign(tmp_path, codes, defaults={"feature_level_type": "ADVANCED"})
        advanced = {2, 3, 4, 5}
    else:  # per row, through the Italian alias of the column; empty means STANDARD
        files = _write_campaign(
            tmp_path, codes, {"livello": ["ADVANCED", "advanced", "", "STANDARD"]})
        advanced = {2, 3}

    plain = tmp_path / "plain.sqlite"
    summary = _run(sim, files, KEY_PLAIN, plain)
    assert summary.exit_code is ExitCode.INCOMPLETE and summary.unfinished == 0
    rows = _rows(plain)
    assert sorted(rows) == [2, 3, 4, 5]
    for number, row in rows.items():
        if number in advanced:
            _assert_rejected(row, 403, PREMIUM_REFUSED)
            assert _history(plain, number)[-1] == ("rejected", 403, PREMIUM_REFUSED)
        else:
            _assert_sent(row)
    inbox = sim.inbox()
    assert set(inbox) == {rows[n].fiscal_code for n in rows if n not in advanced}
    assert all(m["feature_level_type"] == "STANDARD" for ms in inbox.values() for m in ms)
    assert sim.stats()["by_endpoint"]["messages"] == {
        "403": len(advanced), **({"201": 4 - len(advanced)} if len(advanced) < 4 else {})}
    _assert_ledger_keeps_no_secret(plain)

    sim.reset()  # same campaign, new ledger, the Premium key: everything goes
    premium = tmp_path / "premium.sqlite"
    assert _run(sim, files, KEY_PREMIUM, premium).exit_code is ExitCode.OK
    rows = _rows(premium)
    inbox = sim.inbox()
    for number, row in rows.items():
        _assert_sent(row)
        level = "ADVANCED" if number in advanced else "STANDARD"
        assert [(m["id"], m["feature_level_type"]) for m in inbox[row.fiscal_code]] == [
            (row.message_id, level)]
        assert _stored(sim, KEY_PREMIUM, row)["feature_level_type"] == level
    _assert_ledger_keeps_no_secret(premium)


# --- 2. remote content: whose configuration ----------------------------------------------


def _remote_columns(n: int, **extra: Sequence[str]) -> dict[str, Sequence[str]]:
    """Every remote-content field, per row, under the Italian header aliases."""
    return {
        "id_contenuto_remoto": [f"PRATICA-{i + 1}" for i in range(n)],
        "contenuto_remoto": ["sì"] * n,
        "precondizione": ["once"] * n,
        "sommario": ["Esito della pratica edilizia"] * n,
        "mittente_originale": ["Ufficio Tributi"] * n,
        "data_ricezione": [RECEIPT_LOCAL] * n,
        **extra,
    }


def _expected_third_party(index: int, configuration_id: str) -> dict[str, Any]:
    """``third_party_data`` as IO keeps it (its codec fills ``has_attachments: false``)."""
    return {
        "id": f"PRATICA-{index + 1}",
        "configuration_id": configuration_id,
        "has_remote_content": True,
        "has_attachments": False,
        "has_precondition": "ONCE",
        "summary": "Esito della pratica edilizia",
        "original_sender": "Ufficio Tributi",
        "original_receipt_date": RECEIPT_UTC,
    }


def test_each_row_gets_the_verdict_of_its_own_configuration_id(
    tmp_path: Path, sim: RunningSimulator
) -> None:
    codes = _codes(4)
    configurations = [OUR_CONFIGURATION, UNKNOWN_CONFIGURATION, FOREIGN_CONFIGURATION,
                      OUR_CONFIGURATION]
    files = _write_campaign(
        tmp_path, codes, _remote_columns(4, id_configurazione=configurations))
    ledger = tmp_path / "ledger.sqlite"
    summary = _run(sim, files, KEY_THIRD_PARTY, ledger)
    assert summary.exit_code is ExitCode.INCOMPLETE
    rows = _rows(ledger)
    _assert_rejected(rows[3], 404, CONFIGURATION_NOT_FOUND)
    _assert_rejected(rows[4], 403, NOT_YOUR_CONFIGURATION)
    inbox = sim.inbox()
    assert set(inbox) == {rows[2].fiscal_code, rows[5].fiscal_code}  # nothing for 3 and 4
    for number in (2, 5):
        _assert_sent(rows[number])
        assert len(inbox[rows[number].fiscal_code]) == 1
        message = _stored(sim, KEY_THIRD_PARTY, rows[number])
        assert message["feature_level_type"] == "STANDARD"
        assert message["content"]["third_party_data"] == _expected_third_party(
            number - 2, OUR_CONFIGURATION)
    _assert_ledger_keeps_no_secret(ledger)


@pytest.mark.parametrize(
    ("configuration_id", "status", "detail"),
    [(UNKNOWN_CONFIGURATION, 404, CONFIGURATION_NOT_FOUND),
     (FOREIGN_CONFIGURATION, 403, NOT_YOUR_CONFIGURATION),
     (OUR_CONFIGURATION, 201, None)],
    ids=["unknown", "foreign", "ours"],
)
def test_campaign_wide_remote_content_and_premium_from_the_template_defaults(
    tmp_path: Path, sim: RunningSimulator, configuration_id: str, status: int,
    detail: str | None,
) -> None:
    """Only the id varies per row; the rest, Premium included, is set once for the campaign."""
    codes = _codes(3)
    files = _write_campaign(
        tmp_path, codes, {"id_contenuto_remoto": [f"PRATICA-{i + 1}" for i in range(3)]},
        defaults={"configuration_id": configuration_id, "has_remote_content": True,
                  "has_precondition": "once", "summary": "Esito della pratica edilizia",
                  "original_sender": "Ufficio Tributi", "original_receipt_date": RECEIPT_LOCAL,
                  "feature_level_type": "ADVANCED"})
    ledger = tmp_path / "ledger.sqlite"
    summary = _run(sim, files, KEY_PREMIUM, ledger)
    assert summary.unfinished == 0
    rows = _rows(ledger)
    if detail is not None:
        assert summary.counts[RowState.REJECTED] == 3
        for row in rows.values():
            _assert_rejected(row, status, detail)
        assert sim.inbox() == {}
        assert sim.stats()["messages_stored"] == 0
    else:
        assert summary.counts[RowState.SENT] == 3
        for number, row in rows.items():
            _assert_sent(row)
            message = _stored(sim, KEY_PREMIUM, row)
            assert message["feature_level_type"] == "ADVANCED"
            assert message["content"]["third_party_data"] == _expected_third_party(
                number - 2, OUR_CONFIGURATION)
    _assert_ledger_keeps_no_secret(ledger)


# --- 3. third-party data: STANDARD needs its own group, ADVANCED does not ---------------


def test_third_party_data_needs_the_third_party_group_unless_the_message_is_premium(
    tmp_path: Path, sim: RunningSimulator
) -> None:
    codes = _codes(4)
    files = _write_campaign(
        tmp_path, codes, _remote_columns(4, livello=["", "STANDARD", "ADVANCED", "ADVANCED"]),
        defaults={"configuration_id": OUR_CONFIGURATION})
    ledger = tmp_path / "ledger.sqlite"
    _run(sim, files, KEY_PREMIUM, ledger)  # Premium, but no ApiThirdPartyMessageWrite
    rows = _rows(ledger)
    for number in (2, 3):
        _assert_rejected(rows[number], 403, THIRD_PARTY_REFUSED)
    inbox = sim.inbox()
    assert set(inbox) == {rows[4].fiscal_code, rows[5].fiscal_code}
    for number in (4, 5):
        _assert_sent(rows[number])
        message = _stored(sim, KEY_PREMIUM, rows[number])
        assert message["feature_level_type"] == "ADVANCED"
        assert message["content"]["third_party_data"] == _expected_third_party(
            number - 2, OUR_CONFIGURATION)
    _assert_ledger_keeps_no_secret(ledger)

    # A key with neither group: the Premium check comes first (IO's middleware order).
    sim.reset()
    plain = tmp_path / "plain.sqlite"
    _run(sim, files, KEY_PLAIN, plain)
    rows = _rows(plain)
    for number, detail in ((2, THIRD_PARTY_REFUSED), (3, THIRD_PARTY_REFUSED),
                           (4, PREMIUM_REFUSED), (5, PREMIUM_REFUSED)):
        _assert_rejected(rows[number], 403, detail)
    assert sim.inbox() == {}


# --- 4. attachments need ADVANCED: validation first, and IO's own refusal ---------------


def _attachment_campaign(directory: Path, codes: Sequence[str]) -> tuple[Path, Path]:
    return _write_campaign(
        directory, codes,
        {"id_contenuto_remoto": ["ALLEGATO-1", "ALLEGATO-2", "ALLEGATO-3"],
         "allegati": ["sì", "sì", "no"], "livello": ["", "ADVANCED", "ADVANCED"]},
        defaults={"configuration_id": OUR_CONFIGURATION})


def test_attachments_with_standard_are_caught_before_anything_is_sent(
    tmp_path: Path, sim: RunningSimulator
) -> None:
    codes = _codes(3)
    files = _attachment_campaign(tmp_path, codes)
    env = _env(sim, KEY_PREMIUM)
    base = [str(files[0]), "--template", str(files[1])]

    checked = run_cli(["validate", *base, "--json"], env)
    assert checked.returncode == ExitCode.INVALID_INPUT, checked.stderr
    summary = json.loads(checked.stdout)
    assert summary["invalid_by_reason"] == {"attachments_need_advanced": 1}
    errors = [p for p in summary["problems"] if p["severity"] == "error"]
    assert errors == [{
        "row": 2, "column": "allegati", "column_title": "allegati (has_attachments)",
        "code": "attachments_need_advanced", "severity": "error",
        "message": "attachments need feature_level_type ADVANCED (Premium)",
    }]

    refused = run_cli(["run", *base, "--rate", "400/s"], env)
    assert refused.returncode == ExitCode.INVALID_INPUT
    assert "nothing was sent" in refused.stderr
    # the same list `run` shows
    assert ("row 2, column allegati (has_attachments): attachments need feature_level_type "
            "ADVANCED (Premium) [attachments_need_advanced]") in refused.stdout
    assert "row 3" not in refused.stdout and "row 4" not in refused.stdout
    assert sim.stats()["requests_total"] == 0
    assert not files[0].with_name("pratiche.dispatcher").exists()  # not even a ledger

    # With --skip-invalid the row stays in the ledger as invalid, with the same words.
    ledger = tmp_path / "ledger.sqlite"
    _run(sim, files, KEY_PREMIUM, ledger, skip_invalid=True)
    rows = _rows(ledger)
    assert rows[2].state is RowState.INVALID and rows[2].http_status is None
    assert rows[2].detail == "allegati: attachments need feature_level_type ADVANCED (Premium)"
    assert codes[0] not in sim.inbox()
    _assert_sent(rows[3])
    attached = _stored(sim, KEY_PREMIUM, rows[3])["content"]["third_party_data"]
    assert attached["has_attachments"] is True and attached["id"] == "ALLEGATO-2"
    _assert_sent(rows[4])
    _assert_ledger_keeps_no_secret(ledger)


@pytest.mark.parametrize(
    ("change", "in_the_file", "problem", "detail"),
    [("standard_with_attachments",
      {"id_contenuto_remoto": ["X-1"], "allegati": ["sì"], "id_configurazione": [
          OUR_CONFIGURATION]},
      "attachments_need_advanced", ATTACHMENTS_REFUSED),
     ("no_configuration_id", {"id_contenuto_remoto": ["X-1"]},
      "configuration_id_missing", NO_CONFIGURATION)],
    ids=["standard_with_attachments", "no_configuration_id"],
)
def test_what_validation_blocks_io_refuses_too(
    tmp_path: Path, sim: RunningSimulator, change: str, in_the_file: dict[str, list[str]],
    problem: str, detail: str,
) -> None:
    """The two remote-content rules a campaign cannot break, forced through the client.

    Written in a file, the breakage is an invalid row. The body IO gets is the one the
    campaign renders for a valid row, then broken the same way; the key has the third-party
    group, so only the rule itself can refuse it.
    """
    codes = _codes(3)
    broken = _write_campaign(tmp_path, codes[:1], in_the_file, name="broken")
    (row,) = load_campaign(broken[0], template=broken[1]).rows()
    assert row.message is None and [p.code for p in row.problems if p.is_error] == [problem]

    csv_path, template = _attachment_campaign(tmp_path, codes)
    rows = {r.row: r for r in load_campaign(csv_path, template=template).rows()}
    # Row 3 is ADVANCED with attachments, row 4 ADVANCED without: both valid.
    valid = rows[3] if change == "standard_with_attachments" else rows[4]
    assert valid.message is not None
    payload = valid.message.body()
    del payload["feature_level_type"]  # now STANDARD: the key's third-party group lets it in
    if change == "no_configuration_id":
        del payload["content"]["third_party_data"]["configuration_id"]

    answer = _submit(sim, KEY_THIRD_PARTY, payload)
    assert answer.kind is SubmitKind.REJECTED
    assert (answer.http_status, answer.detail, answer.message_id) == (403, detail, None)
    assert answer.attempts == 1
    assert sim.inbox() == {}


def test_an_io_detail_quoting_a_fiscal_code_or_the_key_is_masked_before_the_ledger(
    tmp_path: Path, sim: RunningSimulator
) -> None:
    """The remote-content refusals above quote nothing personal; IO's 400 quotes values.

    A body no valid campaign row can produce (validation checks ``has_precondition``) puts a
    fiscal code and the key into a value IO echoes; the answer's ``detail``, which is what the
    pipeline records in the ledger, has the code masked and the key removed.
    """
    code = _codes(1)[0]
    csv_path, template = _write_campaign(tmp_path, [code], _remote_columns(1),
                                         defaults={"configuration_id": OUR_CONFIGURATION})
    (row,) = load_campaign(csv_path, template=template).rows()
    assert row.message is not None
    payload = row.message.body()
    payload["content"]["third_party_data"]["has_precondition"] = f"{code} {KEY_THIRD_PARTY}"
    answer = _submit(sim, KEY_THIRD_PARTY, payload)
    assert answer.kind is SubmitKind.REJECTED and answer.http_status == 400
    assert answer.detail is not None
    assert answer.detail.startswith("Invalid message structure: value [")
    assert "root.content.third_party_data.has_precondition" in answer.detail
    assert code not in answer.detail and KEY_THIRD_PARTY not in answer.detail
    assert f"{code[:6]}*******{code[-3:]} [REDACTED]" in answer.detail
    assert sim.inbox() == {}


# --- 5. fix the cause, then --retry-failed: sent exactly once ----------------------------


def test_rejected_premium_rows_are_sent_once_after_the_key_gains_premium(
    tmp_path: Path, sim: RunningSimulator
) -> None:
    codes = _codes(3)
    files = _write_campaign(tmp_path, codes, defaults={"feature_level_type": "ADVANCED"})
    env = _env(sim, KEY_PLAIN)
    base = ["run", str(files[0]), "--template", str(files[1]), "--rate", "400/s",
            "--csv-dialect", "plain"]
    ledger = files[0].with_name("pratiche.dispatcher") / "ledger.sqlite"

    first = run_cli(base, env)
    assert first.returncode == ExitCode.INCOMPLETE, first.stdout + first.stderr
    assert ledger_states(ledger) == {"rejected": 3}
    assert all(r.detail == PREMIUM_REFUSED for r in _rows(ledger).values())
    assert sim.inbox() == {}
    assert {(r["outcome"], r["http_status"], r["error_detail"])
            for r in _results(ledger)} == {("rejected", "403", PREMIUM_REFUSED)}

    sim.configure(keys=_keys(plain_premium=True))  # the ente signs the Premium agreement
    requests = sim.stats()["requests_total"]
    again = _run(sim, files, KEY_PLAIN, ledger)  # without the flag decided rows stay decided
    assert again.exit_code is ExitCode.INCOMPLETE and again.resumed and again.requests == 0
    assert sim.stats()["requests_total"] == requests + 1  # the pre-flight's probe alone
    assert ledger_states(ledger) == {"rejected": 3}

    retried = run_cli([*base, "--retry-failed"], env)
    assert retried.returncode == ExitCode.OK, retried.stdout + retried.stderr
    assert ledger_states(ledger) == {"sent": 3}
    inbox = sim.inbox()
    assert set(inbox) == set(codes)
    assert_no_duplicates_outside_ambiguous(ledger, inbox)
    assert all(m["feature_level_type"] == "ADVANCED" for ms in inbox.values() for m in ms)
    history = _history(ledger, 2)  # the refusal stays on record, then the retry
    assert [(state, status) for state, status, _ in history] == [
        ("pending", None), ("sending", None), ("rejected", 403),
        ("pending", None), ("sending", None), ("sent", 201)]
    assert history[2][2] == PREMIUM_REFUSED
    assert history[3][2] == "requeued by --retry-failed"
    assert history[5][2] == f"message id {_rows(ledger)[2].message_id}"

    twice = run_cli([*base, "--retry-failed"], env)  # nothing left to retry: no resend
    assert twice.returncode == ExitCode.OK
    assert sim.inbox() == inbox
    results = _results(ledger)
    assert {(r["outcome"], r["http_status"], r["error_detail"]) for r in results} == {
        ("sent", "201", "")}
    assert KEY_PLAIN not in json.dumps(results)
    _assert_ledger_keeps_no_secret(ledger)


def test_rows_refused_for_an_unknown_configuration_go_once_it_is_registered(
    tmp_path: Path, sim: RunningSimulator
) -> None:
    new_configuration = "01HZZZZZZZZZZZZZZZZZZZNEW0"
    codes = _codes(3)
    files = _write_campaign(tmp_path, codes, _remote_columns(3),
                            defaults={"configuration_id": new_configuration})
    ledger = tmp_path / "ledger.sqlite"
    _run(sim, files, KEY_PLAIN, ledger)  # STANDARD: the plain key lacks the group, and...
    assert {r.detail for r in _rows(ledger).values()} == {THIRD_PARTY_REFUSED}
    sim.configure(keys=[{**k, "third_party": True} if k["key"] == KEY_PLAIN else k
                        for k in _keys()])
    _run(sim, files, KEY_PLAIN, ledger, retry_failed=True)  # ...then the configuration
    for row in _rows(ledger).values():
        _assert_rejected(row, 404, CONFIGURATION_NOT_FOUND, attempts=2)
    assert sim.inbox() == {}

    sim.configure(keys=[{**k, "third_party": True} if k["key"] == KEY_PLAIN else k
                        for k in _keys(our_configurations=[new_configuration])])
    summary = _run(sim, files, KEY_PLAIN, ledger, retry_failed=True)
    assert summary.exit_code is ExitCode.OK
    rows = _rows(ledger)
    inbox = sim.inbox()
    assert_no_duplicates_outside_ambiguous(ledger, inbox)
    for number, row in rows.items():
        _assert_sent(row)
        assert len(inbox[row.fiscal_code]) == 1
        assert _stored(sim, KEY_PLAIN, row)["content"]["third_party_data"] == (
            _expected_third_party(number - 2, new_configuration))
    assert _run(sim, files, KEY_PLAIN, ledger, retry_failed=True).requests == 0
    assert sim.inbox() == inbox
    _assert_ledger_keeps_no_secret(ledger)
