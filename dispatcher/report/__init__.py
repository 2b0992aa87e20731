"""The report room: what happened to every row, for Excel, for a browser and for monitors.

The public face::

    from dispatcher.report import ReportOptions, write_reports, write_metrics_for_ledger

    files = write_reports(ledger, campaign_id, out_dir, input_frame=frame, options=ReportOptions())
    write_metrics_for_ledger(ledger_path, None, Path("/var/lib/node_exporter/dispatcher.prom"))

* ``export``: ``results.csv`` (formula-safe, in a ``dialect``: Excel or plain) and
  ``results.parquet``: the input columns joined with outcome, IO message id and IO status.
* ``reach``: ``to_reach.csv`` and the page's section of the people to reach another way.
* ``settle``: whether the campaign is complete, and the commands that settle what is open;
  ``advice``: what to do, once per outcome.
* ``html``: ``report.html``, one self-contained page with inline SVG charts (``charts``).
* ``summary``: the numbers (``summary.json``); ``metrics``: the Prometheus textfile.
* ``labels``, ``io_errors``: the words for every code, through the report's gettext catalog.
* ``opens``: the remote-content read signal (what the content store's opens say).

Modules that need polars (``export``) are imported on first use, so a cron wrapper that only
writes the metrics file does not pay for it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from dispatcher.ledger import RunRecord
from dispatcher.report.attention import AttentionRow, rows_needing_attention
from dispatcher.report.bundle import (
    FORMATS,
    ReportFiles,
    ReportOptions,
    write_metrics_for_ledger,
    write_reports,
)
from dispatcher.report.dialect import CsvDialect
from dispatcher.report.html import render_html
from dispatcher.report.labels import (
    OUTCOME_LABELS,
    Language,
    io_status_label,
    needs_attention,
    outcome_label,
)
from dispatcher.report.metrics import render_metrics, write_metrics
from dispatcher.report.opens import Opens
from dispatcher.report.reach import ReachRow, rows_to_reach
from dispatcher.report.settle import Completeness, SettleCommands
from dispatcher.report.summary import CampaignSummary, build_summary

if TYPE_CHECKING:
    from dispatcher.report.export import (
        ExportPaths,
        export_results,
        formula_safe,
        ledger_frame,
        results_frame,
        write_csv,
        write_parquet,
    )

_LAZY = {
    name: "dispatcher.report.export"
    for name in ("ExportPaths", "export_results", "formula_safe", "ledger_frame",
                 "results_frame", "write_csv", "write_parquet")
}

__all__ = [
    "FORMATS",
    "OUTCOME_LABELS",
    "AttentionRow",
    "CampaignSummary",
    "Completeness",
    "CsvDialect",
    "ExportPaths",
    "Language",
    "Opens",
    "ReachRow",
    "ReportFiles",
    "ReportOptions",
    "RunRecord",
    "SettleCommands",
    "build_summary",
    "export_results",
    "formula_safe",
    "io_status_label",
    "ledger_frame",
    "needs_attention",
    "outcome_label",
    "render_html",
    "render_metrics",
    "results_frame",
    "rows_needing_attention",
    "rows_to_reach",
    "write_csv",
    "write_metrics",
    "write_metrics_for_ledger",
    "write_parquet",
    "write_reports",
]


def __getattr__(name: str) -> Any:
    """Load the polars-based export names on first use."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'dispatcher.report' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
