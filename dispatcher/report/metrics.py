"""A Prometheus textfile for node_exporter's textfile collector, written after a cron run.

Cron jobs end before any scraper could ask them, so the numbers are left in a ``*.prom`` file
that node_exporter reads on every scrape (``--collector.textfile.directory``). The file is
written to a temporary file in the same folder and renamed, as the collector's documentation
asks: a scrape never sees half a file.

The file holds counts and the campaign file's name, no personal data, and node_exporter
usually runs as another user: it is world-readable (0644), unlike every other file we write.

Every series carries ``campaign`` (the input file's name, reduced to characters that are safe
everywhere) and ``campaign_id``, so two jobs writing two files to the same folder do not clash.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from dispatcher.privacy import mask_fiscal_codes_in
from dispatcher.report.summary import CampaignSummary
from dispatcher.storage import write_atomically

METRICS_FILE_MODE = 0o644


@dataclass(frozen=True)
class Family:
    """One metric family: name, type, help and its samples (extra labels → value)."""

    name: str
    kind: str  # gauge | counter
    help: str
    samples: tuple[tuple[dict[str, str], float], ...]


def campaign_label(input_name: str) -> str:
    """``TARI città (def).csv`` → ``tari_citta_def``: lower case, ``[a-z0-9_.-]``, ≤ 64 chars.

    A fiscal code in the name (``sollecito_RSSMRA85T10A562S.csv``) is masked first: the file
    is world-readable and scraped into a monitoring system.
    """
    stem = Path(mask_fiscal_codes_in(input_name)).stem
    bare = "".join(c for c in unicodedata.normalize("NFKD", stem) if not unicodedata.combining(c))
    cleaned = re.sub(r"[^a-z0-9_.-]+", "_", bare.lower()).strip("_.-")
    return cleaned[:64] or "campaign"


def escape_label_value(value: str) -> str:
    """The text format's escapes inside a quoted label value."""
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def families(summary: CampaignSummary) -> list[Family]:
    """The metric families of one campaign summary."""
    last = summary.last_run
    last_at = None
    if last is not None:
        last_at = last.finished_at if last.finished_at is not None else last.started_at
    passes = summary.status_passes
    found = [
        Family("dispatcher_rows", "gauge", "Rows of the campaign by outcome.",
               tuple(({"outcome": s.value}, float(n)) for s, n in summary.outcomes.items())),
        Family("dispatcher_rows_needing_attention", "gauge",
               "Rows that are ambiguous, failed, refused, or REJECTED/FAILED by IO.",
               (({}, float(summary.needing_attention)),)),
        Family("dispatcher_io_messages", "gauge",
               "Sent messages by their latest IO status (NOT_CHECKED: not asked yet).",
               tuple(({"status": s}, float(n)) for s, n in summary.io_statuses.items())),
        Family("dispatcher_campaign_complete", "gauge",
               "1 when every row is final (sent messages included) and none is ambiguous.",
               (({}, 1.0 if summary.completeness.complete else 0.0),)),
        Family("dispatcher_rows_open", "gauge",
               "Rows that still need a decision: unfinished, ambiguous, IO status not final.",
               (({}, float(summary.completeness.open_rows)),)),
        Family("dispatcher_runs", "gauge", "Runs that worked on the campaign.",
               (({}, float(len(summary.runs))),)),
        Family("dispatcher_run_requests_total", "counter",
               "Requests sent to IO by the campaign's runs.",
               (({}, float(summary.requests)),)),
        Family("dispatcher_run_throttled_total", "counter",
               "Requests of the campaign's runs that IO answered with 429.",
               (({}, float(summary.throttled)),)),
        Family("dispatcher_run_duration_seconds", "gauge",
               "Seconds the campaign's runs took, in all.",
               (({}, round(summary.duration_s, 3)),)),
        Family("dispatcher_run_mean_rate", "gauge",
               "Mean requests per second over the campaign's runs.",
               (({}, round(summary.mean_rate, 3)),)),
        Family("dispatcher_status_requests_total", "counter",
               "Requests sent to IO by status passes over the campaign.",
               (({}, float(passes.requests)),)),
        Family("dispatcher_report_generated_timestamp_seconds", "gauge",
               "When this file was written (Unix time).",
               (({}, round(summary.generated_at, 3)),)),
    ]
    if last is not None and last_at is not None:
        found += [
            Family("dispatcher_last_run_timestamp_seconds", "gauge",
                   "When the last run finished (or started, if it never finished).",
                   (({}, round(last_at, 3)),)),
            Family("dispatcher_last_run_exit_code", "gauge",
                   "Exit code of the last run (-1: it did not finish).",
                   (({}, float(last.exit_code if last.exit_code is not None else -1)),)),
        ]
    return found


def render_metrics(summary: CampaignSummary, *, campaign: str | None = None) -> str:
    """The Prometheus text exposition format (0.0.4) of ``summary``."""
    common = {
        "campaign": campaign_label(campaign or summary.input_name),
        "campaign_id": str(summary.campaign.campaign_id),
    }
    lines: list[str] = []
    for family in families(summary):
        lines.append(f"# HELP {family.name} {family.help}")
        lines.append(f"# TYPE {family.name} {family.kind}")
        for extra, value in family.samples:
            labels = ",".join(
                f'{k}="{escape_label_value(v)}"' for k, v in {**common, **extra}.items()
            )
            lines.append(f"{family.name}{{{labels}}} {_number(value)}")
    return "\n".join(lines) + "\n"


def write_metrics(summary: CampaignSummary, path: Path, *, campaign: str | None = None) -> Path:
    """Write the textfile atomically (temporary file in the same folder, then rename)."""
    return write_atomically(Path(path), render_metrics(summary, campaign=campaign),
                            mode=METRICS_FILE_MODE)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))
