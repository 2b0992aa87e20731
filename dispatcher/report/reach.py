"""The people IO did not (or may not) reach: the office must write to them another way.

Exactly these rows: invalid in the file, no IO profile, the service turned off by the
citizen, refused or failed at submit, ambiguous (IO cannot tell whether it arrived), and sent
messages that IO ended REJECTED or FAILED after processing. Not the rows that went
(``sent``), that this service sent before (``already_sent``), nor a ``duplicate`` (its
citizen gets the message of the first row). Rows not decided yet (pending, in flight) are not
listed either: the report says they are open, and they may still go through IO.

``to_reach.csv`` carries the input's own columns in full (names, address, amount: what a
paper notice needs) and the reason in the report's language, so it can feed a mail merge.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from dispatcher.ledger import Ledger
from dispatcher.report.io_errors import explain_detail
from dispatcher.report.labels import REASONS, Language, reason_key, reason_label
from dispatcher.vocabulary import RowState

if TYPE_CHECKING:
    import polars as pl

    from dispatcher.report.dialect import CsvDialect

__all__ = ["REACH_COLUMNS", "ReachRow", "rows_to_reach", "to_reach_frame", "write_to_reach"]

REACH_COLUMNS = ("reason", "reason_label", "reason_detail")
_ORDER = {key: i for i, key in enumerate(REASONS)}


@dataclass(frozen=True)
class ReachRow:
    row: int
    fiscal_code: str  # whole: callers that show it to people mask it
    reason: str  # a key of labels.REASONS
    http_status: int | None
    detail: str | None  # as recorded (ours or IO's words)


def rows_to_reach(ledger: Ledger, campaign_id: int) -> list[ReachRow]:
    """Every row to reach another way, grouped by reason (in REASONS order), then by row."""
    statuses = ledger.statuses.latest(campaign_id)
    found: list[ReachRow] = []
    for r in ledger.rows.all(campaign_id):
        known = statuses.get(r.row)
        io_status = known.status if known and r.state is RowState.SENT else None
        key = reason_key(r.state, io_status)
        if key is None:
            continue
        detail = r.detail if r.state is not RowState.SENT else (known.detail if known else None)
        found.append(ReachRow(r.row, r.fiscal_code, key, r.http_status, detail))
    found.sort(key=lambda a: (_ORDER[a.reason], a.row))
    return found


def to_reach_frame(rows: list[ReachRow], input_frame: pl.DataFrame | None,
                   lang: Language | str = Language.IT) -> pl.DataFrame:
    """The input's columns of those rows (or row + fiscal code without the input), then the
    reason code, its words and the detail explained."""
    import polars as pl

    reasons = pl.DataFrame(
        [(a.row, a.fiscal_code, a.reason, reason_label(a.reason, lang),
          explain_detail(a.detail, a.http_status, lang)) for a in rows],
        orient="row",
        schema={"row": pl.Int64, "fiscal_code": pl.String, "reason": pl.String,
                "reason_label": pl.String, "reason_detail": pl.String},
    )
    if input_frame is None:
        return reasons
    ours = reasons.drop("fiscal_code").rename(
        {c: f"dispatcher_{c}" for c in REACH_COLUMNS if c in input_frame.columns})
    return ours.select("row").join(input_frame, on="row", how="left",
                                   maintain_order="left").join(ours, on="row", how="left",
                                                               maintain_order="left")


def write_to_reach(rows: list[ReachRow], input_frame: pl.DataFrame | None, path: Path,
                   dialect: CsvDialect, lang: Language | str = Language.IT) -> Path:
    """``to_reach.csv`` (mode 0600), in the same dialect as ``results.csv``."""
    from dispatcher.report.export import write_dialect_csv

    frame = to_reach_frame(rows, input_frame, lang)
    ours = {"row", *(c for c in frame.columns if c.removeprefix("dispatcher_") in REACH_COLUMNS)}
    if input_frame is None:
        ours.add("fiscal_code")
    return write_dialect_csv(frame, path, dialect, ours=ours, lang=lang)
