"""Read a campaign file as offices produce it into a frame of text columns.

CSV: ``,``/``;``/tab/``|`` delimiter (detected from the header line, or Excel's ``sep=;``
first line), UTF-8 with or without BOM, UTF-16 with BOM, or a legacy 8-bit encoding
(Windows-1252 in practice) that is detected, announced in a note, and transcoded to UTF-8
in a private temporary file because polars reads only UTF-8. CRLF, quoted fields with line
breaks and trailing empty columns are fine. Excel (``.xlsx``, ``.xls``, ``.ods``) goes
through calamine (fastexcel). Every cell is read as text, so notice numbers keep their
leading zeros -- when the cell holds text. A notice number that Excel stored as a *number*
has lost its leading zeros (caught: wrong length) and, beyond 15 digits, its precision
(not detectable from the values alone): offices should format such columns as Text.

Row numbers are what a spreadsheet shows: the header is row 1, the first data record row 2.
A CSV field with a line break inside stays one row (as in Excel), so a row number counts
records, not text-editor lines. Blank rows keep their number but are not data rows. In an
Excel sheet whose header is lower down, numbers are still the sheet's own row numbers.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import charset_normalizer
import polars as pl

from dispatcher.campaign.headers import Columns, resolve_headers
from dispatcher.campaign.problems import CampaignFileError, no_cell_problems

EXCEL_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".xlsb", ".ods")
DELIMITERS = (";", ",", "\t", "|")
LEGACY_ENCODINGS = ["cp1252", "iso8859_15", "mac_roman", "cp850"]
_BLANK_SLACK = 1000  # blank records tolerated beyond max_rows before giving up early
_CHUNK = 1 << 20
_EXCEL_MIDNIGHT = r"^(\d{4}-\d{2}-\d{2}) 00:00:00$"


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
class _Scan:
    sha256: str
    size: int
    head: bytes
    utf8: bool


def _scan(path: Path) -> _Scan:
    """One pass over the bytes: SHA-256, the first 64 KiB, and whether it is valid UTF-8."""
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")()
    head = b""
    size = 0
    utf8 = True
    try:
        with path.open("rb") as stream:
            while chunk := stream.read(_CHUNK):
                digest.update(chunk)
                if len(head) < 65536:
                    head += chunk[: 65536 - len(head)]
                size += len(chunk)
                if utf8:
                    try:
                        decoder.decode(chunk)
                    except UnicodeDecodeError:
                        utf8 = False
            if utf8:
                decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        utf8 = False
    except OSError as exc:
        raise CampaignFileError(path, f"cannot read the file: {exc.strerror}") from None
    return _Scan(digest.hexdigest(), size, head, utf8)


def read_table(
    path: Path,
    *,
    encoding: str | None = None,
    delimiter: str | None = None,
    max_rows: int = 1_000_000,
    sheet: str | int | None = None,
) -> Table:
    """Read ``path`` (CSV or Excel); file-level problems raise :class:`CampaignFileError`."""
    if path.is_dir():
        raise CampaignFileError(path, "is a directory, not a campaign file")
    scan = _scan(path)
    if scan.size == 0 or not scan.head.lstrip(b"\xef\xbb\xbf \t\r\n"):
        raise CampaignFileError(path, "the file is empty")
    limit = max_rows + 1 + _BLANK_SLACK
    notes: list[str] = []
    if scan.head.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0")) or (
        path.suffix.lower() in EXCEL_SUFFIXES
    ):
        raw, first_row = _read_excel(path, sheet, limit)
        kind, used_encoding, used_delimiter = "excel", None, None
    else:
        kind = "csv"
        raw, used_encoding, used_delimiter = _read_csv(
            path, scan, encoding, delimiter, limit, notes
        )
        first_row = 1
    return _to_table(path, raw, first_row, max_rows, scan.sha256, kind, used_encoding,
                     used_delimiter, notes)


# -- CSV -------------------------------------------------------------------------------------


def _choose_encoding(path: Path, scan: _Scan, forced: str | None, notes: list[str]) -> str:
    if forced:
        try:
            name = codecs.lookup(forced).name
        except LookupError:
            raise CampaignFileError(path, f"unknown encoding {forced!r}") from None
        if name not in ("utf-8", "utf-8-sig"):
            notes.append(f"read as {name} (--encoding)")
        return name
    if scan.head.startswith((b"\xff\xfe", b"\xfe\xff")):
        notes.append("read as UTF-16 (byte order mark)")
        return "utf-16"
    if scan.utf8:
        return "utf-8"
    if b"\x00" in scan.head[:8192]:
        raise CampaignFileError(path, "looks like a binary file, not CSV text or Excel")
    best = charset_normalizer.from_bytes(scan.head, cp_isolation=LEGACY_ENCODINGS).best()
    if best is None:
        raise CampaignFileError(
            path, "unreadable encoding: not UTF-8 nor a Windows/Latin-1 code page; "
            "save it as CSV UTF-8 or pass --encoding"
        )
    name = codecs.lookup(best.encoding).name
    notes.append(
        f"the file is not UTF-8: read as {name} (guessed); check accented letters in the "
        "preview, or pass --encoding"
    )
    return name


def _transcode(path: Path, encoding: str) -> Path:
    """Copy ``path`` as UTF-8 into a private temporary file (the caller deletes it)."""
    decoder = codecs.getincrementaldecoder(encoding)()
    handle, name = tempfile.mkstemp(prefix="dispatcher-", suffix=".csv")
    offset = 0
    try:
        with path.open("rb") as source, os.fdopen(handle, "wb") as target:
            while chunk := source.read(_CHUNK):
                target.write(decoder.decode(chunk).encode("utf-8"))
                offset += len(chunk)
            target.write(decoder.decode(b"", final=True).encode("utf-8"))
    except UnicodeDecodeError as exc:
        os.unlink(name)
        raise CampaignFileError(
            path, f"not valid {encoding} text near byte {offset + exc.start}; "
            "pass the right --encoding"
        ) from None
    return Path(name)


def _first_line(text: str) -> str:
    return text.lstrip("\ufeff").split("\n", 1)[0].rstrip("\r")


def _detect_delimiter(line: str) -> str:
    """The delimiter seen most often outside quotes in the header line (``,`` if none)."""
    unquoted = re.sub(r'"[^"]*"', "", line)
    counts = {d: unquoted.count(d) for d in DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _delimiter_option(path: Path, value: str) -> str:
    named = {"tab": "\t", "\\t": "\t", "semicolon": ";", "comma": ",", "pipe": "|"}
    delimiter = named.get(value.lower(), value)
    if len(delimiter) != 1 or delimiter in ('"', "\n", "\r"):
        raise CampaignFileError(path, f"--delimiter must be one character, not {value!r}")
    return delimiter


def _read_csv(
    path: Path, scan: _Scan, encoding: str | None, delimiter: str | None, limit: int,
    notes: list[str],
) -> tuple[pl.DataFrame, str, str]:
    used = _choose_encoding(path, scan, encoding, notes)
    first = _first_line(scan.head.decode(used, errors="replace"))
    skip = 0
    sep_line = re.fullmatch(r"\s*sep=(.)\s*", first)
    if sep_line:  # Excel's hint line; Excel hides it, so row numbers ignore it too
        skip, chosen = 1, sep_line.group(1)
    else:
        chosen = _detect_delimiter(first)
    if delimiter:
        chosen = _delimiter_option(path, delimiter)
    source = path if used in ("utf-8", "utf-8-sig") else _transcode(path, used)
    try:
        frame = _polars_csv(path, source, chosen, skip, limit)
    finally:
        if source != path:
            source.unlink(missing_ok=True)
    return frame, used, chosen


def _polars_csv(path: Path, source: Path, delimiter: str, skip: int, limit: int) -> pl.DataFrame:
    options = dict(has_header=False, infer_schema=False, separator=delimiter, skip_rows=skip,
                   n_rows=limit, quote_char='"')
    try:
        return pl.read_csv(source, **options)
    except pl.exceptions.NoDataError:
        raise CampaignFileError(path, "the file is empty") from None
    except pl.exceptions.PolarsError as exc:
        if "more fields" not in str(exc):
            detail = str(exc).split("\n", 1)[0]
            raise CampaignFileError(
                path, f"cannot be read as CSV separated by {delimiter!r}: {detail}"
            ) from None
    try:
        row = _first_overlong_row(source, delimiter, skip)
    except csv.Error as exc:
        raise CampaignFileError(path, f"some rows have more values than the header: {exc}"
                                ) from None
    if row is not None:
        raise CampaignFileError(
            path, f"row {row} has more values than the header has columns "
            "(a stray delimiter, or a value with a delimiter not in quotes?)"
        )
    # Extra fields exist but are all empty (trailing delimiters): safe to drop them.
    return pl.read_csv(source, truncate_ragged_lines=True, **options)


def _first_overlong_row(source: Path, delimiter: str, skip: int) -> int | None:
    """The first row with a non-empty value beyond the header's width, if any."""
    with source.open(encoding="utf-8-sig", newline="") as stream:
        records = csv.reader(stream, delimiter=delimiter)
        for _ in range(skip):
            next(records, None)
        header = next(records, [])
        for number, record in enumerate(records, start=2):
            if len(record) > len(header) and any(c.strip() for c in record[len(header):]):
                return number
    return None


# -- Excel -----------------------------------------------------------------------------------


def _read_excel(path: Path, sheet: str | int | None, limit: int) -> tuple[pl.DataFrame, int]:
    """The sheet from its first non-empty row (the header), and that row's sheet number."""
    import fastexcel

    try:
        reader = fastexcel.read_excel(path)
        names = reader.sheet_names
        chosen = 0 if sheet is None else sheet
        if isinstance(chosen, str) and chosen.isdigit():
            chosen = int(chosen)
        name = names[chosen] if isinstance(chosen, int) else chosen
        if name not in names:
            raise CampaignFileError(path, f"no sheet {sheet!r}; sheets: {', '.join(names)}")
        # skip_rows=0 keeps leading empty rows, so positions are the sheet's row numbers
        loaded = reader.load_sheet(name, header_row=None, dtypes="string", skip_rows=0,
                                   n_rows=limit)
        data = loaded.to_polars()
    except CampaignFileError:
        raise
    except IndexError:
        raise CampaignFileError(path, f"no sheet number {sheet}") from None
    except Exception as exc:  # fastexcel raises its own hierarchy; all mean "unreadable"
        raise CampaignFileError(path, f"cannot be read as a spreadsheet: {exc}") from None
    filled = data.select(pl.any_horizontal(pl.all().is_not_null())).to_series().arg_true()
    header = int(filled[0]) if len(filled) else 0
    # Excel stores a date as that day at midnight: show it as a date, not as 00:00.
    data = data.slice(header).with_columns(pl.all().str.replace(_EXCEL_MIDNIGHT, "${1}"))
    return data, header + 1


# -- common ----------------------------------------------------------------------------------


def _has_text(column: pl.Expr) -> pl.Expr:
    return column.str.contains(r"\S").fill_null(False)


def _to_table(
    path: Path, raw: pl.DataFrame, first_row: int, max_rows: int, sha256: str, kind: str,
    encoding: str | None, delimiter: str | None, notes: list[str],
) -> Table:
    if raw.height == 0:
        raise CampaignFileError(path, "the file is empty")
    headers = [None if h is None else str(h) for h in raw.row(0)]
    columns = resolve_headers(headers, path)
    if not columns.names:
        raise CampaignFileError(path, "the first row has no column names")
    body = raw.slice(1).with_row_index("__row", offset=first_row + 1)
    source_names = raw.columns
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
    if body.height > max_rows or raw.height >= max_rows + 1 + _BLANK_SLACK:
        raise CampaignFileError(
            path, f"more than {max_rows:,} rows: split the campaign, or raise --max-rows"
        )
    return Table(body, columns, sha256, kind, encoding, delimiter, tuple(notes))
