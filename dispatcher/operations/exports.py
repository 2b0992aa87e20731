"""``results.csv`` and ``results.parquet``: written by ``run`` exactly as ``report`` writes them.

One format for one file name: whichever command wrote ``results.csv`` last, an office gets
the same columns, separator (``;``), byte order mark and labels. Both go through
:func:`dispatcher.report.write_reports` with the report's default options.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import structlog

from dispatcher.ledger import Ledger
from dispatcher.report import ReportOptions, write_reports
from dispatcher.report.export import ExportPaths

if TYPE_CHECKING:
    import polars as pl

    from dispatcher.campaign import CampaignSource

__all__ = ["RESULT_FORMATS", "ExportPaths", "export_results", "input_for"]

log = structlog.get_logger("dispatcher.exports")

RESULT_FORMATS = frozenset({"csv", "parquet"})


def input_for(ledger: Ledger, campaign_id: int, *, explicit: Path | None = None,
              encoding: str | None = None, delimiter: str | None = None,
              ) -> tuple[pl.DataFrame | None, str | None]:
    """The campaign's input columns, found by the file's SHA-256; or None and a note why not.

    Raises :class:`~dispatcher.report.inputs.InputMismatch` for an ``explicit`` file that
    is not the campaign's.
    """
    from dispatcher.report.inputs import find_input

    match = find_input(ledger.campaigns.get(campaign_id), ledger.path, explicit=explicit,
                       encoding=encoding, delimiter=delimiter)
    return match.frame, match.note


def export_results(
    ledger: Ledger,
    campaign_id: int,
    out_dir: Path,
    *,
    input_frame: pl.DataFrame | None = None,
    source: CampaignSource | None = None,
) -> ExportPaths:
    """Write the two result files; the input columns come from ``input_frame`` or the file."""
    from dispatcher.report.inputs import InputMismatch

    frame = input_frame
    if frame is None and source is not None:
        try:
            frame, note = input_for(ledger, campaign_id, explicit=Path(source.path),
                                    encoding=source.options.encoding,
                                    delimiter=source.options.delimiter)
        except InputMismatch as exc:  # the file changed while the run went on
            frame, note = None, str(exc)
        if note:
            log.warning("export_without_input_columns", note=note)
    files = write_reports(ledger, campaign_id, out_dir, input_frame=frame,
                          options=ReportOptions(formats=RESULT_FORMATS))
    return ExportPaths(csv=files.written["csv"], parquet=files.written["parquet"])
