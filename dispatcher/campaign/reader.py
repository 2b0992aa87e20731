"""Read a campaign file as offices produce it into a frame of text columns.

CSV: ``,``/``;``/tab/``|`` delimiter (detected from the header line, or Excel's ``sep=;``
first line); LF, CRLF or old-Mac CR line endings; quoted fields with line breaks and trailing
empty columns are fine. Which text the bytes hold is decided in ``encoding.py`` (UTF-8
strictly first, never a guess); a file that is not UTF-8 is transcoded in memory, because
polars reads only UTF-8. Excel (``.xlsx``, ``.xls``, ``.ods``) goes through calamine with
the cells' types (``excel.py``).

Row numbers are what a spreadsheet shows: the header is row 1, the first data record row 2.
A CSV field with a line break inside stays one row (as in Excel), so a row number counts
records, not text-editor lines. Blank rows keep their number but are not data rows. In an
Excel sheet whose header is lower down, numbers are still the sheet's own row numbers.

Cells that cannot be trusted as read -- bytes that are not UTF-8, an identifier that Excel
stored as a number -- are :attr:`Table.cell_problems`; their rows are invalid, the file is
not. Whatever the bytes, reading raises nothing but :class:`CampaignFileError`, and a
message that quotes the file (or a parser's words about it) has its fiscal codes masked.
"""

from __future__ import annotations

import csv
import io
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import polars as pl

from dispatcher.campaign.encoding import (
    Decoded,
    clean_headers,
    decode,
    invalid_byte_cells,
    scan,
    show_invalid_bytes,
)
from dispatcher.campaign.excel import read_sheet
from dispatcher.campaign.headers import Columns, resolve_headers
from dispatcher.campaign.problems import CampaignFileError, no_cell_problems
from dispatcher.privacy import mask_fiscal_codes_in

EXCEL_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".xlsb", ".ods")
DELIMITERS = (";", ",", "\t", "|")
_BLANK_SLACK = 1000  # blank records tolerated beyond max_rows before giving up early


@dataclass(frozen=True)
class Table:
    """The data rows as text: internal column names plus ``__row`` (the spreadsheet row)."""

    frame: pl.DataFrame
    columns: Columns
    sha256: str
    kind: str  # "csv" or "excel"
    encoding: str | None
    delimiter: str | None
    notes: tuple[str, ...]
    # problems in single cells found while reading: problems.CELL_PROBLEM_SCHEMA
    cell_problems: pl.DataFrame = field(default_factory=no_cell_problems)


@dataclass(frozen=True)
class _Raw:
    """What a format reader hands to :func:`_to_table`: the header row first."""

    frame: pl.DataFrame
    first_row: int
    kind: str
    encoding: str | None = None
    delimiter: str | None = None
    invalid_bytes: bool = False
    cell_problems: pl.DataFrame = field(default_factory=no_cell_problems)


def read_table(
    path: Path,
    *,
    encoding: str | None = None,
    delimiter: str | None = None,
    max_rows: int = 1_000_000,
    sheet: str | int | None = None,
) -> Table:
    """Read ``path`` (CSV or Excel); any file-level problem raises :class:`CampaignFileError`.

    Nothing else escapes, whatever the bytes: a failure inside polars or calamine (a
    panic included) becomes a file error naming the file.
    """
    try:
        return _read_table(path, encoding, delimiter, max_rows, sheet)
    except CampaignFileError:
        raise
    except MemoryError:
        raise CampaignFileError(path, "too large to read in the memory available") from None
    except Exception as exc:
        raise CampaignFileError(path, f"cannot be read: {_detail(exc)}") from None
    except BaseException as exc:  # pyo3 panics (polars, fastexcel) are BaseExceptions
        if type(exc).__name__ != "PanicException":
            raise
        raise CampaignFileError(
            path, f"cannot be read: the parser failed on this file ({_detail(exc)}); "
            "save it again as CSV UTF-8 or .xlsx"
        ) from None


def _detail(exc: BaseException) -> str:
    """The first line of an exception's text, short, with fiscal codes masked."""
    text = str(exc).strip().split("\n", 1)[0] or type(exc).__name__
    return mask_fiscal_codes_in(text)[:300]


def _read_table(path: Path, encoding: str | None, delimiter: str | None, max_rows: int,
                sheet: str | int | None) -> Table:
    if path.is_dir():
        raise CampaignFileError(path, "is a directory, not a campaign file")
    scanned = scan(path)
    if scanned.size == 0 or not scanned.head.lstrip(b"\xef\xbb\xbf \t\r\n"):
        raise CampaignFileError(path, "the file is empty")
    limit = max_rows + 1 + _BLANK_SLACK
    notes: list[str] = []
    spreadsheet = scanned.head.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0"))
    if not spreadsheet and path.suffix.lower() in EXCEL_SUFFIXES:
        # web applications often export text (CSV, TSV) under an .xls name
        notes.append(f"the file is named {path.suffix} but holds text: read as CSV")
    if spreadsheet:
        sheet_read = read_sheet(path, sheet, limit)
        raw = _Raw(sheet_read.raw, sheet_read.first_row, "excel",
                   cell_problems=sheet_read.cell_problems)
    else:
        decoded = decode(path, scanned, encoding)
        notes.extend(decoded.notes)
        raw = _read_csv(path, decoded, delimiter, limit)
    return _to_table(path, raw, max_rows, scanned.sha256, notes)


# -- CSV -------------------------------------------------------------------------------------


def _line_ending(head: str) -> str:
    """``\\r`` for an old-Mac file (CR alone ends its lines), else ``\\n`` (LF or CRLF)."""
    lone_cr = head.count("\r") - head.count("\r\n")
    return "\r" if lone_cr > head.count("\n") else "\n"


def _first_line(text: str) -> str:
    return re.split(r"\r\n|\r|\n", text.lstrip("\ufeff"), maxsplit=1)[0]


def _detect_delimiter(line: str) -> str:
    """The delimiter seen most often outside quotes in the header line (``,`` if none)."""
    unquoted = re.sub(r'"[^"]*"', "", line)
    counts = {d: unquoted.count(d) for d in DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _delimiter_option(path: Path, value: str, where: str = "--delimiter") -> str:
    named = {"tab": "\t", "\\t": "\t", "semicolon": ";", "comma": ",", "pipe": "|"}
    delimiter = named.get(value.lower(), value)
    if len(delimiter) != 1 or delimiter in ('"', "\n", "\r"):
        raise CampaignFileError(path, f"{where} must be one character, not {value!r}")
    return delimiter


def _read_csv(path: Path, decoded: Decoded, delimiter: str | None, limit: int) -> _Raw:
    eol = _line_ending(decoded.head)
    first = _first_line(decoded.head)
    skip = 0
    sep_line = re.fullmatch(r"\s*sep=(.)\s*", first)
    if sep_line:  # Excel's hint line; Excel hides it, so row numbers ignore it too
        skip = 1
        chosen = _delimiter_option(path, sep_line.group(1), "the sep= line's delimiter")
    else:
        chosen = _detect_delimiter(first)
    if delimiter:
        chosen = _delimiter_option(path, delimiter)
    frame = _polars_csv(path, decoded.data, chosen, skip, limit, eol)
    if eol == "\r":  # a line break inside a quoted value of an old-Mac file
        frame = frame.with_columns(pl.all().str.replace_all(r"\r\n?", "\n"))
    return _Raw(frame, 1, "csv", decoded.encoding, chosen, decoded.invalid_bytes > 0)


def _polars_csv(path: Path, source: Path | io.BytesIO, delimiter: str, skip: int, limit: int,
                eol: str) -> pl.DataFrame:
    options = dict(has_header=False, infer_schema=False, separator=delimiter, skip_rows=skip,
                   n_rows=limit, quote_char='"', eol_char=eol)
    try:
        return pl.read_csv(_rewound(source), **options)
    except pl.exceptions.NoDataError:
        raise CampaignFileError(path, "the file is empty") from None
    except pl.exceptions.PolarsError as exc:
        if "more fields" not in str(exc):
            raise _not_csv(path, delimiter, exc) from None
    try:
        row = _first_overlong_row(source, delimiter, skip)
    except csv.Error as exc:
        raise CampaignFileError(
            path, f"some rows have more values than the header: {_detail(exc)}"
        ) from None
    if row is not None:
        raise CampaignFileError(
            path, f"row {row} has more values than the header has columns "
            "(a stray delimiter, or a value with a delimiter not in quotes?)"
        )
    # Extra fields exist but are all empty (trailing delimiters): safe to drop them.
    try:
        return pl.read_csv(_rewound(source), truncate_ragged_lines=True, **options)
    except pl.exceptions.PolarsError as exc:
        raise _not_csv(path, delimiter, exc) from None


def _not_csv(path: Path, delimiter: str, exc: Exception) -> CampaignFileError:
    return CampaignFileError(
        path, f"cannot be read as CSV separated by {delimiter!r}: {_csv_detail(exc)}")


def _rewound(source: Path | io.BytesIO) -> Path | io.BytesIO:
    if isinstance(source, io.BytesIO):
        source.seek(0)
    return source


_UNESCAPED = re.compile(r"Field `(.*?)` is not properly escaped", re.DOTALL)


def _csv_detail(exc: Exception) -> str:
    """polars' reason in plain words, quoting at most 60 characters, fiscal codes masked."""
    text = str(exc)
    unescaped = _UNESCAPED.search(text)
    if unescaped:
        # masked before it is cut, so no cut can leave a fiscal code unmasked
        field_text = mask_fiscal_codes_in(show_invalid_bytes(unescaped.group(1)).strip())
        excerpt = field_text[:60] + ("…" if len(field_text) > 60 else "")
        return ("a quote is not closed, or a quote inside a value is not doubled, in the "
                f"value starting {excerpt!r}")
    if "CSV malformed" in text:  # polars counted the records two ways: quotes astray
        return ("the quotes do not pair up (a value that opens a quote and never closes it?)"
                f"; {_detail(exc)}")
    return _detail(exc)


def _text_stream(source: Path | io.BytesIO) -> TextIO:
    if isinstance(source, io.BytesIO):
        return io.StringIO(source.getvalue().decode("utf-8"), newline="")
    return source.open(encoding="utf-8-sig", newline="")


def _first_overlong_row(source: Path | io.BytesIO, delimiter: str, skip: int) -> int | None:
    """The first row with a non-empty value beyond the header's width, if any."""
    limit = csv.field_size_limit(sys.maxsize)  # the default 128 KiB is no limit of ours
    try:
        with _text_stream(source) as stream:
            records = csv.reader(stream, delimiter=delimiter)
            for _ in range(skip):
                next(records, None)
            header = next(records, [])
            for number, record in enumerate(records, start=2):
                if len(record) > len(header) and any(c.strip() for c in record[len(header):]):
                    return number
    finally:
        csv.field_size_limit(limit)
    return None


# -- common ----------------------------------------------------------------------------------


def _has_text(column: pl.Expr) -> pl.Expr:
    return column.str.contains(r"\S").fill_null(False)


def _to_table(path: Path, raw: _Raw, max_rows: int, sha256: str, notes: list[str]) -> Table:
    if raw.frame.height == 0:
        raise CampaignFileError(path, "the file is empty")
    headers = [None if h is None else str(h) for h in raw.frame.row(0)]
    if raw.invalid_bytes:
        headers = clean_headers(headers, notes)
    try:
        columns = resolve_headers(headers, path)
    except CampaignFileError as exc:  # the "header" may be a data row: mask what it quotes
        raise CampaignFileError(path, mask_fiscal_codes_in(exc.reason)) from None
    if not columns.names:
        raise CampaignFileError(path, "the first row has no column names")
    body = raw.frame.slice(1).with_row_index("__row", offset=raw.first_row + 1)
    source_names = raw.frame.columns
    for position in columns.unnamed:
        if body.select(_has_text(pl.col(source_names[position])).any()).item():
            notes.append(f"column {position + 1} has values but no header: ignored")
    named = [p for p in range(len(source_names)) if p not in columns.unnamed]
    body = body.select(
        pl.col("__row").cast(pl.Int64),
        *(pl.col(source_names[p]).alias(name) for p, name in zip(named, columns.names,
                                                                   strict=True)),
    )
    filled = body.select(pl.any_horizontal(_has_text(pl.col(n)) for n in columns.names))
    if not filled.to_series().all():  # filtering copies every column: only when needed
        body = body.filter(filled.to_series())
    if body.height == 0:
        raise CampaignFileError(path, "the file has a header but no data rows")
    if body.height > max_rows or raw.frame.height >= max_rows + 1 + _BLANK_SLACK:
        raise CampaignFileError(
            path, f"more than {max_rows:,} rows: split the campaign, or raise --max-rows"
        )
    problems = raw.cell_problems
    if raw.invalid_bytes:
        body, found = invalid_byte_cells(body, columns.names)
        problems = pl.concat([problems, found])
    return Table(body, columns, sha256, raw.kind, raw.encoding, raw.delimiter, tuple(notes),
                 problems.sort("__row", maintain_order=True))
