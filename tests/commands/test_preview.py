"""``dispatcher preview``: chosen rows as the IO app shows them, in the terminal, as a page and
as JSON; invalid rows show their problems; bad row specs end in a clear exit 2."""

from __future__ import annotations

import json
import re
import shlex
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from dispatcher.cli import app
from dispatcher.vocabulary import ExitCode

runner = CliRunner()

CF1 = "DNGNCL87P28L736E"
CF2 = "CNTLCU87R57L219G"
NOTICE = "301234567890123416"  # check digits right
CONFIG = "01ARZ3NDEKTSV4RRFFQ69G5FAV"
INJECTED = "<b>urgente</b> <script>alert(1)</script>"

TEMPLATE = '''subject = "Avviso TARI 2027: il suo pagamento"
markdown = """
---
it:
  cta_1:
    text: "Paga ora"
    action: "ioit://PAYMENTS_HOME"
  cta_2:
    text: "Sito del Comune"
    action: "iohandledlink://https://www.comune.esempio.it/tari"
en:
  cta_1:
    text: "Pay now"
    action: "ioit://PAYMENTS_HOME"
---
# Avviso di pagamento

Gentile **{nome}**, le ricordiamo la scadenza della *tassa sui rifiuti*.
Nota dell'ufficio: {nota}

- Importo: {importo|euro}
- Scadenza: {scadenza|data}

[Informazioni](https://www.comune.esempio.it/tari)
"""
[defaults]
payee_fiscal_code = "00123450587"
'''

HEADER = ("codice_fiscale;nome;nota;importo;codice_avviso;scadenza;third_party_id;"
          "configuration_id;has_remote_content;has_precondition;has_attachments;livello")
ROWS = [
    f"{CF1};Nicola;{INJECTED};49580;{NOTICE};30/06/2027;;;;;;",  # 2: valid, HTML in a cell
    f"TOTALE;Totale;nessuna;999;{NOTICE};30/06/2027;;;;;;",  # 3: no person
    f"{CF2};Lucia;nessuna;123456;{NOTICE};2027-06-30T12:00:00+02:00;PRATICA-0002;{CONFIG};"
    "true;ALWAYS;true;ADVANCED",  # 4: remote content, Premium, noon
    f"{CF1};Nicola;ancora;49580;{NOTICE};30/06/2027;;;;;;",  # 5: duplicate of 2
]


@pytest.fixture
def campaign(tmp_path: Path) -> tuple[Path, Path]:
    csv = tmp_path / "tari.csv"
    csv.write_text("\n".join([HEADER, *ROWS]) + "\n", encoding="utf-8")
    template = tmp_path / "tari.toml"
    template.write_text(TEMPLATE, encoding="utf-8")
    return csv, template


def preview(campaign: tuple[Path, Path], *args: str):
    csv, template = campaign
    return runner.invoke(app, ["preview", str(csv), "-t", str(template), *args])


def document(result) -> dict:
    return json.loads(result.stdout)


def flat(text: str) -> str:
    """The words of the panels, without their borders and the wrapping inside them."""
    return " ".join(re.sub(r"[│╭╮╰╯─]", " ", text).split())


def test_the_chosen_rows_are_shown_in_the_order_asked(campaign) -> None:
    result = preview(campaign, "--rows", "4,2", "--lang", "en")
    assert result.exit_code == ExitCode.OK, result.output
    text = flat(result.stdout)
    assert text.index("Row 4") < text.index("Row 2")
    assert "Row 3" not in text and "Row 5" not in text
    assert CF1 not in text and CF2 not in text  # recipients masked
    assert "DNGNCL*******36E" in text


def test_by_default_the_first_valid_rows(campaign) -> None:
    data = document(preview(campaign, "--json"))
    assert [card["row"] for card in data["cards"]] == [2, 4]  # 3 invalid, 5 duplicate
    assert data["exit_code"] == 0


def test_invalid_rows_show_their_problems_and_exit_2(campaign) -> None:
    result = preview(campaign, "--rows", "3,5", "--lang", "en")
    assert result.exit_code == ExitCode.INVALID_INPUT
    text = flat(result.stdout)
    assert "Not sent: this row has problems to fix." in text
    assert "'TOTALE' (6 characters) is not a fiscal code" in text  # as typed, not masked
    assert "fiscal_code_format" in text
    assert "Not sent: the same person as row 2" in text
    assert "Avviso di pagamento" not in text  # no message for rows that are not sent
    assert "every problem: dispatcher validate" in flat(result.stderr)


def test_the_suggested_validate_command_runs_as_printed(campaign) -> None:
    result = preview(campaign, "--rows", "2", "--lang", "en")
    hint = " ".join(result.stderr.split("every problem: ", 1)[1].split())
    words = shlex.split(hint)
    assert words[:2] == ["dispatcher", "validate"] and "-t" in words
    validated = runner.invoke(app, words[1:])
    assert validated.exit_code == ExitCode.INVALID_INPUT  # the file's row 3: it ran, and judged
    assert "TOTALE" in validated.output


def test_markdown_is_rendered_and_raw_html_in_a_cell_stays_text(campaign) -> None:
    data = document(preview(campaign, "--rows", "2", "--json"))
    body = data["cards"][0]["body_html"]
    assert "<h1>Avviso di pagamento</h1>" in body
    assert "<strong>Nicola</strong>" in body and "<em>tassa sui rifiuti</em>" in body
    assert "<li>Importo: " in body and "495,80" in body  # a list, the helper's amount
    assert '<a href="https://www.comune.esempio.it/tari"' in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body and "<script>" not in body
    assert "<b>" not in body
    assert "---" not in data["cards"][0]["markdown"]  # the buttons' block is not text


def test_the_page_escapes_every_cell_and_is_private(campaign, tmp_path: Path) -> None:
    out = tmp_path / "out" / "preview.html"
    result = preview(campaign, "--rows", "2-5", "--html", str(out), "--lang", "en")
    assert result.exit_code == ExitCode.INVALID_INPUT  # row 3 is shown
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    page = out.read_text(encoding="utf-8")
    assert "<script" not in page and "<img" not in page and "<link" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "Content-Security-Policy" in page and "default-src 'none'" in page
    assert "src=" not in page and "url(" not in page and "@import" not in page
    for number in (2, 3, 4, 5):
        assert f'id="row-{number}"' in page
    assert CF1 not in page and CF2 not in page
    assert f"Preview page written to {out}" in flat(result.stderr)


def test_cta_buttons_come_from_the_block_of_the_chosen_language(campaign) -> None:
    italian = document(preview(campaign, "--rows", "2", "--json", "--lang", "it"))
    english = document(preview(campaign, "--rows", "2", "--json", "--lang", "en"))
    assert italian["cards"][0]["buttons"] == [
        {"text": "Paga ora", "action": "ioit://PAYMENTS_HOME"},
        {"text": "Sito del Comune",
         "action": "iohandledlink://https://www.comune.esempio.it/tari"}]
    assert english["cards"][0]["buttons"] == [
        {"text": "Pay now", "action": "ioit://PAYMENTS_HOME"}]
    shown = flat(preview(campaign, "--rows", "2", "--lang", "it").stdout)
    assert "[ Paga ora ]" in shown and "[ Sito del Comune ]" in shown


def test_the_payment_box_in_italian_formats(campaign) -> None:
    data = document(preview(campaign, "--rows", "2,4", "--json", "--lang", "it"))
    first, remote = (card["payment"] for card in data["cards"])
    assert first == {"amount_cents": 49580, "amount": "495,80\xa0€",
                     "notice_number": NOTICE, "payee": "00123450587",
                     "due_date": "30/06/2027", "invalid_after_due_date": False}
    assert remote["amount"] == "1.234,56\xa0€"
    assert remote["due_date"] == "30/06/2027 12:00"  # noon in Rome, not the day's end
    text = flat(preview(campaign, "--rows", "4", "--lang", "it").stdout)
    for label in ("Avviso pagoPA", "Importo", "Codice avviso", "Scadenza", "Ente creditore",
                  "1.234,56", "30/06/2027 12:00"):
        assert label in text, label


def test_remote_content_and_premium_are_marked(campaign) -> None:
    data = document(preview(campaign, "--rows", "4", "--json"))
    card = data["cards"][0]
    assert card["premium"] is True
    assert card["remote"]["third_party_id"] == "PRATICA-0002"
    assert card["remote"]["has_remote_content"] is True
    assert card["remote"]["has_attachments"] is True
    assert card["remote"]["precondition"] == "ALWAYS"
    text = flat(preview(campaign, "--rows", "4", "--lang", "en").stdout)
    assert "Premium · Remote content" in text
    assert "The text is fetched from the ente's server when the citizen opens" in text
    assert "Precondition: shown every time the message is opened" in text
    plain = document(preview(campaign, "--rows", "2", "--json"))["cards"][0]
    assert plain["premium"] is False and plain["remote"] is None


def test_english_and_italian_say_the_same_in_their_own_words(campaign) -> None:
    english = flat(preview(campaign, "--rows", "3,4", "--lang", "en").stdout)
    italian = flat(preview(campaign, "--rows", "3,4", "--lang", "it").stdout)
    assert "Row 4" in english and "Amount" in english and "€1,234.56" in english
    assert "Riga 4" in italian and "Importo" in italian and "1.234,56 €" in italian
    for word in ("Row ", "Amount", "Notice number", "Payee", "Not sent", "Remote content",
                 "Precondition", "error:", " rows; valid"):
        assert word not in italian, word


def test_json_is_one_document_with_the_exit_code(campaign) -> None:
    result = preview(campaign, "--rows", "2,3", "--json")
    data = document(result)  # the whole stdout parses
    assert data["exit_code"] == result.exit_code == ExitCode.INVALID_INPUT
    assert [card["state"] for card in data["cards"]] == ["valid", "invalid"]
    assert data["rows"] == 4 and data["valid"] == 2 and data["invalid"] == 1
    invalid = data["cards"][1]
    assert invalid["subject"] is None
    assert invalid["problems"][0]["code"] == "fiscal_code_format"
    assert invalid["problems"][0]["column"] == "codice_fiscale (fiscal_code)"


@pytest.mark.parametrize(("spec", "says"), [
    ("2,x", "'x' is not a row number or a range"),
    ("5-3", "the range goes backwards"),
    ("1", "no data row 1"),
    ("2,40", "no data row 40"),
])
def test_a_bad_row_spec_is_a_clear_error(campaign, spec: str, says: str) -> None:
    result = preview(campaign, "--rows", spec)
    assert result.exit_code == ExitCode.INVALID_INPUT
    assert says in flat(result.stderr) and "--rows" in result.stderr
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    as_json = preview(campaign, "--rows", spec, "--json")
    error = json.loads(as_json.stdout)
    assert error["exit_code"] == 2 and says in error["error"]


def test_a_file_that_is_no_campaign_is_a_clear_error(tmp_path: Path) -> None:
    broken = tmp_path / "notes.csv"
    broken.write_text("nome;cognome\nMario;Rossi\n", encoding="utf-8")
    result = runner.invoke(app, ["preview", str(broken), "--json"])
    assert result.exit_code == ExitCode.INVALID_INPUT
    error = json.loads(result.stdout)
    assert "no fiscal code column" in error["error"] and str(broken) in error["error"]


def test_a_bad_language_is_refused(campaign) -> None:
    result = preview(campaign, "--lang", "fr")
    assert result.exit_code == ExitCode.INVALID_INPUT
    assert "--lang must be it or en" in flat(result.stderr)


def test_the_sender_heads_the_message(campaign) -> None:
    result = preview(campaign, "--rows", "2", "--sender", "Comune di Esempio · Tributi",
                     "--lang", "en")
    assert "Comune di Esempio · Tributi" in flat(result.stdout)


REMOTE_HEADER = ("codice_fiscale;oggetto;testo;third_party_id;configuration_id;"
                 "has_remote_content;has_precondition;require_secure_channels;oggetto_remoto;"
                 "testo_remoto;titolo_precondizione;testo_precondizione")
REMOTE_ROW = (f"{CF2};Esito della sua pratica edilizia;Gentile cittadina, è disponibile l'esito "
              "della sua pratica. Lo trova aprendo questo messaggio in app IO.;PRATICA-0002;"
              f"{CONFIG};true;ALWAYS;true;Esito pratica 2027/45: approvata;La pratica edilizia "
              "numero 2027/45 presentata il 3 marzo è stata approvata. Può ritirare il permesso "
              "presso lo sportello.;Dati riservati;Il messaggio contiene dati personali: lo apra "
              "solo se è la persona destinataria.")


def test_a_remote_content_campaign_shows_the_remote_subject_and_precondition(
        tmp_path: Path) -> None:
    csv = tmp_path / "pratiche.csv"
    csv.write_text(f"{REMOTE_HEADER}\n{REMOTE_ROW}\n", encoding="utf-8")
    result = runner.invoke(app, ["preview", str(csv), "--lang", "en", "--json"])
    assert result.exit_code == ExitCode.OK, result.output
    card = json.loads(result.stdout)["cards"][0]
    assert card["secure_channels"] is True
    assert card["remote"]["remote_subject"] == "Esito pratica 2027/45: approvata"
    assert card["remote"]["precondition_title"] == "Dati riservati"
    shown = flat(runner.invoke(app, ["preview", str(csv), "--lang", "en"]).stdout)
    assert "Remote subject: Esito pratica 2027/45: approvata" in shown
    assert "Precondition title: Dati riservati" in shown
    assert "Remote content · No e-mail forward" in shown
