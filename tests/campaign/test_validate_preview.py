"""``dispatcher validate``: previews of any row, how the file was read, problems of the whole
file said once, and the file's own column names, in text, JSON and the problems CSV."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from campaign_helpers import CF1, CF2, CF3, MARKDOWN, SUBJECT, row, rows_csv
from typer.testing import CliRunner

from dispatcher.cli import app
from dispatcher.commands.validate import parse_rows
from dispatcher.vocabulary import ExitCode

NOTICE = "301234567890123416"  # check digits right
CONFIG = "01ARZ3NDEKTSV4RRFFQ69G5FAV"
runner = CliRunner()

PAYMENTS = rows_csv(
    row(CF1, SUBJECT, MARKDOWN, "1250", NOTICE, "2027-01-31", "PRATICA-1", CONFIG),  # 2
    row("TOTALE", SUBJECT, MARKDOWN, "999", NOTICE, "2027-01-31", "", ""),  # 3: no person
    row(CF2, SUBJECT, MARKDOWN, "4000", NOTICE, "2027-02-28", "PRATICA-2", CONFIG),  # 4
    row(CF1, SUBJECT, MARKDOWN, "1250", NOTICE, "2027-01-31", "PRATICA-1", CONFIG),  # 5
    header="codice_fiscale,oggetto,testo,importo,codice_avviso,scadenza,third_party_id,"
           "configuration_id",
)


def invoke(*args: str):
    return runner.invoke(app, ["validate", *args])


@pytest.fixture
def payments(write) -> Path:
    return write(PAYMENTS)


def test_preview_shows_each_asked_row_rendered_or_with_its_problems(payments: Path) -> None:
    result = invoke(str(payments), "--preview", "4,3,5")
    assert result.exit_code == ExitCode.INVALID_INPUT, result.output  # row 3 is invalid
    text = result.output
    assert "Preview of row 4:" in text and "€40.00 · notice 301234567890123416" in text
    assert '"id": "PRATICA-2"' in text and "28/02/2027" in text
    assert "Row 3 (invalid): not sent" in text
    assert "'TOTALE' (6 characters) is not a fiscal code" in text  # shown, not masked
    assert "Row 5 (duplicate): not sent" in text and "same fiscal code as row 2" in text
    assert text.index("Preview of row 4") < text.index("Row 3 (invalid)") < text.index(
        "Row 5 (duplicate)")
    assert "Preview of row 2" not in text  # only what was asked for
    assert CF1 not in text and CF2 not in text


def test_preview_takes_ranges(payments: Path) -> None:
    result = invoke(str(payments), "--preview", "2-4")
    assert "Preview of row 2:" in result.output and "Preview of row 4:" in result.output
    assert "Row 3 (invalid)" in result.output


@pytest.mark.parametrize(("spec", "says"), [
    ("99", "no data row 99 (data rows are numbered 2 to 5; row 1 is the header)"),
    ("1,2", "no data row 1"),
    ("2,x", "'x' is not a row number or a range"),
    ("5-3", "the range goes backwards"),
    ("2-500", "at most 100 rows"),
])
def test_unknown_or_malformed_rows_are_a_clear_error(payments: Path, spec: str,
                                                     says: str) -> None:
    result = invoke(str(payments), "--preview", spec)
    assert result.exit_code == ExitCode.INVALID_INPUT
    assert says in result.output and "--preview" in result.output
    assert "Traceback" not in result.output and "rows " not in result.stdout


def test_parse_rows_keeps_the_order_asked_and_each_row_once() -> None:
    assert parse_rows("15, 2,3-5 ,2") == [15, 2, 3, 4, 5]


def test_without_the_flag_the_first_valid_row_is_previewed(payments: Path) -> None:
    result = invoke(str(payments))
    assert "Preview of row 2 (the first valid row):" in result.output
    assert "Row 3" not in result.output


def test_json_previews_carry_the_rows_masked(payments: Path) -> None:
    result = invoke(str(payments), "--json", "--preview", "2,3")
    summary = json.loads(result.stdout)
    first, second = summary["previews"]
    assert (first["row"], first["state"], second["state"]) == (2, "valid", "invalid")
    assert first["message"]["fiscal_code"] == "DNGNCL*******36E"
    assert first["message"]["content"]["third_party_data"]["id"] == "PRATICA-1"
    assert second["message"] is None
    assert second["problems"][0]["code"] == "fiscal_code_format"
    assert second["problems"][0]["column_title"] == "codice_fiscale (fiscal_code)"
    assert CF1 not in result.stdout


def test_the_encoding_and_delimiter_are_part_of_the_summary(write) -> None:
    text = rows_csv(row(CF1, "Avviso: la città di Forlì", MARKDOWN),
                    header="cf;oggetto;testo").replace(",", ";")
    path = write(text, encoding="cp1252")
    result = invoke(str(path))
    assert result.exit_code == ExitCode.OK, result.output
    assert "read as     CSV, Windows-1252 (cp1252), delimiter ';'" in result.stdout
    assert "Forlì" in result.stdout
    summary = json.loads(invoke(str(path), "--json").stdout)
    assert (summary["encoding"], summary["delimiter"]) == ("cp1252", ";")
    assert summary["read_as"] == "CSV, Windows-1252 (cp1252), delimiter ';'"
    utf8 = invoke(str(write(rows_csv(row(CF1)), "u.csv")))
    assert "read as     CSV, UTF-8, delimiter ','" in utf8.stdout


def test_a_template_typo_is_said_once_in_text_json_and_the_problems_csv(
        write, tmp_path: Path) -> None:
    lines = [f"{code},Mario,Rossi" for code in (CF1, CF2, CF3)]
    path = write(rows_csv(*lines, header="codice_fiscale,nome,cognome"))
    template = write(f'subject = "{SUBJECT}"\nmarkdown = "{MARKDOWN} {{cognomen}}"', "t.toml")
    out = tmp_path / "problems.csv"
    result = invoke(str(path), "-t", str(template), "--problems-csv", str(out))
    assert result.exit_code == ExitCode.INVALID_INPUT, result.output
    text = result.stdout
    assert "Problems of the whole file (said once, not per row):" in text
    assert ("placeholder {cognomen}: the template uses {cognomen} but the file has no such "
            "column; did you mean {cognome}? [placeholder_missing] — 3 row(s)") in text
    assert text.count("{cognomen}") == 2 and "row problem" not in text
    records = out.read_text(encoding="utf-8-sig").strip().splitlines()
    assert len(records) == 2 and records[1].startswith(",{cognomen},placeholder_missing,")
    assert records[1].endswith("(3 row(s))")
    summary = json.loads(invoke(str(path), "-t", str(template), "--json").stdout)
    assert summary["problems"] == [] and summary["exit_code"] == 2
    assert summary["file_problems"] == [{
        "code": "placeholder_missing", "column": "cognomen", "severity": "error",
        "rows_affected": 3, "message": "the template uses {cognomen} but the file has no "
        "such column; did you mean {cognome}?"}]


def test_row_problems_name_the_files_header_and_the_field(write) -> None:
    path = write(rows_csv(row(CF1, SUBJECT, MARKDOWN, '"12,50"', NOTICE),
                          header="cf,oggetto,testo,Importo Dovuto,codice_avviso"))
    result = invoke(str(path))
    assert "row 2, column Importo Dovuto (amount): '12,50' looks like euros" in result.stdout
