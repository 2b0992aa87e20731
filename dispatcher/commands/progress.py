"""Run output: a Rich progress bar on a terminal, and the end-of-run summary.

The core never imports Rich: the runner calls these hooks, and the CLI wires them. Every
label is in the invocation's language (``_``), counts as that language writes them; the
"rerun" advice is a whole command line with the flags this run was given (:mod:`.hints`).
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
from rich.text import Text

from dispatcher.commands._output import _, console, ngettext, num, tr
from dispatcher.logs import logs_through, scrub_text
from dispatcher.report.labels import outcome_label
from dispatcher.vocabulary import TERMINAL_STATES, RowState

if TYPE_CHECKING:
    from dispatcher.commands.hints import Invocation
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
            TextColumn(_("ETA")),
            TimeRemainingColumn(),
            console=target,
            transient=False,
        )
        self._task: TaskID | None = None
        self._stats: Callable[[], PacerStatistics] | None = None
        self._logs = logs_through(self._print_log)  # log lines above the bar, never inside

    @classmethod
    def for_terminal(cls, target: Console) -> RunProgress | None:
        return cls(target) if target.is_terminal else None

    def __enter__(self) -> RunProgress:
        self._progress.start()
        self._logs.__enter__()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._logs.__exit__(kind, exc, tb)
        self._progress.stop()

    def _print_log(self, line: str) -> None:
        """One console log line (structlog's colours kept, or dropped under NO_COLOR)."""
        self._progress.console.print(Text.from_ansi(line.rstrip("\n")))

    def start(self, campaign_id: int, counts: dict[RowState, int]) -> None:
        total = sum(counts.values())
        done = sum(counts[s] for s in TERMINAL_STATES)
        self._task = self._progress.add_task(
            _("campaign {id}").format(id=campaign_id), total=total, completed=done, pace=""
        )

    def watch_pacer(self, stats: Callable[[], PacerStatistics]) -> None:
        self._stats = stats

    def advance(self, state: RowState) -> None:
        if self._task is None:
            return
        pace = ""
        if self._stats is not None:
            s = self._stats()
            pace = _("{rate} req/s · 429s {throttled}").format(
                rate=tr().number(round(s.current_rate, 1)), throttled=num(s.throttled))
        self._progress.update(self._task, advance=1, pace=pace)


def render_summary(summary: RunSummary, paths: ExportPaths | None, *, json_output: bool,
                   rerun: Invocation | None = None) -> None:
    """The end-of-run summary: counts by outcome, where the ledger and exports are.

    ``rerun``: the invocation whose flags the advice to run again repeats (default: this
    process's command line).
    """
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
                    "scheduled_later": summary.scheduled_later,
                    "next_due": _iso_rome(summary.next_due),
                    "journal": str(summary.journal) if summary.journal else None,
                    "exit_code": int(summary.exit_code),
                    "ledger": str(summary.ledger_path),
                    "results_csv": str(paths.csv) if paths else None,
                    "results_parquet": str(paths.parquet) if paths else None,
                }
            )
        )
        return
    _render_table(summary)
    _render_notes(summary, rerun)
    console.print(_("ledger: {path}").format(path=summary.ledger_path), markup=False)
    if paths:
        console.print(_("results: {csv} · {parquet}").format(csv=paths.csv,
                                                             parquet=paths.parquet),
                      markup=False)


def _iso_rome(instant: float | None) -> str | None:
    """A Unix time as ISO 8601 in Italian time (``2027-01-31T08:00:00+01:00``)."""
    if instant is None:
        return None
    from datetime import datetime

    from dispatcher.schedule import ROME

    return datetime.fromtimestamp(instant, ROME).isoformat(timespec="seconds")


def _render_table(summary: RunSummary) -> None:
    table = Table(title=_("Campaign {campaign}, run {run}").format(
        campaign=summary.campaign_id, run=summary.run_id))
    table.add_column(_("outcome"))
    table.add_column(_("rows"), justify="right")
    for state, n in summary.counts.items():
        if n:
            table.add_row(outcome_label(state, tr().language), num(n))
    console.print(table)
    rate = summary.requests / summary.duration_s if summary.duration_s else 0.0
    console.print(_("{requests} requests in {seconds} s ({rate}/s), {throttled} answered 429")
                  .format(requests=num(summary.requests),
                          seconds=tr().number(round(summary.duration_s, 1)),
                          rate=tr().number(round(rate, 1)), throttled=num(summary.throttled)))
    cache = summary.profile_cache
    if cache is not None:
        console.print(_("profile cache: {hits} row(s) decided without POST /profiles, "
                        "{checked} checked with IO, {stored} answer(s) stored").format(
            hits=num(cache.hit_total), checked=num(cache.checked),
            stored=num(cache.remembered)))


def _yellow(text: str) -> None:
    console.print(f"[yellow]{escape(text)}[/]")


def _render_notes(summary: RunSummary, rerun: Invocation | None) -> None:
    """What needs the operator's attention, each with the command that deals with it."""
    from dispatcher.commands.hints import Invocation, suggest

    invocation = rerun if rerun is not None else Invocation.current()
    again = (suggest("run", invocation.file, invocation=invocation)
             if invocation.file is not None else None)
    if summary.recovered_ambiguous:
        _yellow(ngettext("{n} row was in flight when a run stopped: marked ambiguous, not "
                         "resent.",
                         "{n} rows were in flight when a run stopped: marked ambiguous, not "
                         "resent.", summary.recovered_ambiguous).format(
                             n=num(summary.recovered_ambiguous)))
    ambiguous = summary.counts[RowState.AMBIGUOUS]
    if ambiguous:
        resend = (suggest("run", invocation.file, flags=("--resend-ambiguous",),
                          invocation=invocation) if invocation.file is not None
                  else "--resend-ambiguous")
        _yellow(ngettext(
            "{n} ambiguous row: IO may or may not have stored its message, so it was not "
            "resent. See the results file below (or `dispatcher report` for the advice); "
            "resending "
            "risks a duplicate. To resend it: {command}",
            "{n} ambiguous rows: IO may or may not have stored their messages, so they were "
            "not resent. See the results file below (or `dispatcher report` for the advice); "
            "resending "
            "risks duplicates. To resend them: {command}", ambiguous).format(
                n=num(ambiguous), command=resend))
    already = summary.counts[RowState.ALREADY_SENT]
    if already:
        anyway = (suggest("run", invocation.file, flags=("--allow-resend",),
                          invocation=invocation) if invocation.file is not None
                  else "--allow-resend")
        console.print(_("{n} row(s) already sent by this service (send journal {journal}): "
                        "not sent again. To send them anyway: {command}").format(
            n=num(already), journal=summary.journal, command=anyway), markup=False)
    if summary.unreached:
        _yellow(_("{n} row(s) could not reach IO (connection refused, DNS, timeout before "
                  "sending): left pending, nothing was sent for them.").format(
                      n=num(summary.unreached)))
    if summary.postponed:
        _yellow(_("{n} row(s) are being sent by another run of this service right now: left "
                  "pending; rerun once it is done.").format(n=num(summary.postponed)))
    if summary.scheduled_later:
        from datetime import UTC, datetime

        assert summary.next_due is not None  # set whenever rows are scheduled
        console.print(ngettext(
            "{n} row scheduled for later (at {when}): a later run sends it once due (e.g. "
            "the same command from cron, every hour).",
            "{n} rows scheduled for later (next: {when}): a later run sends them once due "
            "(e.g. the same command from cron, every hour).", summary.scheduled_later).format(
            n=num(summary.scheduled_later),
            when=tr().datetime(datetime.fromtimestamp(summary.next_due, UTC))), markup=False)
    resume = (_("To resume, run: {command}").format(command=again) if again
              else _("Rerun the same command to resume."))
    if summary.stopped_reason and summary.unfinished and not summary.fatal:
        _yellow(_("Stopped ({reason}); {n} row(s) left.").format(
            reason=scrub_text(summary.stopped_reason), n=num(summary.unfinished))
            + " " + resume)
    elif summary.unfinished and not summary.fatal:
        _yellow(_("{n} row(s) left pending.").format(n=num(summary.unfinished))
                + " " + resume)
    if summary.fatal:
        console.print(f"[red]{escape(scrub_text(summary.fatal))}[/]")
