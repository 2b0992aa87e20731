"""write_reports: every chosen file in one call, Italian Excel defaults, private files."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from reporttools import ROWS, ledger_dump, parse_exposition

from dispatcher.report import FORMATS, Language, ReportOptions, write_reports
from dispatcher.report.inputs import input_frame_of


def test_the_defaults_write_all_four_files_for_italian_excel(mixed, tmp_path: Path) -> None:
    before = ledger_dump(mixed.path)
    out = tmp_path / "out"
    with mixed.open() as ledger:
        files = write_reports(ledger, mixed.campaign_id, out,
                              input_frame=input_frame_of(mixed.input_file))
    assert set(FORMATS) == {"csv", "parquet", "html", "json"}
    assert set(files.written) == {*FORMATS, "to_reach"}  # csv brings to_reach.csv along
    assert sorted(p.name for p in out.iterdir()) == ["report.html", "results.csv",
                                                     "results.parquet", "summary.json",
                                                     "to_reach.csv"]
    for path in files.written.values():
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, path
    raw = files.written["csv"].read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and raw[3:].startswith(b"Riga;codice_fiscale;")
    data = json.loads(files.written["json"].read_text("utf-8"))
    assert data["rows"]["total"] == len(ROWS) == files.summary.total_rows
    assert '<html lang="it">' in files.written["html"].read_text("utf-8")
    assert ledger_dump(mixed.path) == before  # reports only read the ledger


def test_only_the_chosen_formats_and_the_metrics_file(mixed, tmp_path: Path) -> None:
    prom = tmp_path / "textfile" / "dispatcher.prom"
    with mixed.open() as ledger:
        files = write_reports(ledger, mixed.campaign_id, tmp_path / "out", options=ReportOptions(
            formats=frozenset({"json"}), lang=Language.EN, metrics_file=prom))
    assert set(files.written) == {"json", "metrics"}
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["summary.json"]
    assert stat.S_IMODE(os.stat(prom).st_mode) == 0o644
    assert parse_exposition(prom.read_text()).value("dispatcher_rows", outcome="sent") == 6


def test_an_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown format"):
        ReportOptions(formats=frozenset({"csv", "pdf"}))
