"""Whatever the bytes, the reader returns a Table or raises CampaignFileError, nothing else.

Hypothesis builds files the way offices (and accidents) do: real and odd headers, any
delimiter, quotes opened and not closed, BOMs, UTF-16, Windows-1252, every line ending,
NUL bytes, very long fields, binary noise, zip headers -- and calls ``read_table`` with
sensible and silly options. A returned Table must be coherent: spreadsheet row numbers,
no stand-in characters for invalid bytes left in the cells, cell problems in their schema.
Every message has its fiscal codes masked.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import polars as pl
import pytest
from campaign_helpers import CF1, CF2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dispatcher.campaign.encoding import INVALID_BYTE_CHARS
from dispatcher.campaign.problems import CELL_PROBLEM_SCHEMA, CampaignFileError
from dispatcher.campaign.reader import Table, read_table
from dispatcher.privacy import FISCAL_CODE_IN_TEXT

HEADERS = ("codice_fiscale", "cf", "oggetto", "testo", "importo", "numero_avviso", "nome",
           "città", "", " ", '"quoted"', "sep=;", "a;b", CF1)
PIECES = ("", " ", '"', '""', "'", ";", ",", "\t", "|", "\n", "\r", "\r\n", "\x00", "\ufeff",
          "à", "’", "€", "😀", "TOTALE", CF1, CF2, "x" * 5000, "sep=,", "=1+1", "\\")
LINE_ENDINGS = ("\n", "\r\n", "\r", "\n\r")
ENCODINGS = ("utf-8", "utf-8", "utf-8", "utf-8-sig", "cp1252", "cp1252", "utf-16",
             "utf-16-le", "latin-1", "mac_roman")

field = st.one_of(
    st.text(max_size=30),
    st.lists(st.sampled_from(PIECES), max_size=6).map("".join),
)
# cells of a file that is nearly right: printable text, now and then an awkward piece
tame_field = st.one_of(
    st.text(st.characters(blacklist_categories=("Cc", "Cs")), min_size=1, max_size=20),
    st.sampled_from(("TOTALE", CF1, CF2, "12,50", "à", "’", '"', "x" * 5000, "")),
)


@st.composite
def hostile_files(draw: st.DrawFn) -> bytes:
    """A CSV-ish file: header and rows joined by a delimiter and line endings, then encoded."""
    tame = draw(st.booleans())
    cells = tame_field if tame else field
    delimiter = draw(st.sampled_from((",", ";", "\t") if tame else
                                     (",", ";", "\t", "|", ":", " ", "\x00", '"')))
    quote = draw(st.booleans())

    def line(cells: list[str]) -> str:
        if quote:
            cells = ['"' + c.replace('"', '""') + '"' if draw(st.booleans()) else c
                     for c in cells]
        return delimiter.join(cells)

    if tame:  # a real header, maybe with an odd column
        header = draw(st.permutations(("codice_fiscale", "oggetto", "testo", "importo")))
        header = [*header[: draw(st.integers(1, 4))], *draw(st.lists(cells, max_size=1))]
    else:
        header = draw(st.lists(st.sampled_from(HEADERS) | cells, min_size=1, max_size=6))
    rows = draw(st.lists(st.lists(cells, min_size=1, max_size=7), min_size=1, max_size=8))
    ending = draw(st.sampled_from(LINE_ENDINGS))
    mixed = draw(st.booleans())
    text = ""
    for cells in [header, *rows]:
        text += line(cells) + (draw(st.sampled_from(LINE_ENDINGS)) if mixed else ending)
    if draw(st.integers(0, 3)) == 0:
        # a file cut short (a copy interrupted), maybe inside a quoted value
        text = text[: len(text) - draw(st.integers(0, len(text) - 1))]
    encoding = draw(st.sampled_from(ENCODINGS))
    data = text.encode(encoding, errors="replace")
    if draw(st.integers(0, 3)) == 0:  # binary noise, a BOM or a file signature somewhere
        noise = draw(st.one_of(
            st.binary(max_size=64),
            st.sampled_from((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"PK\x03\x04",
                             b"\xd0\xcf\x11\xe0", b"\x92", b"\x8f\x81", b"\xc3", b"\x00"))))
        at = draw(st.integers(0, len(data)))
        data = data[:at] + noise + data[at:]
    return data


def _mostly_none(*values: object) -> st.SearchStrategy[object]:
    """None (what users pass) four times in five, else one of ``values``."""
    return st.sampled_from((None,) * 4 * len(values) + values)


OPTIONS = st.fixed_dictionaries({
    "encoding": _mostly_none("utf-8", "cp1252", "utf-16", "mac_roman", "klingon", "zlib"),
    "delimiter": _mostly_none(";", ",", "tab", ";;", '"', "\n"),
    "max_rows": st.sampled_from((1, 3, 1_000_000, 1_000_000)),
    "sheet": _mostly_none(0, 5, "Foglio1"),
})


def _check(table: Table) -> None:
    frame = table.frame
    assert frame.columns[0] == "__row"
    assert frame.schema["__row"] == pl.Int64
    numbers = frame.get_column("__row").to_list()
    assert numbers == sorted(set(numbers)) and numbers[0] >= 2
    assert frame.columns[1:] == list(table.columns.names)
    assert all(dtype == pl.String for name, dtype in frame.schema.items() if name != "__row")
    left = frame.select(pl.any_horizontal(pl.col(n).str.contains(INVALID_BYTE_CHARS)
                                          .fill_null(False) for n in table.columns.names))
    assert not left.to_series().any()
    assert table.cell_problems.schema == CELL_PROBLEM_SCHEMA
    assert set(table.cell_problems.get_column("__row").to_list()) <= set(numbers)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=hostile_files(), options=OPTIONS,
       suffix=st.sampled_from((".csv", ".csv", ".csv", ".txt", ".xlsx", ".xls")))
def test_any_bytes_give_a_table_or_a_campaign_file_error(
    data: bytes, options: dict[str, object], suffix: str
) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"campagna{suffix}"
        path.write_bytes(data)
        try:
            table = read_table(path, **options)  # type: ignore[arg-type]
        except CampaignFileError as error:
            assert str(error).startswith(str(path))
            assert not FISCAL_CODE_IN_TEXT.search(error.reason), error.reason
        else:
            _check(table)


cell_values = st.one_of(
    st.text(max_size=20), st.sampled_from((CF1, "001234567890123413", "TOTALE", "")),
    st.integers(-(10**19), 10**19), st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(), st.none(),
)
SHEET_HEADERS = ("codice_fiscale", "numero_avviso", "cf_ente", "importo", "testo", "")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(header=st.lists(st.sampled_from(SHEET_HEADERS), min_size=1, max_size=5, unique=True),
       rows=st.lists(st.lists(cell_values, max_size=5), max_size=6),
       header_row=st.integers(0, 3))
def test_any_sheet_gives_a_table_whose_identifier_numbers_are_all_flagged(
    header: list[str], rows: list[list[object]], header_row: int
) -> None:
    import xlsxwriter

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "campagna.xlsx"
        book = xlsxwriter.Workbook(str(path), {"strings_to_numbers": False})
        sheet = book.add_worksheet()
        sheet.write_row(header_row, 0, header)
        numbers: set[tuple[int, str]] = set()
        identifiers = {"codice_fiscale": "fiscal_code", "numero_avviso": "notice_number",
                       "cf_ente": "payee_fiscal_code"}
        for offset, values in enumerate(rows, start=header_row + 1):
            for column, value in enumerate(values[: len(header)]):
                if isinstance(value, bool):
                    sheet.write_boolean(offset, column, value)
                elif isinstance(value, int | float):
                    if abs(value) >= 1e308:
                        continue
                    sheet.write_number(offset, column, value)
                    name = identifiers.get(header[column])
                    fits = (name != "notice_number" and float(value).is_integer()
                            and 10**10 <= float(value) < 10**11)
                    if name and not fits:
                        numbers.add((offset + 1, name))
                elif value is not None:
                    sheet.write_string(offset, column, value)
        book.close()
        try:
            table = read_table(path)
        except CampaignFileError as error:
            assert not FISCAL_CODE_IN_TEXT.search(error.reason), error.reason
            return
        _check(table)
        flagged = {(row, column) for row, column, code, _ in table.cell_problems.iter_rows()
                   if code == "excel_number"}
        assert flagged == {cell for cell in numbers if cell[0] in
                           set(table.frame.get_column("__row").to_list())}


class PanicException(BaseException):
    """A Rust panic as Python sees it: each pyo3 library has its own class of this name."""


@pytest.mark.parametrize("failure", [
    pl.exceptions.PanicException(f"bitmap_ops.rs: assertion failed near {CF1}"),
    PanicException(f"calamine: index out of bounds ({CF1})"),
    KeyError(CF1),
    MemoryError(),
])
def test_a_failure_inside_a_library_is_a_file_error_naming_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failure: BaseException
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise failure

    monkeypatch.setattr(pl, "read_csv", broken)
    path = tmp_path / "c.csv"
    path.write_text(f"cf,nome\n{CF1},Niccolò\n", encoding="utf-8")
    with pytest.raises(CampaignFileError) as error:
        read_table(path)
    assert str(error.value).startswith(f"{path}: ")
    assert CF1 not in str(error.value)
    assert "cannot be read" in error.value.reason or "memory" in error.value.reason


def test_a_keyboard_interrupt_is_not_swallowed(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(pl, "read_csv", interrupted)
    path = tmp_path / "c.csv"
    path.write_text(f"cf\n{CF1}\n", encoding="utf-8")
    with pytest.raises(KeyboardInterrupt):
        read_table(path)
