"""``run --dry-run``: the reach, the requests and the time a real run would take."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from rich.markup import escape

from dispatcher.commands._output import _, console, fail, num, refused, styled, tr
from dispatcher.i18n import N_
from dispatcher.vocabulary import ExitCode

if TYPE_CHECKING:
    from dispatcher.campaign import CampaignSource
    from dispatcher.operations.dry_run import DryRunReport
    from dispatcher.profilecache import ProfileCacheUse
    from dispatcher.settings import Settings

REACH_LABELS = {
    "allowed": N_("has IO and allows the service"),
    "not_allowed": N_("blocked the service"),
    "no_profile": N_("no IO profile"),
    "rejected": N_("IO refused the check (4xx)"),
    "failed": N_("no answer (check failed)"),
}


def _clock(seconds: float) -> str:
    return str(timedelta(seconds=round(seconds)))


def execute_dry_run(
    source: CampaignSource,
    *,
    settings: Settings,
    ledger_path: Path,
    check_profiles: bool,
    json_output: bool,
    profile_cache: ProfileCacheUse | None = None,
) -> ExitCode:
    """Count, optionally check profiles, print the estimate. Never sends a message.

    With ``profile_cache`` (and ``check_profiles``) the cache answers what it knows and
    stores every new answer, so the real ``run --profile-cache`` does not ask again.
    """
    from dispatcher.campaign import CampaignFileError
    from dispatcher.commands.validate import render_validation
    from dispatcher.operations.dry_run import dry_run
    from dispatcher.operations.errors import OperationRefused

    try:
        campaign = source.load()
    except CampaignFileError as exc:
        fail("{message}", ExitCode.INVALID_INPUT, message=str(exc))
    if campaign.has_errors:
        render_validation(campaign, max_problems=20)
    try:
        report = dry_run(campaign, settings=settings, ledger_path=ledger_path,
                         check=check_profiles, profile_cache=profile_cache)
    except OperationRefused as exc:
        refused(exc)
    render_dry_run(report, rate=str(settings.rate), json_output=json_output,
                   cache_path=profile_cache.path if profile_cache else None)
    return report.exit_code


def render_dry_run(report: DryRunReport, *, rate: str, json_output: bool,
                   cache_path: Path | None = None) -> None:
    needed, cached = report.requests_needed, report.requests_needed_with_cache
    if json_output:
        console.print_json(json.dumps({
            "dry_run": True,
            "rows": report.rows,
            "invalid": report.invalid,
            "duplicate": report.duplicate,
            "already_decided": report.already_decided,
            "to_process": report.to_process,
            "profiles_checked": report.checked,
            "reach": report.reach,
            "reach_from_profile_cache": report.from_cache,
            "profile_cache": str(cache_path) if cache_path else None,
            "requests_needed": needed,
            "requests_needed_with_profile_cache": cached,
            "estimated_seconds": round(report.duration_s(needed), 1),
            "estimated_seconds_with_profile_cache": round(report.duration_s(cached), 1),
            "rate": rate,
            "requests_made": report.requests_made,
            "throttled": report.throttled,
            "fatal": report.fatal,
            "stopped": report.stopped,
            "exit_code": int(report.exit_code),
        }))
        return
    from babel.numbers import format_percent
    from rich.table import Table

    table = Table(title=_("Dry run: nothing was sent"))
    table.add_column("")
    table.add_column(_("rows"), justify="right")
    table.add_row(_("rows in the file"), num(report.rows))
    table.add_row(_("invalid (not sent)"), num(report.invalid))
    table.add_row(_("duplicate fiscal code (not sent)"), num(report.duplicate))
    if report.already_decided:
        table.add_row(_("already decided by the unfinished run"), num(report.already_decided))
    table.add_row(styled("bold", _("to process")), f"[bold]{num(report.to_process)}[/]")
    for kind, label in REACH_LABELS.items():
        if report.reach.get(kind):
            share = report.reach[kind] / max(1, sum(report.reach.values()))
            percent = format_percent(share, locale=tr().locale)
            table.add_row(f"  {escape(_(label))}", f"{num(report.reach[kind])} ({percent})")
    console.print(table)
    text = (_("The real run needs {n} requests: about {time} at {rate} (IO's limit is 150/5s "
              "per ente, shared by all its services).") if report.checked else
            _("The real run needs at most {n} requests: about {time} at {rate} (IO's limit is "
              "150/5s per ente, shared by all its services)."))
    console.print(text.format(n=num(needed), time=_clock(report.duration_s(needed)), rate=rate),
                  markup=False)
    if report.checked:
        seeded = (_("seeded by this dry run") if cache_path
                  else _("if this dry run had seeded it"))
        console.print(_("With --profile-cache ({seeded}): {n} requests, about {time}. {made} "
                        "requests made now, {throttled} answered 429.").format(
            seeded=seeded, n=num(cached), time=_clock(report.duration_s(cached)),
            made=num(report.requests_made), throttled=num(report.throttled)), markup=False)
        if cache_path:
            console.print(_("Profile cache {path}: {n} recipient(s) known already (no "
                            "request), the other answers stored.").format(
                path=cache_path, n=num(report.from_cache)), markup=False)
    else:
        console.print(_("Add --check-profiles to learn the reach (one POST /profiles per row)."),
                      markup=False)
    if report.invalid:
        from dispatcher.commands.hints import Invocation, suggest

        invocation = Invocation.current()
        command = suggest("run", invocation.file or "FILE", flags=("--skip-invalid",),
                          invocation=invocation)
        console.print("[yellow]" + escape(_(
            "{n} invalid row(s): the real run refuses to start unless you fix them or send the "
            "valid rows only: {command}").format(n=num(report.invalid), command=command))
            + "[/]")
    if report.fatal or report.stopped:
        console.print(f"[red]{escape(str(report.fatal or report.stopped))}[/]")
