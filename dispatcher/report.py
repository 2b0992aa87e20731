"""Exports: the input columns of every row joined with what the ledger knows about it.

An office opens the CSV in Excel, so every text cell that Excel would run as a formula
(starting with ``=``, ``+``, ``-``, ``@``, tab or carriage return) is prefixed with ``'``.
Files are created with mode 0600: they hold fiscal codes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from dispatcher.ledger import Ledger

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")

RESULT_COLUMNS = (
    "outcome",
    "message_id",
    "http_status",
    "error_detail",
    "attempts",
    "sending_at",
    "decided_at",
)


@dataclass(frozen=True)
class ExportPaths:
    csv: Path
    parquet: Path


def ledger_frame(ledger: Ledger, campaign_id: int) -> pl.DataFrame:
    """One row per input row: its outcome, IO message id, HTTP status, error and times."""
    records = [
        (r.row, r.state.value, r.message_id, r.http_status, r.detail, r.attempts,
         r.sending_at, r.decided_at)
        for r in ledger.rows(campaign_id)
    ]
    frame = pl.DataFrame(
        records,
        schema={
            "row": pl.Int64, "outcome": pl.String, "message_id": pl.String,
            "http_status": pl.Int64, "error_detail": pl.String, "attempts": pl.Int64,
            "sending_at": pl.Float64, "decided_at": pl.Float64,
        },
        orient="row",
    )
    return frame.with_columns(
        (pl.col(c) * 1_000_000).cast(pl.Int64).cast(pl.Datetime("us", "UTC")).alias(c)
        for c in ("sending_at", "decided_at")
    )


def results_frame(input_frame: pl.DataFrame, ledger: Ledger, campaign_id: int) -> pl.DataFrame:
    """Input columns (with ``row``) + result columns; input names win, ours get a prefix."""
    results = ledger_frame(ledger, campaign_id)
    clashes = set(input_frame.columns) & set(RESULT_COLUMNS)
    results = results.rename({c: f"dispatcher_{c}" for c in clashes})
    return input_frame.join(results, on="row", how="left", maintain_order="left")


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


def _private(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    os.chmod(path, 0o600)
    return path


def write_csv(frame: pl.DataFrame, path: Path, *, separator: str = ",", bom: bool = False) -> Path:
    """Formula-safe CSV, times as ISO-8601 UTC; ``bom`` + ``;`` suit Italian Excel."""
    safe = formula_safe(frame)
    text = safe.write_csv(separator=separator, datetime_format="%Y-%m-%dT%H:%M:%S%.3fZ")
    _private(path).write_text(("\ufeff" if bom else "") + text, encoding="utf-8")
    return path


def export_results(
    input_frame: pl.DataFrame, ledger: Ledger, campaign_id: int, out_dir: Path
) -> ExportPaths:
    """Write ``results.csv`` and ``results.parquet`` into ``out_dir``."""
    frame = results_frame(input_frame, ledger, campaign_id)
    csv_path = write_csv(frame, out_dir / "results.csv")
    parquet_path = _private(out_dir / "results.parquet")
    frame.write_parquet(parquet_path)
    return ExportPaths(csv=csv_path, parquet=parquet_path)
