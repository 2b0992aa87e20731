"""``run --dry-run``: the reach, the requests and the time a real run would take."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from dispatcher.commands._output import abort, console, refused
from dispatcher.vocabulary import ExitCode

if TYPE_CHECKING:
    from dispatcher.campaign import CampaignSource
    from dispatcher.operations.dry_run import DryRunReport
    from dispatcher.profilecache import ProfileCacheUse
    from dispatcher.settings import Settings

REACH_LABELS = {
    "allowed": "has IO and allows the service",
    "not_allowed": "blocked the service",
    "no_profile": "no IO profile",
    "rejected": "IO refused the check (4xx)",
    "failed": "no answer (check failed)",
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
        abort(str(exc), ExitCode.INVALID_INPUT)
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
    from rich.table import Table

    table = Table(title="Dry run: nothing was sent")
    table.add_column("")
    table.add_column("rows", justify="right")
    table.add_row("rows in the file", str(report.rows))
    table.add_row("invalid (not sent)", str(report.invalid))
    table.add_row("duplicate fiscal code (not sent)", str(report.duplicate))
    if report.already_decided:
        table.add_row("already decided by the unfinished run", str(report.already_decided))
    table.add_row("[bold]to process[/]", f"[bold]{report.to_process}[/]")
    for kind, label in REACH_LABELS.items():
        if report.reach.get(kind):
            share = report.reach[kind] / max(1, sum(report.reach.values()))
            table.add_row(f"  {label}", f"{report.reach[kind]} ({share:.0%})")
    console.print(table)
    bound = "" if report.checked else "at most "
    console.print(
        f"The real run needs {bound}{needed} requests: about {_clock(report.duration_s(needed))} "
        f"at {rate} (IO's limit is 150/5s per ente, shared by all its services)."
    )
    if report.checked:
        seeded = "seeded by this dry run" if cache_path else "if this dry run had seeded it"
        console.print(
            f"With --profile-cache ({seeded}): {cached} requests, about "
            f"{_clock(report.duration_s(cached))}. {report.requests_made} requests made now, "
            f"{report.throttled} answered 429."
        )
        if cache_path:
            console.print(f"Profile cache {cache_path}: {report.from_cache} recipient(s) "
                          "known already (no request), the other answers stored.",
                          markup=False)
    else:
        console.print("Add --check-profiles to learn the reach (one POST /profiles per row).")
    if report.invalid:
        console.print(f"[yellow]{report.invalid} invalid row(s): the real run refuses to start "
                      "unless you fix them or pass --skip-invalid.[/]")
    if report.fatal or report.stopped:
        console.print(f"[red]{report.fatal or report.stopped}[/]")
