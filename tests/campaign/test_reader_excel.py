"""Excel cells read with their types: an identifier stored as a number is never trusted.

Workbooks are written here with xlsxwriter (openpyxl is not installed); the LibreOffice
sheet is a hand-written minimal ``.ods``.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
import xlsxwriter
from campaign_helpers import CF1, CF2, CF3, CF4, MARKDOWN, NOW, SUBJECT

from dispatcher.campaign import CampaignOptions, load_campaign
from dispatcher.campaign.excel import excel_shows
from dispatcher.campaign.problems import CELL_PROBLEM_SCHEMA
from dispatcher.campaign.reader import Table, read_table
from dispatcher.vocabulary import InputVerdict

HEADER = ["Codice Fiscale", "Oggetto", "Testo", "Importo", "Numero Avviso", "CF Ente"]
NOTICE = "301234567890123416"  # valid check digits (aux digit 3: remainder modulo 93)
PAYEE = "00123450587"


def _workbook(path: Path, rows: list[list[object]], header_row: int = 0) -> Path:
    """Cells as typed: ``str`` is a Text cell, ``int``/``float`` a Number cell."""
    book = xlsxwriter.Workbook(str(path))
    sheet = book.add_worksheet("Foglio1")
    sheet.write_row(header_row, 0, HEADER)
    for offset, values in enumerate(rows, start=header_row + 1):
        for column, value in enumerate(values):
            if isinstance(value, str):
                sheet.write_string(offset, column, value)
            elif value is not None:
                sheet.write_number(offset, column, value)  # type: ignore[arg-type]
    book.close()
    return path


def _cells(table: Table) -> list[tuple[object, ...]]:
    return [tuple(r) for r in table.cell_problems.iter_rows()]


def test_identifier_cells_stored_as_numbers_are_cell_problems(tmp_path: Path) -> None:
    table = read_table(_workbook(tmp_path / "c.xlsx", [
        [CF1, SUBJECT, MARKDOWN, 1250, 3.012345678901235e17, PAYEE],  # 2: notice as a number
        [12345678901, SUBJECT, MARKDOWN, 1250.0, NOTICE, PAYEE],  # 3: an 11-digit code fits
        [1234567890, SUBJECT, MARKDOWN, 990, NOTICE, 80012345678],  # 4: lost its leading 0
        [CF2, SUBJECT, MARKDOWN, 12.5, 12345678901234567, 1.5],  # 5: two bad identifiers
        [CF3, SUBJECT, MARKDOWN, "1250", NOTICE, PAYEE],  # 6: all text
    ]))
    assert table.cell_problems.schema == CELL_PROBLEM_SCHEMA
    assert _cells(table) == [
        (2, "notice_number", "excel_number", "3.012345678901235E+17"),
        (4, "fiscal_code", "excel_number", "1234567890"),
        (5, "notice_number", "excel_number", "1.234567890123457E+16"),  # as xlsxwriter kept it
        (5, "payee_fiscal_code", "excel_number", "1.5"),
    ]
    frame = table.frame
    # no cell keeps a plausible identifier the number stands for (301234567890123520)
    assert frame.get_column("notice_number").to_list() == [
        "3.012345678901235E+17", NOTICE, NOTICE, "1.234567890123457E+16", NOTICE]
    assert frame.get_column("fiscal_code").to_list() == [
        CF1, "12345678901", "1234567890", CF2, CF3]
    assert frame.get_column("payee_fiscal_code").to_list() == [
        PAYEE, PAYEE, "80012345678", "1.5", PAYEE]
    # amounts as numbers are fine, and an integer reads as integer text, never 1250.0
    assert frame.get_column("amount").to_list() == ["1250", "1250", "990", "12.5", "1250"]


def test_every_row_with_a_numeric_notice_number_is_a_row_error(tmp_path: Path) -> None:
    codes = [CF1, CF2, CF3, CF4]
    numbers = [301234567890123416 + 93 * i for i in range(4)]  # as Excel keeps them: floats
    path = _workbook(tmp_path / "c.xlsx", [
        [code, SUBJECT, MARKDOWN, 1250, float(number), PAYEE]
        for code, number in zip(codes, numbers, strict=True)
    ] + [[CF1.lower(), SUBJECT, MARKDOWN, 1250, NOTICE, PAYEE]])
    campaign = load_campaign(path, options=CampaignOptions(now=NOW))
    states = {row.row: row.state for row in campaign.rows()}
    assert [states[n] for n in (2, 3, 4, 5)] == [InputVerdict.INVALID] * 4
    assert states[6] is InputVerdict.VALID  # the same citizen, with a Text notice number
    by_row = {p.row: p for p in campaign.problems if p.code.value == "excel_number"}
    assert sorted(by_row) == [2, 3, 4, 5]
    assert excel_shows(float(numbers[0])) in by_row[2].message  # 3.012345678901234E+17
    assert "Text" in by_row[2].message


def test_the_header_lower_down_keeps_sheet_row_numbers(tmp_path: Path) -> None:
    table = read_table(_workbook(tmp_path / "c.xlsx", [
        [CF1, SUBJECT, MARKDOWN, 1250, NOTICE, PAYEE],
        [CF2, SUBJECT, MARKDOWN, 1250, 3.012345678901235e17, PAYEE],
    ], header_row=3))
    assert table.frame.get_column("__row").to_list() == [5, 6]
    assert _cells(table) == [(6, "notice_number", "excel_number", "3.012345678901235E+17")]


def test_a_sheet_without_identifier_numbers_has_no_cell_problems(tmp_path: Path) -> None:
    table = read_table(_workbook(tmp_path / "c.xlsx", [
        [CF1, SUBJECT, MARKDOWN, 1250, NOTICE, PAYEE],
        [CF2, SUBJECT, MARKDOWN, 99, "001234567890123413", 12345678901],
    ]))
    assert table.cell_problems.height == 0
    assert table.frame.get_column("payee_fiscal_code").to_list() == [PAYEE, "12345678901"]


def _ods(path: Path, cells: list[str]) -> Path:
    """A minimal LibreOffice sheet: one column, ``cells`` already as table:table-cell XML."""
    ns = ('xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
          'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
          'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"')
    rows = "".join(f"<table:table-row>{cell}</table:table-row>" for cell in cells)
    content = (f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {ns} '
               'office:version="1.2"><office:body><office:spreadsheet>'
               f'<table:table table:name="Foglio1">{rows}</table:table>'
               "</office:spreadsheet></office:body></office:document-content>")
    manifest = ('<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest='
                '"urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.2">'
                '<manifest:file-entry manifest:full-path="/" manifest:media-type='
                '"application/vnd.oasis.opendocument.spreadsheet"/></manifest:manifest>')
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        archive.writestr("content.xml", content)
        archive.writestr("META-INF/manifest.xml", manifest)
    return path


def _text(value: str) -> str:
    return (f'<table:table-cell office:value-type="string"><text:p>{value}</text:p>'
            "</table:table-cell>")


def test_libreoffice_number_cells_are_caught_too(tmp_path: Path) -> None:
    number = ('<table:table-cell office:value-type="float" office:value="301234567890123456">'
              "<text:p>3,01235E+17</text:p></table:table-cell>")
    table = read_table(_ods(tmp_path / "c.ods", [_text("numero_avviso"), number,
                                                 _text("001234567890123413")]))
    # an exact integer in the file, but no number is a notice number
    assert _cells(table) == [(2, "notice_number", "excel_number", "3.0123456789012346E+17")]
    assert table.frame.get_column("notice_number").to_list()[1] == "001234567890123413"


@pytest.mark.parametrize(
    ("number", "shown"),
    [(1250.0, "1250"), (12.5, "12.5"), (3.012345678901235e17, "3.012345678901235E+17"),
     (1e15, "1E+15"), (-1234567890123456.0, "-1.234567890123456E+15"), (-7.0, "-7"),
     (1e20, "1E+20"), (0.00001, "1E-05")],
)
def test_numbers_are_shown_as_excel_shows_them(number: float, shown: str) -> None:
    assert excel_shows(number) == shown


def test_a_table_that_starts_in_column_c_is_read_and_its_numbers_checked(
    tmp_path: Path,
) -> None:
    path = tmp_path / "shifted.xlsx"
    book = xlsxwriter.Workbook(path)
    sheet = book.add_worksheet()
    sheet.write_row(1, 2, ["codice_fiscale", "oggetto", "testo", "codice_avviso", "importo"])
    sheet.write_row(2, 2, [CF1, SUBJECT, MARKDOWN, "302000000000000083", 1250])
    sheet.write_row(3, 2, [CF2, SUBJECT, MARKDOWN])
    sheet.write_number(3, 5, 302000000000000083)  # the notice number as Excel's number
    sheet.write_number(3, 6, 990)
    book.close()
    campaign = load_campaign(path, options=CampaignOptions(now=NOW))
    found = {(p.row, p.code.value) for p in campaign.problems}
    assert (4, "excel_number") in found
    assert [r.row for r in campaign.rows() if r.message is not None] == [3]
