"""Every report of one campaign in one call, for ``dispatcher report`` and for cron wrappers.

The command only parses flags; this decides which files to write and reads the ledger once
per kind of file. :func:`write_metrics_for_ledger` is the one call ``run`` and ``status``
need to leave a Prometheus textfile behind after a cron run (no polars import on that path).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from dispatcher.ledger import Ledger, LedgerError, TimelineSample, open_for_reading
from dispatcher.report.dialect import CsvDialect
from dispatcher.report.html import render_html
from dispatcher.report.labels import Language
from dispatcher.report.metrics import write_metrics
from dispatcher.report.opens import Opens, OpenTally
from dispatcher.report.reach import rows_to_reach, write_to_reach
from dispatcher.report.settle import SettleCommands, settle_commands
from dispatcher.report.summary import CampaignSummary, build_summary
from dispatcher.storage import write_atomically

if TYPE_CHECKING:
    import polars as pl

FORMATS = ("csv", "parquet", "html", "json")
FILE_NAMES = {"csv": "results.csv", "parquet": "results.parquet", "html": "report.html",
              "json": "summary.json", "to_reach": "to_reach.csv"}
"""``csv`` writes ``to_reach.csv`` beside ``results.csv``, in the same dialect."""


@dataclass(frozen=True)
class ReportOptions:
    formats: frozenset[str] = frozenset(FORMATS)
    lang: Language = Language.IT
    dialect: CsvDialect = CsvDialect.EXCEL  # Italian Excel: ";", a byte order mark, Rome time
    attention_limit: int = 20  # rows listed per reason on the page (to_reach.csv has all)
    timeline_runs: int = 5
    metrics_file: Path | None = None
    opens: Opens | None = None  # the content store's opens, by third-party id

    def __post_init__(self) -> None:
        unknown = set(self.formats) - set(FORMATS)
        if unknown:
            raise ValueError(f"unknown format(s) {sorted(unknown)}; known: {', '.join(FORMATS)}")


@dataclass(frozen=True)
class ReportFiles:
    summary: CampaignSummary
    written: dict[str, Path] = field(default_factory=dict)  # format (or "metrics") → path


def timelines(ledger: Ledger, run_ids: list[int]) -> dict[int, list[TimelineSample]]:
    """The per-second counters of each run."""
    return {run_id: ledger.runs.timeline(run_id) for run_id in run_ids}


def _settle(ledger: Ledger, campaign_id: int, summary: CampaignSummary,
            input_path: Path | None) -> SettleCommands:
    latest = ledger.campaigns.latest()
    return settle_commands(
        summary.runs, ledger_path=ledger.path, input_path=input_path,
        recorded_input=summary.campaign.input_path,
        template_recorded=summary.campaign.template_sha256 is not None,
        campaign_id=None if latest and latest.campaign_id == campaign_id else campaign_id,
    )


def write_reports(
    ledger: Ledger,
    campaign_id: int,
    out_dir: Path,
    *,
    input_frame: pl.DataFrame | None = None,
    input_path: Path | None = None,
    options: ReportOptions = ReportOptions(),
) -> ReportFiles:
    """Write the chosen files into ``out_dir`` (and the metrics file, if asked).

    ``input_path`` is where the campaign file was found: the suggested commands name it.
    """
    reach = rows_to_reach(ledger, campaign_id)
    tally: OpenTally | None = None
    if options.opens is not None:
        from dispatcher.report.export import opened

        _, tally = opened(input_frame, ledger, campaign_id, options.opens)
    summary = build_summary(ledger, campaign_id, to_reach=len(reach), opens=tally)
    summary = replace(summary, settle=_settle(ledger, campaign_id, summary, input_path))
    written: dict[str, Path] = {}
    if options.formats & {"csv", "parquet"}:
        from dispatcher.report.export import (
            our_columns,
            results_frame,
            write_dialect_csv,
            write_parquet,
        )

        frame = results_frame(input_frame, ledger, campaign_id, lang=options.lang,
                              opens=options.opens)
        if "csv" in options.formats:
            written["csv"] = write_dialect_csv(frame, out_dir / FILE_NAMES["csv"],
                                               options.dialect,
                                               ours=our_columns(frame, input_frame),
                                               lang=options.lang)
            written["to_reach"] = write_to_reach(reach, input_frame,
                                                 out_dir / FILE_NAMES["to_reach"],
                                                 options.dialect, options.lang)
        if "parquet" in options.formats:
            written["parquet"] = write_parquet(frame, out_dir / FILE_NAMES["parquet"])
    if "html" in options.formats:
        latest = [run.run_id for run in summary.runs[::-1][: options.timeline_runs]]
        page = render_html(summary, reach=reach, reach_limit=options.attention_limit,
                           timelines=timelines(ledger, latest), lang=options.lang,
                           timeline_runs=options.timeline_runs)
        written["html"] = write_atomically(out_dir / FILE_NAMES["html"], page)
    if "json" in options.formats:
        written["json"] = write_atomically(out_dir / FILE_NAMES["json"], summary.to_json())
    if options.metrics_file is not None:
        written["metrics"] = write_metrics(summary, options.metrics_file)
    return ReportFiles(summary=summary, written=written)


def write_metrics_for_ledger(
    ledger_path: Path, campaign_id: int | None, path: Path, *, campaign: str | None = None
) -> Path:
    """After a cron run: the Prometheus textfile of a campaign (default: the latest).

    ``campaign`` overrides the ``campaign`` label (default: the input file's name). Raises
    :class:`~dispatcher.ledger.LedgerError` when the ledger is missing or has no campaign.
    """
    ledger_path = Path(ledger_path)
    with open_for_reading(ledger_path) as ledger:
        if campaign_id is None:
            latest = ledger.campaigns.latest()
            if latest is None:
                raise LedgerError(f"{ledger_path}: the ledger holds no campaign yet")
            campaign_id = latest.campaign_id
        return write_metrics(build_summary(ledger, campaign_id), Path(path), campaign=campaign)
