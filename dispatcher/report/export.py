"""Exports: the input columns of every row joined with what the ledger knows about it.

One row per input row: the original columns (as text, exactly as read), then the outcome and
its label, the IO message id, the HTTP status and error of the submit, the times, and, for sent
rows, the latest IO status that ``dispatcher status`` learned (``NOT_CHECKED`` until then).
When the input file is not available, the ledger's fiscal code stands in for the input columns.

An office opens the CSV in Excel, so every text cell that Excel would run as a formula
(starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return) is prefixed with ``'``, and
so is such a column name in the header row (an input column may be called anything).
How the CSV is written (separator, byte order mark, times, column titles) is its dialect
(:mod:`~dispatcher.report.dialect`): ``excel`` by default, ``plain`` for programs. With the
content store's opens (:mod:`~dispatcher.report.opens`), remote-content rows also get when
they were first opened and how many times. Files are created with mode 0600: they hold
fiscal codes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import polars as pl

from dispatcher.ledger import Ledger
from dispatcher.report.dialect import FORMATS, CsvDialect, csv_table
from dispatcher.report.labels import (
    NOT_CHECKED,
    Language,
    io_status_label,
    outcome_label,
    payment_status_label,
    read_status_label,
)
from dispatcher.report.opens import Opens, OpenTally, open_columns, third_party_ids
from dispatcher.storage import atomic_writer
from dispatcher.vocabulary import RowState

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")

RESULT_COLUMNS = (
    "outcome",
    "outcome_label",
    "message_id",
    "http_status",
    "error_detail",
    "attempts",
    "sending_at",
    "decided_at",
    "io_status",
    "io_status_label",
    "read_status",
    "read_status_label",
    "payment_status",
    "payment_status_label",
    "io_checked_at",
    "io_detail",
)
"""Our columns, after the input's; a clash with an input column gets a ``dispatcher_`` prefix."""

OPEN_COLUMNS = ("first_opened_at", "open_count")
"""Added after ours when the content store's opens are given."""

_SCHEMA: dict[str, pl.DataType | type[pl.DataType]] = {
    "row": pl.Int64,
    "fiscal_code": pl.String,
    "outcome": pl.String,
    "outcome_label": pl.String,
    "message_id": pl.String,
    "http_status": pl.Int64,
    "error_detail": pl.String,
    "attempts": pl.Int64,
    "sending_at": pl.Float64,
    "decided_at": pl.Float64,
    "io_status": pl.String,
    "io_status_label": pl.String,
    "read_status": pl.String,
    "read_status_label": pl.String,
    "payment_status": pl.String,
    "payment_status_label": pl.String,
    "io_checked_at": pl.Float64,
    "io_detail": pl.String,
}
_TIMES = ("sending_at", "decided_at", "io_checked_at")
CSV_DATETIME_FORMAT = "%Y-%m-%dT%H:%M:%S%.3fZ"


@dataclass(frozen=True)
class ExportPaths:
    csv: Path
    parquet: Path
    to_reach: Path | None = None


def ledger_frame(
    ledger: Ledger,
    campaign_id: int,
    *,
    lang: Language | str = Language.IT,
    fiscal_codes: bool = False,
) -> pl.DataFrame:
    """One row per input row: outcome, IO message id, HTTP status, error, times, IO status.

    ``fiscal_codes`` adds the ledger's ``fiscal_code`` column (when the input is missing).
    """
    statuses = ledger.statuses.latest(campaign_id)
    labels = {state: outcome_label(state, lang) for state in RowState}
    records = []
    for r in ledger.rows.all(campaign_id):
        known = statuses.get(r.row)
        io_status = None
        if r.state is RowState.SENT:
            io_status = (known.status if known else None) or NOT_CHECKED
        records.append((
            r.row, r.fiscal_code, r.state.value, labels[r.state], r.message_id, r.http_status,
            r.detail, r.attempts, r.sending_at, r.decided_at, io_status,
            io_status_label(io_status, lang),
            known.read_status if known else None,
            read_status_label(known.read_status, lang) if known else None,
            known.payment_status if known else None,
            payment_status_label(known.payment_status, lang) if known else None,
            known.checked_at if known else None,
            known.detail if known else None,
        ))
    frame = pl.DataFrame(records, schema=_SCHEMA, orient="row")
    frame = frame.with_columns(
        (pl.col(c) * 1_000_000).cast(pl.Int64).cast(pl.Datetime("us", "UTC")).alias(c)
        for c in _TIMES
    )
    return frame if fiscal_codes else frame.drop("fiscal_code")


def results_frame(
    input_frame: pl.DataFrame | None,
    ledger: Ledger,
    campaign_id: int,
    *,
    lang: Language | str = Language.IT,
    opens: Opens | None = None,
) -> pl.DataFrame:
    """Input columns (with ``row``) + result columns; input names win, ours get a prefix.

    Without ``input_frame``, the ledger's ``row`` and ``fiscal_code`` lead instead. With
    ``opens``, ``first_opened_at`` and ``open_count`` follow for remote-content rows.
    """
    if input_frame is None:
        frame = ledger_frame(ledger, campaign_id, lang=lang, fiscal_codes=True)
    else:
        results = ledger_frame(ledger, campaign_id, lang=lang)
        clashes = set(input_frame.columns) & {*RESULT_COLUMNS, *OPEN_COLUMNS}
        results = results.rename({c: f"dispatcher_{c}" for c in clashes & set(RESULT_COLUMNS)})
        frame = input_frame.join(results, on="row", how="left", maintain_order="left")
    if opens is None:
        return frame
    columns, _ = opened(input_frame, ledger, campaign_id, opens)
    columns = columns.rename({c: f"dispatcher_{c}" for c in OPEN_COLUMNS if c in frame.columns})
    return frame.join(columns, on="row", how="left", maintain_order="left")


def opened(input_frame: pl.DataFrame | None, ledger: Ledger, campaign_id: int,
           opens: Opens) -> tuple[pl.DataFrame, OpenTally]:
    """The open columns of the sent remote-content rows, and how many were opened."""
    sent = {r for r, state in ledger.rows.states(campaign_id).items() if state is RowState.SENT}
    # the ledger's bodies know every id (template ones too); the input, rows of older ledgers
    ids = {**third_party_ids(input_frame), **ledger.rows.third_party_ids(campaign_id)}
    return open_columns(ids, sent, opens)


def our_columns(frame: pl.DataFrame, input_frame: pl.DataFrame | None) -> set[str]:
    """The columns of ``frame`` the dispatcher added (``row`` is always ours)."""
    theirs = set(input_frame.columns) - {"row"} if input_frame is not None else set()
    return {c for c in frame.columns if c not in theirs}


def formula_safe(frame: pl.DataFrame) -> pl.DataFrame:
    """Prefix text cells that a spreadsheet would evaluate as a formula."""
    pattern = "^[" + "".join("\\" + t if t in "-+" else t for t in FORMULA_TRIGGERS) + "]"
    return frame.with_columns(
        pl.when(pl.col(name).str.contains(pattern))
        .then(pl.lit("'") + pl.col(name))
        .otherwise(pl.col(name))
        .alias(name)
        for name, dtype in frame.schema.items()
        if dtype == pl.String
    )


def safe_header(name: str) -> str:
    """A column name as a CSV header cell: the header row is cells too, quoted the same way."""
    return "'" + name if name.startswith(FORMULA_TRIGGERS) else name


def write_csv(frame: pl.DataFrame, path: Path, *, separator: str = ",", bom: bool = False,
              excel: bool = False) -> Path:
    """Formula-safe CSV (cells and header), times as ISO-8601 UTC; ``bom`` + ``;`` suit
    Italian Excel, and ``excel`` keeps long or zero-led digit strings as text."""
    safe = formula_safe(frame)
    if excel:
        safe = excel_text(safe)
    safe = safe.rename({name: safe_header(name) for name in safe.columns})
    with atomic_writer(path) as stream:
        if bom:
            stream.write("\ufeff".encode())
        safe.write_csv(stream, separator=separator, datetime_format=CSV_DATETIME_FORMAT)
    return path


LONG_OR_ZERO_LED_DIGITS = r"^(0\d+|\d{12,})$"
"""Digit strings Excel would change when it opens a CSV: a leading zero dropped (a CAP, a
VAT number), or more than 15 digits rounded (an 18-digit pagoPA notice number)."""


def excel_text(frame: pl.DataFrame) -> pl.DataFrame:
    """Such digit strings written as ``="…"``: Excel shows the text exactly as it is.

    Applied after :func:`formula_safe`, only in the Excel dialect: a constant string is the
    one formula Excel evaluates to the same characters, and the notice number of a paper
    notice must survive a double click intact.
    """
    return frame.with_columns(
        pl.when(pl.col(name).str.contains(LONG_OR_ZERO_LED_DIGITS))
        .then(pl.lit('="') + pl.col(name) + pl.lit('"'))
        .otherwise(pl.col(name))
        .alias(name)
        for name, dtype in frame.schema.items()
        if dtype == pl.String
    )


def write_dialect_csv(frame: pl.DataFrame, path: Path, dialect: CsvDialect, *, ours: set[str],
                      lang: Language | str = Language.IT) -> Path:
    """``frame`` as ``dialect`` writes a CSV (see :mod:`~dispatcher.report.dialect`)."""
    spec = FORMATS[CsvDialect(dialect)]
    return write_csv(csv_table(frame, CsvDialect(dialect), ours=ours, lang=lang), path,
                     separator=spec.separator, bom=spec.bom,
                     excel=CsvDialect(dialect) is CsvDialect.EXCEL)


def write_parquet(frame: pl.DataFrame, path: Path) -> Path:
    """Parquet keeps the types (integers, UTC datetimes); no formula escaping is needed."""
    with atomic_writer(path) as stream:
        frame.write_parquet(stream)
    return path


def export_results(
    input_frame: pl.DataFrame | None,
    ledger: Ledger,
    campaign_id: int,
    out_dir: Path,
    *,
    lang: Language | str = Language.IT,
    dialect: CsvDialect = CsvDialect.EXCEL,
    opens: Opens | None = None,
) -> ExportPaths:
    """Write ``results.csv``, ``results.parquet`` and ``to_reach.csv`` into ``out_dir``."""
    from dispatcher.report.reach import rows_to_reach, write_to_reach

    frame = results_frame(input_frame, ledger, campaign_id, lang=lang, opens=opens)
    return ExportPaths(
        csv=write_dialect_csv(frame, out_dir / "results.csv", dialect,
                              ours=our_columns(frame, input_frame), lang=lang),
        parquet=write_parquet(frame, out_dir / "results.parquet"),
        to_reach=write_to_reach(rows_to_reach(ledger, campaign_id), input_frame,
                                out_dir / "to_reach.csv", dialect, lang),
    )


__all__ = [
    "FORMULA_TRIGGERS",
    "OPEN_COLUMNS",
    "RESULT_COLUMNS",
    "ExportPaths",
    "export_results",
    "formula_safe",
    "ledger_frame",
    "our_columns",
    "results_frame",
    "write_csv",
    "write_dialect_csv",
    "write_parquet",
]
