"""``results.csv``, ``results.parquet`` and ``to_reach.csv``: written by ``run`` as ``report``
writes them.

One format for one file name: whichever command wrote ``results.csv`` last, an office gets
the same columns, dialect (Excel by default: ``;``, byte order mark, Rome times, titles in the
chosen language; or ``plain``) and labels. Both commands go through
:func:`dispatcher.report.write_reports`; :class:`ExportOptions` carries the operator's
``--csv-dialect`` and ``--lang`` from ``run`` to it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import structlog

from dispatcher.ledger import Ledger
from dispatcher.report import CsvDialect, Language, ReportOptions, write_reports
from dispatcher.report.export import ExportPaths

if TYPE_CHECKING:
    import polars as pl

    from dispatcher.campaign import CampaignSource
    from dispatcher.report.inputs import InputMatch

__all__ = ["RESULT_FORMATS", "ExportOptions", "ExportPaths", "export_results",
           "find_campaign_input", "input_for"]

log = structlog.get_logger("dispatcher.exports")

RESULT_FORMATS = frozenset({"csv", "parquet"})


@dataclass(frozen=True)
class ExportOptions:
    """How ``run`` writes its exports: the same choices ``report`` offers."""

    dialect: CsvDialect = CsvDialect.EXCEL  # --csv-dialect excel|plain
    lang: Language = Language.IT  # --lang
    content_store: Path | None = None  # opens of remote-content messages are read from here


def find_campaign_input(ledger: Ledger, campaign_id: int, *, explicit: Path | None = None,
                        encoding: str | None = None, delimiter: str | None = None,
                        read: bool = True) -> InputMatch:
    """The campaign's input file, found by its SHA-256 (and read, unless ``read=False``).

    Raises :class:`~dispatcher.report.inputs.InputMismatch` for an ``explicit`` file that
    is not the campaign's.
    """
    from dispatcher.report.inputs import find_input

    return find_input(ledger.campaigns.get(campaign_id), ledger.path, explicit=explicit,
                      encoding=encoding, delimiter=delimiter, read=read)


def input_for(ledger: Ledger, campaign_id: int, *, explicit: Path | None = None,
              encoding: str | None = None, delimiter: str | None = None,
              ) -> tuple[pl.DataFrame | None, str | None]:
    """The campaign's input columns, found by the file's SHA-256; or None and a note why not."""
    match = find_campaign_input(ledger, campaign_id, explicit=explicit, encoding=encoding,
                                delimiter=delimiter)
    return match.frame, match.note


def export_results(
    ledger: Ledger,
    campaign_id: int,
    out_dir: Path,
    *,
    input_frame: pl.DataFrame | None = None,
    source: CampaignSource | None = None,
    options: ExportOptions | None = None,
) -> ExportPaths:
    """Write the result files; the input columns come from ``input_frame`` or the file."""
    from dispatcher.report.inputs import InputMismatch

    chosen = options or ExportOptions()
    frame, path = input_frame, Path(source.path) if source is not None else None
    if frame is None and source is not None:
        try:
            frame, note = input_for(ledger, campaign_id, explicit=Path(source.path),
                                    encoding=source.options.encoding,
                                    delimiter=source.options.delimiter)
        except InputMismatch as exc:  # the file changed while the run went on
            frame, note, path = None, str(exc), None
        if note:
            log.warning("export_without_input_columns", note=note)
    from dispatcher.operations.content import read_opens

    opens = read_opens(chosen.content_store, ledger.rows.third_party_ids(campaign_id).values())
    files = write_reports(ledger, campaign_id, out_dir, input_frame=frame, input_path=path,
                          options=ReportOptions(formats=RESULT_FORMATS, dialect=chosen.dialect,
                                                lang=chosen.lang, opens=opens))
    return ExportPaths(csv=files.written["csv"], parquet=files.written["parquet"],
                       to_reach=files.written["to_reach"])
