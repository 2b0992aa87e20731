"""Run output: a Rich progress bar on a terminal, and the end-of-run summary.

The core never imports Rich: the runner calls these hooks, and the CLI wires them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from types import TracebackType
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from dispatcher.commands._output import console
from dispatcher.logs import scrub_text
from dispatcher.report.labels import OUTCOME_LABELS
from dispatcher.vocabulary import TERMINAL_STATES, RowState

if TYPE_CHECKING:
    from dispatcher.operations.run import RunResult as RunSummary
    from dispatcher.pacing import PacerStatistics
    from dispatcher.report import ExportPaths


class RunProgress:
    """A progress bar with rate, 429s and ETA; only when stderr is a terminal."""

    def __init__(self, target: Console) -> None:
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[pace]}"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=target,
            transient=False,
        )
        self._task: TaskID | None = None
        self._stats: Callable[[], PacerStatistics] | None = None

    @classmethod
    def for_terminal(cls, target: Console) -> RunProgress | None:
        return cls(target) if target.is_terminal else None

    def __enter__(self) -> RunProgress:
        self._progress.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._progress.stop()

    def start(self, campaign_id: int, counts: dict[RowState, int]) -> None:
        total = sum(counts.values())
        done = sum(counts[s] for s in TERMINAL_STATES)
        self._task = self._progress.add_task(
            f"campaign {campaign_id}", total=total, completed=done, pace=""
        )

    def watch_pacer(self, stats: Callable[[], PacerStatistics]) -> None:
        self._stats = stats

    def advance(self, state: RowState) -> None:
        if self._task is None:
            return
        pace = ""
        if self._stats is not None:
            s = self._stats()
            pace = f"{s.current_rate:5.1f} req/s · 429s {s.throttled}"
        self._progress.update(self._task, advance=1, pace=pace)


def render_summary(summary: RunSummary, paths: ExportPaths | None, *, json_output: bool) -> None:
    """The end-of-run summary: counts by outcome, where the ledger and exports are."""
    cache = summary.profile_cache
    if json_output:
        console.print_json(
            json.dumps(
                {
                    "campaign_id": summary.campaign_id,
                    "run_id": summary.run_id,
                    "outcomes": {s.value: n for s, n in summary.counts.items()},
                    "duration_s": round(summary.duration_s, 3),
                    "requests": summary.requests,
                    "throttled": summary.throttled,
                    "profile_cache": None if cache is None else {
                        "hits": cache.hits, "checked": cache.checked,
                        "remembered": cache.remembered,
                    },
                    "stopped_reason": summary.stopped_reason,
                    "fatal": summary.fatal,
                    "unreached": summary.unreached,
                    "postponed": summary.postponed,
                    "journal": str(summary.journal) if summary.journal else None,
                    "exit_code": int(summary.exit_code),
                    "ledger": str(summary.ledger_path),
                    "results_csv": str(paths.csv) if paths else None,
                    "results_parquet": str(paths.parquet) if paths else None,
                }
            )
        )
        return
    table = Table(title=f"Campaign {summary.campaign_id}, run {summary.run_id}")
    table.add_column("outcome")
    table.add_column("rows", justify="right")
    for state, n in summary.counts.items():
        if n:
            table.add_row(OUTCOME_LABELS[state], str(n))
    console.print(table)
    rate = summary.requests / summary.duration_s if summary.duration_s else 0.0
    console.print(
        f"{summary.requests} requests in {summary.duration_s:.1f} s ({rate:.1f}/s), "
        f"{summary.throttled} answered 429"
    )
    if cache is not None:
        console.print(
            f"profile cache: {cache.hit_total} row(s) decided without POST /profiles, "
            f"{cache.checked} checked with IO, {cache.remembered} answer(s) stored"
        )
    if summary.recovered_ambiguous:
        console.print(
            f"[yellow]{summary.recovered_ambiguous} row(s) were in flight when a run stopped: "
            "marked ambiguous, not resent.[/]"
        )
    if summary.counts[RowState.ALREADY_SENT]:
        console.print(
            f"{summary.counts[RowState.ALREADY_SENT]} row(s) already sent by this service "
            f"(send journal {summary.journal}): not sent again; --allow-resend to send anyway.",
            markup=False)
    if summary.unreached:
        console.print(
            f"[yellow]{summary.unreached} row(s) could not reach IO (connection refused, DNS, "
            "timeout before sending): left pending, nothing was sent for them.[/]"
        )
    if summary.postponed:
        console.print(
            f"[yellow]{summary.postponed} row(s) are being sent by another run of this service "
            "right now: left pending; rerun once it is done.[/]"
        )
    if summary.stopped_reason and summary.unfinished and not summary.fatal:
        console.print(
            f"[yellow]Stopped ({escape(scrub_text(summary.stopped_reason))}); "
            f"{summary.unfinished} row(s) left. Rerun the same command to resume.[/]"
        )
    elif summary.unfinished and not summary.fatal:
        console.print(
            f"[yellow]{summary.unfinished} row(s) left pending. Rerun the same command to "
            "resume.[/]"
        )
    if summary.fatal:
        console.print(f"[red]{escape(scrub_text(summary.fatal))}[/]")
    console.print(f"ledger: {summary.ledger_path}")
    if paths:
        console.print(f"results: {paths.csv} · {paths.parquet}")
