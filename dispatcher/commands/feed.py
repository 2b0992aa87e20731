"""``dispatcher feed sync``: keep the profile cache in step with IO's subscriptions feed."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.markup import escape

from dispatcher.commands._output import (
    LANG_OPTION,
    _,
    console,
    fail,
    json_errors,
    num,
    refused,
    tr,
    use_language,
)
from dispatcher.i18n import N_
from dispatcher.vocabulary import ExitCode

if TYPE_CHECKING:
    from dispatcher.operations.feed_sync import FeedSyncResult

app = typer.Typer(
    help="IO's subscriptions feed: who (un)subscribed each day, to refresh the profile cache.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def group() -> None:
    """IO's subscriptions feed: who (un)subscribed each day, to refresh the profile cache."""


def resolve_cache(path: Path) -> Path:
    """The cache file itself, or the campaign file / ledger folder it sits next to."""
    from dispatcher.paths import is_campaign_file
    from dispatcher.profilecache import default_cache_path

    if path.is_dir() or is_campaign_file(path):
        return default_cache_path(path)
    return path


def _since(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise typer.BadParameter(_("{value!r} is not a date like 2027-01-31")
                                 .format(value=text)) from None


@app.command("sync")
def sync(
    cache: Path = typer.Option(
        ..., "--cache",
        help="The profile cache: its file, or the campaign file / ledger folder it sits next "
             "to (FILE.dispatcher/profiles.sqlite).",
        show_default=False,
    ),
    since: str | None = typer.Option(
        None, "--since",
        help="First UTC day to fetch, YYYY-MM-DD (default: the oldest cached entry's day; "
             "at most 30 days back).",
    ),
    rate: str | None = typer.Option(
        None, "--rate", help="Request budget, e.g. 150/5s (default: 120/5s)."
    ),
    config: Path | None = typer.Option(None, "--config", help="TOML settings file."),
    json_output: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
    lang: str | None = LANG_OPTION,
) -> None:
    """Fetch every feed day the cache has not applied yet (up to yesterday, UTC) and apply it.

    Every citizen a day lists is dropped from the cache, so the next `run --profile-cache`
    checks them for real. Run it from cron before the nightly `run`. Exit codes: 0 synced
    (days IO has not published yet are listed, and fetched next time) · 3 a day got no
    answer, rerun later · 4 key refused, no feed permission, or a cache of another service ·
    75 stopped by the error-rate breaker.
    """
    json_errors(json_output)  # --json: one JSON document on every way out
    use_language(lang)
    from dispatcher.operations.errors import OperationRefused
    from dispatcher.operations.feed_sync import sync_feed
    from dispatcher.settings import ConfigError, load_settings

    first_day = _since(since)
    try:
        settings = load_settings(config_file=config, rate=rate)
        settings.require_api_key()
    except ConfigError as exc:
        fail("{message}", ExitCode.CONFIG_ERROR, message=str(exc))
    try:
        result = sync_feed(settings=settings, cache_path=resolve_cache(cache),
                           today=datetime.now(UTC).date(), since=first_day)
    except OperationRefused as exc:
        refused(exc)
    render_sync(result, json_output=json_output)
    raise typer.Exit(int(result.exit_code))


def render_sync(result: FeedSyncResult, *, json_output: bool) -> None:
    """A table of the days (or JSON), then one line on what the cache now trusts."""
    report, path, entries = result.report, result.path, result.entries
    trusted_from, missing = result.trusted_from, result.missing
    if json_output:
        console.print_json(json.dumps({
            "cache": str(path),
            "cache_exists": not missing,
            "planned": [d.isoformat() for d in report.planned],
            "applied": [d.isoformat() for d in report.applied],
            "not_available": [d.isoformat() for d in report.not_available],
            "skipped": [d.isoformat() for d in report.skipped],
            "days": [{"day": d.day.isoformat(), "result": d.kind.value,
                      "subscriptions": d.subscriptions, "unsubscriptions": d.unsubscriptions,
                      "invalidated": d.invalidated, "http_status": d.http_status,
                      "detail": d.detail} for d in report.days],
            "invalidated": report.invalidated,
            "requests": report.requests,
            "stopped": report.stopped,
            "entries": entries,
            "trusted_from": trusted_from.isoformat(),
            "exit_code": int(report.exit_code),
        }))
        return
    if missing:
        console.print(_("No profile cache at {path} yet (`run --profile-cache` creates it): "
                        "nothing to sync.").format(path=path), markup=False)
        return
    if not report.planned:
        console.print(_("Profile cache {path}: up to date, no feed day to fetch.").format(
            path=path), markup=False)
    else:
        from rich.table import Table

        table = Table(title=_("Subscriptions feed → {path}").format(path=path))
        for index, name in enumerate((_("day (UTC)"), _("result"), _("subscriptions"),
                                      _("unsubscriptions"), _("entries dropped"))):
            table.add_column(name, justify="left" if index < 2 else "right")
        for day in report.days:
            found = day.kind.value == "found"
            table.add_row(tr().date(day.day), _result(day.kind.value),
                          num(day.subscriptions) if found else "",
                          num(day.unsubscriptions) if found else "",
                          num(day.invalidated) if found else "")
        for skipped in report.skipped:
            table.add_row(tr().date(skipped), escape(_("not asked")), "", "", "")
        console.print(table)
    console.print(_("{n} cached decision(s); entries checked since {day} (UTC) are trusted. "
                    "{requests} request(s) made.").format(
        n=num(entries), day=tr().date(trusted_from), requests=num(report.requests)),
        markup=False)
    if report.not_available:
        days = ", ".join(tr().date(d) for d in report.not_available)
        console.print("[yellow]" + escape(_(
            "IO has not published {days} yet: the next sync fetches it; until then older "
            "entries are checked again.").format(days=days)) + "[/]")
    if report.stopped:
        console.print("[red]" + escape(_("stopped: {reason}").format(reason=report.stopped))
                      + "[/]")


_RESULTS = {"found": N_("applied"), "not_available": N_("not published yet"),
            "rejected": N_("refused"), "failed": N_("no answer")}


def _result(kind: str) -> str:
    text = escape(_(_RESULTS.get(kind, kind)))
    return f"[red]{text}[/]" if kind in ("rejected", "failed") else text
