"""``dispatcher validate``: exit codes, what it prints, what it writes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from campaign_helpers import CF1, CF2, FIXTURES, MARKDOWN, REPO_ROOT, SUBJECT, row, rows_csv
from typer.testing import CliRunner

from dispatcher.cli import app
from dispatcher.vocabulary import ExitCode

SAMPLES = REPO_ROOT / "sample_data"
NOTICE = "301234567890123416"
runner = CliRunner()


def invoke(*args: str):
    return runner.invoke(app, ["validate", *args])


def test_clean_sample_exits_zero_with_a_preview() -> None:
    result = invoke(str(SAMPLES / "tari_2027_clean.csv"), "--template",
                    str(SAMPLES / "tari_2027.toml"))
    assert result.exit_code == ExitCode.OK, result.output
    assert "Preview of row 2" in result.output
    assert "€ " in result.output and "31 gennaio 2027" in result.output


def test_invalid_rows_exit_two_and_list_problems_by_row_and_column() -> None:
    result = invoke(str(SAMPLES / "tari_2027.csv"), "-t", str(SAMPLES / "tari_2027.toml"))
    assert result.exit_code == ExitCode.INVALID_INPUT, result.output
    assert "row 5, column codice_fiscale (fiscal_code):" in result.output
    assert "row 23, column importo (amount):" in result.output
    assert "fiscal_code_checksum 1" in result.output


def test_fiscal_codes_are_masked_in_the_output(write) -> None:
    path = write(rows_csv(row(CF1, "Avviso"), row(CF2)))
    result = invoke(str(path))
    assert result.exit_code == ExitCode.INVALID_INPUT, result.output
    assert CF1 not in result.output and CF2 not in result.output
    assert "DNGNCL*******36E" not in result.output  # row 2 is invalid for its subject only
    assert "CNTLCU*******19G" in result.output  # preview of row 3


def test_fiscal_codes_inside_texts_and_messages_are_masked_too(write) -> None:
    template = write('subject = "Avviso di pagamento TARI"\nmarkdown = """\nCodice fiscale: '
                     '{cf}. Questo testo è abbastanza lungo da superare gli ottanta caratteri.'
                     '\n"""', "t.toml")
    path = write(rows_csv(f"{CF1},1", f"{CF2},{CF1}", header="cf,importo_pagato"))
    for extra in ([], ["--json"]):
        result = invoke(str(path), "-t", str(template), *extra)
        assert result.exit_code == ExitCode.OK, result.output
        assert CF1 not in result.output and "DNGNCL*******36E" in result.output


def test_file_errors_are_one_line_naming_the_file_never_a_traceback(write) -> None:
    path = write(b"nome,cognome\nMario,Rossi\n")
    result = invoke(str(path))
    assert result.exit_code == ExitCode.INVALID_INPUT, result.output
    assert str(path) in result.output and "no fiscal code column" in result.output
    assert "Traceback" not in result.output
    missing = invoke("/nonexistent/campagna.csv")
    assert missing.exit_code == ExitCode.INVALID_INPUT
    assert "campagna.csv" in missing.output and "Traceback" not in missing.output


def test_broken_template_is_a_file_error_naming_the_template(write) -> None:
    path = write(rows_csv(row()))
    template = write("subject = '{{nome}}'", "t.toml")
    result = invoke(str(path), "--template", str(template))
    assert result.exit_code == ExitCode.INVALID_INPUT
    assert "t.toml" in result.output


def test_duplicates_only_exit_zero_and_say_so(write) -> None:
    result = invoke(str(write(rows_csv(row(CF1), row(CF1)))))
    assert result.exit_code == ExitCode.OK, result.output
    assert "1 duplicate row(s) will not be sent" in result.output


def test_json_summary(write) -> None:
    result = invoke(str(write(rows_csv(row(CF1), row("RSSMRA80A01H501X"), row(CF1)))),
                    "--json")
    assert result.exit_code == ExitCode.INVALID_INPUT
    summary = json.loads(result.stdout)
    assert (summary["rows"], summary["valid"], summary["invalid"], summary["duplicates"]) == (
        3, 1, 1, 1)
    assert summary["invalid_by_reason"] == {"fiscal_code_checksum": 1}
    assert [p["code"] for p in summary["problems"]] == ["fiscal_code_checksum", "duplicate"]
    assert summary["preview"]["fiscal_code"] == "DNGNCL*******36E"
    assert summary["exit_code"] == 2


def test_problems_csv_holds_every_problem_and_is_formula_safe(write, tmp_path: Path) -> None:
    header = "fiscal_code,subject,markdown,=importo,numero_avviso"
    lines = [row("RSSMRA80A01H501X", SUBJECT, MARKDOWN, "-1", NOTICE) for _ in range(30)]
    path = write(rows_csv(*lines, header=header))
    out = tmp_path / "problems.csv"
    result = invoke(str(path), "--problems-csv", str(out), "--lang", "it")
    assert result.exit_code == ExitCode.INVALID_INPUT, result.output
    text = out.read_text(encoding="utf-8-sig")
    records = text.strip().splitlines()
    assert records[0] == "row,column,code,severity,message"
    assert len(records) == 1 + 60  # two problems per row, 30 rows (not only the first 20)
    assert records[2].startswith("2,'=importo (amount),amount_format,error,")  # defused
    assert "carattere di controllo" in text
    assert os.stat(out).st_mode & 0o777 == 0o600


@pytest.mark.parametrize(
    ("options", "exit_code"),
    [(["--delimiter", ";"], ExitCode.INVALID_INPUT),  # wrong delimiter: no fiscal code column
     (["--encoding", "cp1252"], ExitCode.OK),
     (["--max-rows", "1"], ExitCode.INVALID_INPUT),
     (["--amount-unit", "lire"], ExitCode.INVALID_INPUT)],
)
def test_reading_options(options: list[str], exit_code: ExitCode) -> None:
    result = invoke(str(FIXTURES / "crlf_quoted.csv"), *options)
    assert result.exit_code == exit_code, result.output


def test_validate_json_speaks_english_whatever_the_language(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text("codice_fiscale;oggetto;testo\nTOTALE;Avviso TARI 2027;"
                    + "Gentile contribuente le ricordiamo la scadenza. " * 2 + "\n",
                    encoding="utf-8")
    documents = []
    for lang in ("it", "en"):
        result = CliRunner().invoke(app, ["validate", str(path), "--json", "--lang", lang])
        documents.append(json.loads(result.stdout))
    assert documents[0] == documents[1]
    assert "is not a fiscal code" in json.dumps(documents[0])
