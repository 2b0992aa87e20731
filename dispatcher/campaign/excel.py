"""Excel, LibreOffice and old ``.xls`` sheets through calamine (fastexcel), with cell types.

Every cell is read as text, so a notice number typed into a Text cell keeps its leading
zeros. An identifier that Excel stored as a *number* has lost them and, beyond 15
significant digits, its precision: ``301234567890123456`` is kept as ``3.012345678901235E+17``
and reads back as ``301234567890123520``, a well-formed notice number nobody can pay. The
text alone cannot tell, so the reader asks calamine for the cells' types: the identifier
columns are loaded once more as booleans, which gives a value for number (and true/false)
cells and none for text cells (fastexcel never parses text into a boolean).

Such a cell is a cell problem (code ``excel_number``) unless it is an exact integer that fits
the identifier: an 11-digit organisation or temporary fiscal code does, a notice number (18
digits) never does. The cell's text then becomes the number as Excel shows it, so no rule can
take it for a valid identifier. Amounts stored as numbers are fine: an integer reads as its
integer text (``1250``, never ``1250.0``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from dispatcher.campaign.headers import column_name
from dispatcher.campaign.problems import (
    CELL_PROBLEM_SCHEMA,
    CampaignFileError,
    ProblemCode,
    no_cell_problems,
)
from dispatcher.privacy import mask_fiscal_codes_in

IDENTIFIER_COLUMNS = ("fiscal_code", "notice_number", "payee_fiscal_code")
_EXCEL_MIDNIGHT = r"^(\d{4}-\d{2}-\d{2}) 00:00:00$"


@dataclass(frozen=True)
class Sheet:
    """A sheet as :func:`~dispatcher.campaign.reader.read_table` goes on with it."""

    raw: pl.DataFrame  # from the header row down, every cell as text (None when empty)
    first_row: int  # the sheet row number of the header
    cell_problems: pl.DataFrame  # problems.CELL_PROBLEM_SCHEMA


def read_sheet(path: Path, sheet: str | int | None, limit: int) -> Sheet:
    """The sheet from its first non-empty row (the header), with its number cells checked."""
    import fastexcel

    try:
        reader = fastexcel.read_excel(path)
        name = _sheet_name(path, reader.sheet_names, sheet)
        # skip_rows=0 keeps leading empty rows, so positions are the sheet's row numbers
        data = reader.load_sheet(name, header_row=None, dtypes="string", skip_rows=0,
                                 n_rows=limit).to_polars()
        filled = data.select(pl.any_horizontal(pl.all().is_not_null())).to_series().arg_true()
        header = int(filled[0]) if len(filled) else 0
        identifiers = _identifier_positions(data, header)
        # by name: in a sheet whose table starts in column B, position 0 is column B here
        # but column A to fastexcel's use_columns
        typed = (reader.load_sheet(name, header_row=None, dtypes="boolean", skip_rows=0,
                                   n_rows=limit,
                                   use_columns=[data.columns[p] for p in identifiers]
                                   ).to_polars()
                 if identifiers else None)
    except CampaignFileError:
        raise
    except Exception as exc:  # fastexcel raises its own hierarchy; all mean "unreadable"
        detail = mask_fiscal_codes_in(str(exc).strip().split("\n", 1)[0][:300])
        raise CampaignFileError(path, f"cannot be read as a spreadsheet: {detail}") from None
    problems = no_cell_problems()
    if typed is not None:
        data, problems = _check_numbers(data, typed, identifiers, header)
    # Excel stores a date as that day at midnight: show it as a date, not as 00:00.
    data = data.slice(header).with_columns(pl.all().str.replace(_EXCEL_MIDNIGHT, "${1}"))
    return Sheet(data, header + 1, problems)


def _sheet_name(path: Path, names: list[str], sheet: str | int | None) -> str:
    chosen = 0 if sheet is None else sheet
    if isinstance(chosen, str) and chosen.isdigit():
        chosen = int(chosen)
    if isinstance(chosen, int):
        if not 0 <= chosen < len(names):
            raise CampaignFileError(path, f"no sheet number {sheet}; the file has {len(names)}")
        return names[chosen]
    if chosen not in names:
        listed = mask_fiscal_codes_in(", ".join(names))
        raise CampaignFileError(path, f"no sheet {mask_fiscal_codes_in(chosen)!r}; sheets: "
                                f"{listed}")
    return chosen


def _identifier_positions(data: pl.DataFrame, header: int) -> dict[int, str]:
    """Column position -> internal name, for the identifier columns of the header row."""
    if data.height == 0:
        return {}
    found: dict[int, str] = {}
    for position, cell in enumerate(data.row(header)):
        name = column_name(str(cell).strip()) if cell is not None else ""
        if name in IDENTIFIER_COLUMNS:
            found[position] = name
    return found


def _check_numbers(data: pl.DataFrame, typed: pl.DataFrame, identifiers: dict[int, str],
                   header: int) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Number cells of identifier columns: the problems, and the text Excel shows for them."""
    rows: list[dict[str, object]] = []
    replaced: list[pl.Series] = []
    for flags, (position, name) in zip(typed.get_columns(), identifiers.items(), strict=True):
        indices = flags.is_not_null().arg_true()
        indices = indices.filter(indices > header)
        if indices.len() == 0:
            continue
        column = data.get_column(data.columns[position])
        values = column.to_list()
        for index in indices.to_list():
            number = _number(values[index])
            if number is None or _fits(name, number):
                continue
            shown = excel_shows(number)
            values[index] = shown
            rows.append({"__row": index + 1, "column": name,
                         "code": ProblemCode.EXCEL_NUMBER.value, "value": shown})
        replaced.append(pl.Series(column.name, values, dtype=pl.String))
    if replaced:
        data = data.with_columns(replaced)
    problems = pl.DataFrame(rows, schema=CELL_PROBLEM_SCHEMA) if rows else no_cell_problems()
    return data, problems


def _number(text: str | None) -> float | None:
    """The cell's number (fastexcel writes it as the shortest exact decimal), else None."""
    if text is None or text in ("true", "false"):  # a true/false cell: the rules refuse it
        return None
    try:
        return float(text)
    except ValueError:
        return None


def _fits(name: str, number: float) -> bool:
    """Whether an exact integer is the identifier itself: only 11-digit fiscal codes."""
    if name == "notice_number":  # 18 digits: more than a number cell keeps exactly
        return False
    return number.is_integer() and 10**10 <= number < 10**11


def excel_shows(number: float) -> str:
    """The number as Excel shows it in the formula bar: ``1250``, ``3.012345678901235E+17``."""
    if number.is_integer() and abs(number) < 1e15:
        return str(int(number))
    text = repr(number)  # the shortest digits that are this number
    if "e" in text or not number.is_integer():
        return text.upper()
    digits = str(abs(int(number)))  # 1e15 <= |number| < 1e16: repr has no exponent yet
    mantissa = (digits[0] + "." + digits[1:]).rstrip("0").rstrip(".")
    return f"{'-' if number < 0 else ''}{mantissa}E+{len(digits) - 1}"
