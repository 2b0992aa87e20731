"""Campaign files as offices produce them: encodings, delimiters, Excel, odd rows."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from pathlib import Path

import pytest
import xlsxwriter
from campaign_helpers import CF1, CF2, CF3, FIXTURES, MARKDOWN, NOW, SUBJECT, row, rows_csv

from dispatcher.campaign import CampaignFileError, CampaignOptions, load_campaign
from dispatcher.vocabulary import InputVerdict

TEMPLATE = FIXTURES / "template_tari.toml"


def _load(path: Path, template: Path | None = None, **options: object):
    options.setdefault("now", NOW)
    return load_campaign(path, template=template,
                         options=CampaignOptions(**options))  # type: ignore[arg-type]


def test_windows_1252_file_is_detected_transcoded_and_announced() -> None:
    campaign = _load(FIXTURES / "windows1252.csv", TEMPLATE)
    assert campaign.encoding == "cp1252"
    assert any("not UTF-8" in note for note in campaign.notes)
    assert not campaign.has_errors
    frame = campaign.input_frame()
    assert frame.columns[:4] == ["row", "codice_fiscale", "nome", "cognome"]
    assert frame.get_column("cognome").to_list() == ["D’Angelo", "Cantù", "Perché"]
    markdown = campaign.preview().message.body()["content"]["markdown"]  # type: ignore[union-attr]
    assert "Niccolò D’Angelo" in markdown and "Forlì" in markdown


def test_forced_encoding_skips_the_guess(tmp_path: Path) -> None:
    campaign = _load(FIXTURES / "windows1252.csv", TEMPLATE, encoding="windows-1252")
    assert campaign.encoding == "cp1252"
    assert any("--encoding" in note for note in campaign.notes)


def test_wrong_forced_encoding_is_a_file_error_naming_the_file() -> None:
    with pytest.raises(CampaignFileError) as error:
        _load(FIXTURES / "windows1252.csv", TEMPLATE, encoding="utf-8")
    assert "windows1252.csv" in str(error.value)
    with pytest.raises(CampaignFileError, match="unknown encoding"):
        _load(FIXTURES / "windows1252.csv", TEMPLATE, encoding="klingon")


def test_semicolon_file_with_bom_and_italian_headers() -> None:
    campaign = _load(FIXTURES / "semicolon_bom.csv")
    assert (campaign.encoding, campaign.delimiter) == ("utf-8", ";")
    assert campaign.input_frame().columns == [
        "row", "Codice Fiscale", "Oggetto", "Testo", "Importo", "Numero Avviso", "Data Scadenza",
    ]
    rows = list(campaign.rows())
    assert [r.state for r in rows] == [InputVerdict.VALID, InputVerdict.VALID]
    payments = [r.message.body()["content"]["payment_data"] for r in rows]  # type: ignore[index]
    assert [p["notice_number"] for p in payments] == ["001234567890123413", "000000000000000101"]
    assert rows[1].fiscal_code == "RSSMRC48P03H501D"  # " rsSMRC48P03H501D " normalised


def test_crlf_quoted_newlines_and_trailing_empty_columns() -> None:
    campaign = _load(FIXTURES / "crlf_quoted.csv")
    assert campaign.input_frame().columns == ["row", "fiscal_code", "subject", "markdown"]
    first, second = list(campaign.rows())
    # the quoted text spans five lines of the file, but it is one row (as in Excel)
    assert (first.row, second.row) == (2, 3)
    markdown = first.message.body()["content"]["markdown"]  # type: ignore[index]
    assert markdown.startswith('Gentile contribuente,\nle scriviamo per ricordarle la "scadenza"')
    assert "\r" not in markdown


def test_omocodia_codes_are_valid_and_a_wrong_check_letter_is_not() -> None:
    campaign = _load(FIXTURES / "omocodia.csv")
    states = {r.row: (r.state, r.fiscal_code) for r in campaign.rows()}
    assert states[2] == (InputVerdict.VALID, "DNGNCL87P28L73SB")
    assert states[4] == (InputVerdict.VALID, "DNGNCLUTPNULTPSB")  # was lower case in the file
    assert states[5][0] is InputVerdict.INVALID
    assert [p.code.value for p in campaign.problems] == ["fiscal_code_checksum"]


def test_emoji_count_two_units_in_subject_limits() -> None:
    campaign = _load(FIXTURES / "emoji_subjects.csv")
    found = {p.row: p.code.value for p in campaign.problems}
    # row 2: 9 characters but 10 UTF-16 units (valid); row 3: 7 characters, 9 units;
    # row 4: exactly 120 units; row 5: 120 characters but 121 units
    assert found == {3: "subject_too_short", 5: "subject_too_long"}
    assert "9 characters" in campaign.problems[0].message


def test_source_sha256_is_of_the_file_bytes() -> None:
    path = FIXTURES / "windows1252.csv"
    campaign = _load(path, TEMPLATE)
    assert campaign.source_sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert campaign.template_sha256 == hashlib.sha256(TEMPLATE.read_bytes()).hexdigest()


@pytest.fixture(scope="session")
def workbook(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An .xlsx as an office saves it: header on row 3, numbers and dates as Excel types."""
    path = tmp_path_factory.mktemp("xlsx") / "campagna.xlsx"
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("Foglio1")
    date = book.add_format({"num_format": "dd/mm/yyyy"})
    sheet.write_row(2, 0, ["Codice Fiscale", "Oggetto", "Testo", "Importo", "Numero Avviso",
                           "Scadenza"])
    sheet.write_row(3, 0, [CF1, SUBJECT, MARKDOWN, 1250, "001234567890123413"])
    sheet.write_datetime(3, 5, dt.datetime(2027, 1, 31), date)
    # 012345678901234567 typed into a number cell: Excel keeps 12345678901234567
    sheet.write_row(5, 0, [CF2, SUBJECT, MARKDOWN, 12.5, 12345678901234567])  # row 5 blank
    sheet.write_datetime(5, 5, dt.datetime(2027, 1, 31), date)
    other = book.add_worksheet("Altro")
    other.write_row(0, 0, ["cf", "oggetto", "testo"])
    other.write_row(1, 0, [CF3, SUBJECT, MARKDOWN])
    book.close()
    return path


def test_excel_rows_keep_sheet_numbers_text_and_dates(workbook: Path) -> None:
    campaign = _load(workbook)
    assert campaign.kind == "excel"
    rows = {r.row: r for r in campaign.rows()}
    assert sorted(rows) == [4, 6]  # the sheet's own row numbers; the blank row 5 is skipped
    content = rows[4].message.body()["content"]  # type: ignore[index]
    assert content["payment_data"]["notice_number"] == "001234567890123413"  # text cell
    # an Excel date is midnight: read as the date, i.e. the end of that day in Italy
    assert content["due_date"] == "2027-01-31T22:59:59.000Z"
    codes = {p.code.value for p in rows[6].problems}
    # 12.5 (a number cell) is euros; the notice number is a number cell, which lost its
    # leading zero (and, beyond 15 digits, its precision) in Excel
    assert {"amount_not_cents", "excel_number"} <= codes
    assert codes <= {"amount_not_cents", "excel_number", "notice_number_format"}


def test_excel_sheet_by_name_or_number(workbook: Path) -> None:
    for sheet in ("Altro", 1, "1"):
        campaign = _load(workbook, sheet=sheet)
        assert [r.fiscal_code for r in campaign.rows()] == [CF3]
    with pytest.raises(CampaignFileError, match="no sheet"):
        _load(workbook, sheet="Missing")


def test_excel_file_with_a_csv_name_is_read_as_excel(workbook: Path, tmp_path: Path) -> None:
    renamed = tmp_path / "export.csv"
    renamed.write_bytes(workbook.read_bytes())
    assert _load(renamed).kind == "excel"


def test_excel_sep_line_sets_the_delimiter_and_row_numbers_ignore_it(load) -> None:
    campaign = load("sep=|\n" + rows_csv(row(), header="fiscal_code|subject|markdown")
                    .replace(",", "|"))
    assert campaign.delimiter == "|"
    assert [r.row for r in campaign.rows()] == [2]


@pytest.mark.parametrize(
    ("header", "delimiter"),
    [("fiscal_code;subject;markdown", ";"), ("fiscal_code,subject,markdown", ","),
     ("fiscal_code\tsubject\tmarkdown", "\t"), ('"fiscal_code";"a,b";"markdown"', ";")],
)
def test_delimiter_is_detected_from_the_header(load, header: str, delimiter: str) -> None:
    campaign = load(header + "\n" + delimiter.join([CF1, SUBJECT, MARKDOWN]) + "\n",
                    template='subject = "Avviso di pagamento"')
    assert campaign.delimiter == delimiter
    assert campaign.row_count == 1


def test_utf16_with_bom(write) -> None:
    path = write(rows_csv(row()).replace(",", "\t"), encoding="utf-16")
    campaign = _load(path)
    assert campaign.encoding == "utf-16" and campaign.valid_count == 1


def test_blank_rows_are_not_data_rows_but_keep_numbering(load) -> None:
    campaign = load(rows_csv(row(CF1), "", ",,", row(CF2)))
    assert [r.row for r in campaign.rows()] == [2, 5]
    assert campaign.row_count == 2


def test_trailing_empty_fields_beyond_the_header_are_ignored(load) -> None:
    campaign = load(rows_csv(row(CF1) + ",,", row(CF2)))
    assert campaign.valid_count == 2


def test_values_beyond_the_header_are_a_file_error_naming_the_row(load) -> None:
    with pytest.raises(CampaignFileError, match=r"c\.csv: row 3 has more values"):
        load(rows_csv(row(CF1), row(CF2) + ",surprise"))


def test_unnamed_column_with_values_is_noted(load) -> None:
    campaign = load(rows_csv(row(CF1) + ",x", header="fiscal_code,subject,markdown,"))
    assert any("column 4" in note for note in campaign.notes)


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty"),
        (b"\xef\xbb\xbf\r\n", "empty"),
        (b"fiscal_code,subject,markdown\r\n", "no data rows"),
        (b"fiscal_code,subject,markdown\n,,\n\n", "no data rows"),
        (b"\x00\x01\x02\xff\xfe\x00garbage" * 10, "binary"),
        (b'fiscal_code,subject\n"unterminated,x\n', "cannot be read as CSV"),
        (b"nome,subject,markdown\nMario,a,b\n", "no fiscal code column"),
        (b"cf,codice_fiscale,subject,markdown\n", "both mean 'fiscal_code'"),
        (b"cf,nome\n" + CF1.encode() + b",Mario\n", "no subject"),
    ],
)
def test_file_level_problems_raise_one_clear_error(
    write: Callable[..., Path], content: bytes, reason: str
) -> None:
    path = write(content)
    with pytest.raises(CampaignFileError) as error:
        _load(path)
    assert reason in str(error.value)
    assert str(error.value).startswith(str(path))


def test_more_rows_than_the_cap_is_a_file_error(load) -> None:
    text = rows_csv(row(CF1), row(CF2), row(CF3))
    assert load(text, max_rows=3).row_count == 3
    with pytest.raises(CampaignFileError, match="more than 2 rows"):
        load(text, max_rows=2)


def test_a_directory_or_missing_file_is_a_file_error(tmp_path: Path) -> None:
    with pytest.raises(CampaignFileError, match="directory"):
        _load(tmp_path)
    with pytest.raises(CampaignFileError, match="cannot read"):
        _load(tmp_path / "missing.csv")


def test_delimiter_option_overrides_detection(load) -> None:
    text = "fiscal_code;subject;markdown\n" + ";".join([CF1, SUBJECT, MARKDOWN]) + "\n"
    assert load(text, delimiter="semicolon").delimiter == ";"
    with pytest.raises(CampaignFileError, match="one character"):
        load(text, delimiter=";;")
