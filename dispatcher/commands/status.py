"""``dispatcher status LEDGER``: ask IO what became of the sent messages; never sends."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from dispatcher.commands._output import (
    LANG_OPTION,
    _,
    console,
    err_console,
    fail,
    json_errors,
    num,
    refused,
    tr,
    use_language,
)
from dispatcher.vocabulary import FINAL_STATUSES, ExitCode, MessageStatus

if TYPE_CHECKING:
    from dispatcher.ledger import StatusObservation
    from dispatcher.operations.status import StatusResult


def resolve_ledger(path: Path) -> Path:
    """Accept the ledger, its folder, or the campaign file it was made for."""
    if path.is_dir():
        return path / "ledger.sqlite"
    from dispatcher.paths import default_ledger_path, is_campaign_file

    if is_campaign_file(path):
        return default_ledger_path(path)
    return path


def _duration(text: str) -> float:
    from dispatcher.durations import parse_duration

    try:
        return parse_duration(text)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None  # durations.py words it (English)


def command(
    ledger: Path = typer.Argument(
        ..., help="Ledger file (or its folder, or the campaign file).", show_default=False
    ),
    campaign: int | None = typer.Option(
        None, "--campaign", help="Campaign id in the ledger (default: the latest)."
    ),
    min_age: str | None = typer.Option(
        None, "--min-age",
        help="Skip messages sent less than this ago (default 30m; 1m with --watch).",
    ),
    horizon: str = typer.Option(
        "14d", "--horizon", help="Stop asking about messages sent longer ago than this."
    ),
    follow_reads: bool = typer.Option(
        False, "--follow-reads",
        help="Keep asking about PROCESSED Premium messages until read/paid (until --horizon).",
    ),
    watch: bool = typer.Option(
        False, "--watch", help="Ask again every --interval until all are final or --timeout."
    ),
    interval: str = typer.Option("30s", "--interval", help="Pause between passes in --watch."),
    timeout: str = typer.Option("1h", "--timeout", help="Give up watching after this long."),
    rate: str | None = typer.Option(
        None, "--rate", help="Request budget, e.g. 150/5s (default: 120/5s)."
    ),
    concurrency: int | None = typer.Option(
        None, "--concurrency", min=1, max=64, help="Requests in flight at most (default: 16)."
    ),
    config: Path | None = typer.Option(None, "--config", help="TOML settings file."),
    metrics_file: Path | None = typer.Option(
        None, "--metrics-file",
        help="Afterwards, write a Prometheus textfile here (node_exporter textfile collector).",
    ),
    json_output: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
    lang: str | None = LANG_OPTION,
) -> None:
    """Ask IO for the status of each sent message that is not final yet, and record it.

    Re-runnable from cron: final messages (PROCESSED, REJECTED, FAILED) are never asked about
    again, and messages past --horizon are given up. Nothing is ever sent or resent.
    """
    json_errors(json_output)  # --json: one JSON document on every way out
    use_language(lang)
    from dispatcher.operations.errors import OperationRefused
    from dispatcher.operations.status import StatusOptions, check_statuses
    from dispatcher.settings import ConfigError, load_settings

    try:
        settings = load_settings(config_file=config, rate=rate, concurrency=concurrency)
        settings.require_api_key()
    except ConfigError as exc:
        fail("{message}", ExitCode.CONFIG_ERROR, message=str(exc))
    options = StatusOptions(
        min_age_s=_duration(min_age) if min_age else (60.0 if watch else 30 * 60.0),
        horizon_s=_duration(horizon), follow_reads=follow_reads,
        concurrency=settings.concurrency,
    )
    ledger_path = resolve_ledger(ledger)
    deadline = time.monotonic() + _duration(timeout)
    try:
        with _WatchDisplay(watch and err_console.is_terminal) as display:
            while True:
                summary = check_statuses(
                    settings=settings, ledger_path=ledger_path, campaign_id=campaign,
                    options=options, on_observation=display.observed,
                )
                display.show(summary)
                if not watch or summary.open_after == 0 or summary.fatal or summary.stopped:
                    break
                if time.monotonic() >= deadline:
                    summary = _timed_out(summary)
                    break
                time.sleep(min(_duration(interval), max(0.0, deadline - time.monotonic())))
    except OperationRefused as exc:
        refused(exc)
    render_status(summary, json_output=json_output)
    if metrics_file is not None:
        from dispatcher.commands._metrics import leave_metrics

        leave_metrics(ledger_path, summary.campaign_id, metrics_file)
    raise typer.Exit(int(summary.exit_code))


def _timed_out(summary: StatusResult) -> StatusResult:
    from dataclasses import replace

    return replace(summary, stopped=_("--timeout reached with {n} still open").format(
        n=num(summary.open_after)))


class _WatchDisplay:
    """A Rich bar of final messages out of sent ones, for ``--watch`` on a terminal."""

    def __init__(self, enabled: bool) -> None:
        self._progress = None
        self._task = None
        if enabled:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            self._progress = Progress(
                TextColumn("[bold]" + _("final statuses")), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.fields[note]}"), console=err_console,
            )

    def __enter__(self) -> _WatchDisplay:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def observed(self, observation: StatusObservation) -> None:
        if self._progress is not None and self._task is not None and observation.is_final:
            self._progress.advance(self._task)

    def show(self, summary: StatusResult) -> None:
        if self._progress is None:
            return
        sent = sum(summary.counts.values())
        final = sum(summary.counts.get(s, 0) for s in FINAL_STATUSES)
        note = _("{open} open · {requests} requests").format(
            open=num(summary.open_after), requests=num(summary.requests))
        if self._task is None:
            self._task = self._progress.add_task("status", total=sent, completed=final, note=note)
        else:
            self._progress.update(self._task, total=sent, completed=final, note=note)


def render_status(summary: StatusResult, *, json_output: bool) -> None:
    """Counts by IO status, what was asked, and what stays open."""
    plan = summary.plan
    if json_output:
        console.print_json(json.dumps({
            "campaign_id": summary.campaign_id,
            "statuses": summary.counts,
            "asked": summary.asked,
            "answered": summary.answered,
            "became_final": summary.became_final,
            "already_final": plan.final,
            "too_young": plan.too_young,
            "expired": plan.expired,
            "open_after": summary.open_after,
            "unfollowable": summary.unfollowable,
            "requests": summary.requests,
            "throttled": summary.throttled,
            "duration_s": round(summary.duration_s, 3),
            "fatal": summary.fatal,
            "stopped": summary.stopped,
            "exit_code": int(summary.exit_code),
            "ledger": str(summary.ledger_path),
        }))
        return
    from rich.markup import escape
    from rich.table import Table

    from dispatcher.report.labels import io_status_label

    table = Table(title=_("IO status of campaign {campaign}").format(
        campaign=summary.campaign_id))
    table.add_column(_("status"))
    table.add_column(_("messages"), justify="right")
    for status, n in summary.counts.items():
        label = io_status_label(status, tr().language) or status
        table.add_row(f"{label} ({status})" if label != status else status, num(n))
    console.print(table)
    console.print(_(
        "asked {asked} ({answered} answered, {final} now final); {already} already final, "
        "{young} too recent, {expired} past the horizon; {open} still open · {requests} "
        "requests, {throttled} answered 429").format(
            asked=num(summary.asked), answered=num(summary.answered),
            final=num(summary.became_final), already=num(plan.final),
            young=num(plan.too_young), expired=num(plan.expired),
            open=num(summary.open_after), requests=num(summary.requests),
            throttled=num(summary.throttled)), markup=False)
    if summary.unfollowable:
        console.print("[yellow]" + escape(_(
            "{n} row(s) have no message id to follow (ambiguous: the answer was lost or was "
            "not IO's): they need attention, not settled. Check the citizen's inbox or IO's "
            "back office first; only then, to send them again (a citizen may get two "
            "copies): {command}").format(n=num(summary.unfollowable),
                                         command=resend_command(summary))) + "[/]")
    if summary.counts.get(MessageStatus.REJECTED):
        console.print("[yellow]" + escape(_(
            "REJECTED: the citizen has no IO profile or blocked the service. Resending is "
            "pointless; reach them another way.")) + "[/]")
    if summary.fatal or summary.stopped:
        console.print(f"[yellow]{escape(str(summary.fatal or summary.stopped))}[/]")


def resend_command(summary: StatusResult) -> str:
    """``dispatcher run FILE [its flags] --resend-ambiguous`` for this ledger's campaign.

    ``status`` is given only the ledger, so the flags come from the campaign's last ``run``
    as the audit trail recorded it; failing that, from the campaign's file and this ledger.
    """
    from dispatcher.commands.hints import Invocation, suggest
    from dispatcher.ledger import LedgerError, open_for_reading

    flags = ("--resend-ambiguous",)
    try:
        with open_for_reading(summary.ledger_path) as ledger:
            runs = ledger.runs.of_campaign(summary.campaign_id)
            record = ledger.campaigns.get(summary.campaign_id)
    except LedgerError:
        runs, record = [], None
    for run in reversed(runs):
        recorded = Invocation.recorded(run.command) if run.command else None
        if recorded is not None and recorded.file is not None:
            return suggest("run", recorded.file, flags=flags, invocation=recorded)
    file = record.input_path if record is not None else "FILE"
    return suggest("run", file, flags=flags,
                   invocation=Invocation({"ledger": str(summary.ledger_path)}))
