"""Digit strings Excel would change on a double click are kept as text in the Excel dialect."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from dispatcher.report import CsvDialect
from dispatcher.report.export import write_dialect_csv


def test_notice_numbers_and_leading_zeros_survive_excel_and_plain_is_untouched(
        tmp_path: Path) -> None:
    frame = pl.DataFrame({"row": [2, 3], "codice_avviso": ["326063279842733207", "12"],
                          "cap": ["00184", "20121"], "nome": ["=SUM(A1)", "Anna"]})
    excel = write_dialect_csv(frame, tmp_path / "e.csv", CsvDialect.EXCEL, ours={"row"})
    lines = excel.read_text(encoding="utf-8-sig").splitlines()
    assert lines[1].split(";")[1:] == ['"=""326063279842733207"""', '"=""00184"""', "'=SUM(A1)"]
    assert lines[2].split(";")[1:] == ["12", "20121", "Anna"]
    plain = write_dialect_csv(frame, tmp_path / "p.csv", CsvDialect.PLAIN, ours={"row"})
    assert plain.read_text(encoding="utf-8").splitlines()[1] == \
        "2,326063279842733207,00184,'=SUM(A1)"
