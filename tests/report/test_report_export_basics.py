"""Exports join the input with the ledger and are safe to open in a spreadsheet."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import polars as pl
import pytest

from dispatcher.ledger import Ledger, NewRow, Outcome
from dispatcher.report import CsvDialect, export_results, formula_safe
from dispatcher.vocabulary import RowState


@pytest.mark.parametrize("cell", ["=1+1", "+39 333", "-2", "@SUM(A1)", "\tx", "\rx"])
def test_cells_a_spreadsheet_would_evaluate_are_prefixed(cell: str) -> None:
    frame = formula_safe(pl.DataFrame({"note": [cell]}))
    assert frame["note"][0] == "'" + cell


def test_harmless_cells_are_untouched() -> None:
    frame = formula_safe(pl.DataFrame({"note": ["Mario", "1-2", "a=b", None], "n": [1, 2, 3, 4]}))
    assert frame["note"].to_list() == ["Mario", "1-2", "a=b", None]


def test_export_has_input_columns_row_outcome_and_private_mode(tmp_path: Path) -> None:
    with Ledger.open(tmp_path / "l.sqlite") as ledger:
        cid = ledger.campaigns.start(
            input_path="c.csv", input_sha256="0" * 64, template_sha256=None,
            rows=[NewRow(2, "RSSMRA85T10A562S", RowState.PENDING, "h"),
                  NewRow(3, "X", RowState.INVALID, None, "fiscal_code: bad")],
        )
        run = ledger.runs.begin(cid, rate="1/s")
        ledger.rows.mark_sending(cid, run, [2])
        ledger.rows.record_outcomes(cid, run, [Outcome(2, RowState.SENT, 201, "01MSGID", None, 1)])
        frame = pl.DataFrame({"row": [2, 3], "codice_fiscale": ["RSSMRA85T10A562S", "X"],
                              "outcome": ["=cmd", "x"]})
        paths = export_results(frame, ledger, cid, tmp_path / "out", dialect=CsvDialect.PLAIN)
    assert stat.S_IMODE(os.stat(paths.csv).st_mode) == 0o600
    exported = pl.read_csv(paths.csv, infer_schema=False)
    assert exported.columns[:3] == ["row", "codice_fiscale", "outcome"]
    assert exported["outcome"].to_list() == ["'=cmd", "x"]  # the input's own column
    assert exported["dispatcher_outcome"].to_list() == ["sent", "invalid"]
    assert exported["message_id"].to_list() == ["01MSGID", None]
    assert exported["decided_at"][0].endswith("Z")
    parquet = pl.read_parquet(paths.parquet)
    assert parquet["http_status"].to_list() == [201, None]
