"""The two ways a CSV export is written: for an office's Excel, or for another program.

``excel`` (the default) opens right with a double click in an Italian Excel: ``;`` between
cells, a UTF-8 byte order mark (without it Excel reads UTF-8 as Windows-1252), times in Italian
local time written ``2027-01-31 14:05:00`` (a form every Excel reads as a date and time) and
our column titles in the report's language. ``plain`` is for machines: ``,``, no mark, times
in UTC ISO 8601 with milliseconds and ``Z``, our columns named by their stable codes.
Either way the input's own columns keep their names, and the cells are formula-safe.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from dispatcher.report.labels import N_, Language, tr

if TYPE_CHECKING:  # polars is imported on first use: the CLI names the dialects without it
    import polars as pl

__all__ = ["COLUMN_TITLES", "CsvDialect", "CsvFormat", "csv_table"]

UTC_FORMAT = "%Y-%m-%dT%H:%M:%S%.3fZ"
EXCEL_FORMAT = "%Y-%m-%d %H:%M:%S"
EXCEL_ZONE = "Europe/Rome"
PREFIX = "dispatcher_"


class CsvDialect(StrEnum):
    EXCEL = "excel"
    PLAIN = "plain"


@dataclass(frozen=True)
class CsvFormat:
    separator: str
    bom: bool


FORMATS: dict[CsvDialect, CsvFormat] = {
    CsvDialect.EXCEL: CsvFormat(";", True),
    CsvDialect.PLAIN: CsvFormat(",", False),
}

COLUMN_TITLES: dict[str, str] = {
    "row": N_("Row"),
    "fiscal_code": N_("Fiscal code"),
    "outcome": N_("Outcome (code)"),
    "outcome_label": N_("Outcome"),
    "message_id": N_("IO message id"),
    "http_status": N_("HTTP status"),
    "error_detail": N_("Error detail"),
    "attempts": N_("Attempts"),
    "sending_at": N_("Sending started at"),
    "decided_at": N_("Outcome recorded at"),
    "io_status": N_("IO status (code)"),
    "io_status_label": N_("IO status"),
    "read_status": N_("Reading (code)"),
    "read_status_label": N_("Reading"),
    "payment_status": N_("Payment (code)"),
    "payment_status_label": N_("Payment"),
    "io_checked_at": N_("IO status checked at"),
    "io_detail": N_("IO status detail"),
    "first_opened_at": N_("First opened at"),
    "open_count": N_("Times opened"),
    "reason": N_("Reason (code)"),
    "reason_label": N_("Reason"),
    "reason_detail": N_("Detail"),
}
"""Titles of our columns in the ``excel`` dialect (``plain`` keeps these codes)."""


def _times(frame: pl.DataFrame, dialect: CsvDialect) -> pl.DataFrame:
    import polars as pl

    columns = [name for name, dtype in frame.schema.items() if isinstance(dtype, pl.Datetime)]
    if dialect is CsvDialect.EXCEL:
        return frame.with_columns(
            pl.col(c).dt.convert_time_zone(EXCEL_ZONE).dt.strftime(EXCEL_FORMAT)
            for c in columns)
    return frame.with_columns(
        pl.col(c).dt.convert_time_zone("UTC").dt.strftime(UTC_FORMAT) for c in columns)


def _titles(columns: list[str], ours: set[str], lang: Language | str) -> dict[str, str]:
    """Our columns' titles; one that would repeat an input column's name gets a prefix."""
    t = tr(lang)
    renamed: dict[str, str] = {}
    for name in columns:
        code = name.removeprefix(PREFIX)
        if name in ours and code in COLUMN_TITLES:
            renamed[name] = t.gettext(COLUMN_TITLES[code])
    taken = {c for c in columns if c not in renamed}
    return {name: f"dispatcher {title}" if title in taken else title
            for name, title in renamed.items()}


def csv_table(frame: pl.DataFrame, dialect: CsvDialect, *, ours: set[str],
              lang: Language | str = Language.IT) -> pl.DataFrame:
    """``frame`` as the dialect writes it: times as text, our columns titled (``excel``).

    ``ours`` names the columns the dispatcher added (the rest are the input's own).
    """
    out = _times(frame, dialect)
    if dialect is CsvDialect.EXCEL:
        out = out.rename(_titles(out.columns, ours, lang))
    return out
