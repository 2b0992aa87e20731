"""``dispatcher run FILE``: validate, then send, with a resumable ledger and an export."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.markup import escape as escape_markup
from rich.prompt import Confirm, InvalidResponse

from dispatcher.commands._campaign_flags import (
    CONVERT_PDFA,
    DELIMITER,
    ENCODING,
    MAX_ATTACHMENT_SIZE,
    PDFA_VALIDATOR,
    attachment_options,
)
from dispatcher.commands._output import (
    LANG_OPTION,
    _,
    err_console,
    fail,
    json_errors,
    num,
    refused,
    use_language,
)
from dispatcher.i18n import N_
from dispatcher.schedule import OutsideWindow
from dispatcher.vocabulary import ExitCode

if TYPE_CHECKING:
    from dispatcher.campaign import CampaignSource
    from dispatcher.commands.hints import Invocation
    from dispatcher.commands.progress import RunProgress
    from dispatcher.operations.run import RunOptions, SendPreview
    from dispatcher.profilecache import ProfileCacheUse
    from dispatcher.report import CsvDialect
    from dispatcher.settings import Settings


def parse_deadline(text: str, now: datetime | None = None) -> datetime:
    """``07:30`` → the next 07:30 (local time); otherwise an ISO-8601 date-time."""
    now = now or datetime.now().astimezone()
    try:
        clock = datetime.strptime(text, "%H:%M").time()
    except ValueError:
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            raise typer.BadParameter(_("{value!r} is neither HH:MM nor an ISO date-time")
                                     .format(value=text)) from None
        return moment if moment.tzinfo else moment.astimezone()
    candidate = now.replace(hour=clock.hour, minute=clock.minute, second=0, microsecond=0)
    return candidate if candidate > now else candidate + timedelta(days=1)


def command(
    file: Path = typer.Argument(..., help="Campaign file (.csv or .xlsx).", show_default=False),
    template: Path | None = typer.Option(None, "--template", "-t", help="Campaign template file."),
    ledger: Path | None = typer.Option(
        None, "--ledger", help="Ledger path (default: FILE.dispatcher/ledger.sqlite)."
    ),
    rate: str | None = typer.Option(
        None, "--rate", help="Request budget shared by every call, e.g. 150/5s (default: 120/5s)."
    ),
    concurrency: int | None = typer.Option(
        None, "--concurrency", min=1, max=64, help="Requests in flight at most (default: 16)."
    ),
    config: Path | None = typer.Option(None, "--config", help="TOML settings file."),
    encoding: str | None = ENCODING,
    delimiter: str | None = DELIMITER,
    skip_invalid: bool = typer.Option(
        False, "--skip-invalid", help="Send the valid rows even if some rows are invalid."
    ),
    resend_ambiguous: bool = typer.Option(
        False, "--resend-ambiguous",
        help="Send again rows whose earlier send may have reached IO (may duplicate!).",
    ),
    retry_failed: bool = typer.Option(
        False, "--retry-failed",
        help="Try again rows that failed or were rejected (IO stored neither).",
    ),
    allow_resend: bool = typer.Option(
        False, "--allow-resend",
        help="Send even if this service already sent the same message to the citizen "
             "(the send journal says so; any file, any ledger).",
    ),
    journal: Path | None = typer.Option(
        None, "--journal",
        help="The service's send journal (default: the settings' journal, else "
             "$XDG_STATE_HOME/dispatcher/journals/SERVICE.sqlite).",
    ),
    csv_dialect: str = typer.Option(
        "excel", "--csv-dialect", metavar="excel|plain",
        help="results.csv and to_reach.csv for Excel (';', BOM, Rome times, titles in the "
             "chosen language) or plain for programs (',', UTC ISO times, codes).",
    ),
    convert_pdfa: bool = CONVERT_PDFA,
    pdfa_validator: str | None = PDFA_VALIDATOR,
    max_attachment_size: str | None = MAX_ATTACHMENT_SIZE,
    content_store: Path | None = typer.Option(
        None, "--content-store",
        help="Where remote content is registered for the content server (default: the "
             "settings' content_store, else $XDG_STATE_HOME/dispatcher/content/SERVICE.sqlite).",
    ),
    operator: str | None = typer.Option(
        None, "--operator", help="Who runs it, for the audit trail (default: "
        "DISPATCHER_OPERATOR, else the OS user).",
    ),
    yes: bool = typer.Option(
        False, "--yes", "-y",
        help="Do not ask for confirmation on a terminal (cron never asks).",
    ),
    new_campaign: bool = typer.Option(
        False, "--new-campaign",
        help="The file changed: close the unfinished campaign and start this one.",
    ),
    deadline: str | None = typer.Option(
        None, "--deadline", help="Stop taking rows at HH:MM (next occurrence) or an ISO time."
    ),
    stop_file: Path | None = typer.Option(
        None, "--stop-file", help="Stop gracefully when this file appears."
    ),
    send_window: str | None = typer.Option(
        None, "--send-window", metavar="HH:MM-HH:MM",
        help="Start requests only in these hours, Italian time, e.g. 08:00-20:00 (or "
             "22:00-06:00); default: the config's send_window, else any hour.",
    ),
    outside_window: OutsideWindow = typer.Option(
        OutsideWindow.WAIT, "--outside-window", case_sensitive=False,
        help="Outside the send window: wait until it opens, or exit 75 (cron resumes later).",
    ),
    grace: float = typer.Option(30.0, "--grace", help="Seconds in-flight requests get on stop."),
    export_dir: Path | None = typer.Option(
        None, "--export-dir", help="Where results.csv/.parquet go (default: the ledger's folder)."
    ),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Send nothing: count the rows, estimate requests and time."
    ),
    check_profiles: bool = typer.Option(
        False, "--check-profiles",
        help="With --dry-run: check every recipient's IO profile to report the reach.",
    ),
    require_test: bool = typer.Option(
        False, "--require-test",
        help="Refuse to start unless `dispatcher test` sent this file + template successfully.",
    ),
    profile_cache: str | None = typer.Option(
        None, "--profile-cache", metavar="TTL",
        help="Trust cached profile answers younger than TTL (e.g. 36h) and skip their "
             "POST /profiles; keep the cache in step with `dispatcher feed sync`.",
    ),
    profile_cache_file: Path | None = typer.Option(
        None, "--profile-cache-file",
        help="The profile cache (default: profiles.sqlite next to the ledger).",
    ),
    metrics_file: Path | None = typer.Option(
        None, "--metrics-file",
        help="After the run, write a Prometheus textfile here (node_exporter textfile "
             "collector).",
    ),
    json_output: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
    lang: str | None = LANG_OPTION,
) -> None:
    # Long: one typer.Option per flag (they are the command's --help); the body is short.
    """Validate FILE, then check each recipient's profile and send one message per fiscal code.

    Rerun the same command to resume after a crash or a stop: decided rows are never redone,
    and rows whose send may have reached IO are marked ambiguous instead of being resent.
    """
    json_errors(json_output)  # --json: one JSON document on every way out
    language = use_language(lang).language
    from dispatcher.campaign import CampaignOptions, CampaignSource
    from dispatcher.commands.progress import RunProgress
    from dispatcher.operations.exports import ExportOptions
    from dispatcher.operations.run import RunOptions
    from dispatcher.paths import default_ledger_path
    from dispatcher.settings import ConfigError, load_settings
    from dispatcher.stopping import StopOptions

    try:
        settings = load_settings(config_file=config, rate=rate, concurrency=concurrency,
                                 send_window=send_window)
        if check_profiles or not dry_run:
            settings.require_api_key()
    except ConfigError as exc:
        fail("{message}", ExitCode.CONFIG_ERROR, message=str(exc))
    source = CampaignSource(file, template,
                            CampaignOptions(encoding=encoding, delimiter=delimiter,
                                            language=language,
                                            **attachment_options(convert_pdfa, pdfa_validator,
                                                                 max_attachment_size)))
    ledger_path = ledger or default_ledger_path(file)
    cache = profile_cache_use(profile_cache, profile_cache_file, ledger_path)
    if dry_run:
        from dispatcher.commands.dry_run import execute_dry_run

        if cache is not None and not check_profiles:
            fail(N_("--profile-cache with --dry-run needs --check-profiles (the dry run then "
                    "checks only what the cache does not know, and seeds it)"),
                 ExitCode.INVALID_INPUT)
        raise typer.Exit(int(execute_dry_run(
            source, settings=settings, ledger_path=ledger_path,
            check_profiles=check_profiles, json_output=json_output, profile_cache=cache,
        )))
    if check_profiles:
        fail(N_("--check-profiles only goes with --dry-run (a real run checks every profile)"),
             ExitCode.INVALID_INPUT)
    options = RunOptions(
        stops=StopOptions(grace_seconds=grace,
                          deadline=parse_deadline(deadline) if deadline else None,
                          stop_file=stop_file),
        skip_invalid=skip_invalid, resend_ambiguous=resend_ambiguous, retry_failed=retry_failed,
        allow_resend=allow_resend, new_campaign=new_campaign, require_test=require_test,
        profile_cache=cache, export_dir=export_dir, journal=journal, operator=operator,
        content_store=content_store,
        export_options=ExportOptions(dialect=_dialect(csv_dialect), lang=language),
        outside_window=outside_window,
    )
    code = execute_run(source, settings=settings, ledger_path=ledger_path, options=options,
                       json_output=json_output, progress=RunProgress.for_terminal(err_console),
                       metrics_file=metrics_file,
                       confirm=None if yes or not interactive() else confirm_send)
    raise typer.Exit(int(code))


def _dialect(text: str) -> CsvDialect:
    from dispatcher.report import CsvDialect

    try:
        return CsvDialect(text.strip().lower())
    except ValueError:
        fail(N_("--csv-dialect must be excel or plain, not {value!r}"), ExitCode.INVALID_INPUT,
             value=text)


def interactive() -> bool:
    """A person at a terminal: stdin and stderr are TTYs (cron, pipes and CI never are)."""
    import sys

    return sys.stdin.isatty() and err_console.is_terminal


def confirm_send(preview: SendPreview) -> bool:
    """The last look before a real send: what, to whom, through which service, how long."""
    from rich.markup import escape

    from dispatcher.durations import format_estimate

    kind = _("resuming") if preview.resumed else _("new")
    estimate = format_estimate(preview.estimated_s)
    if estimate == "under a minute":
        estimate = _("under a minute")
    err_console.print(escape(_(
        "About to send {n} message(s), one each to {n} citizen(s) (campaign {campaign}, "
        "{kind}),\nthrough IO at {url} (service {service}), at {rate}: about {estimate}."
    ).format(n=num(preview.messages), campaign=preview.campaign_id, kind=kind,
             url=preview.base_url, service=preview.service, rate=preview.rate,
             estimate=estimate)))
    return _Answer.in_language().ask(_("Send now?"), console=err_console, default=False)


def _yes_no() -> tuple[str, str]:
    return _("y"), _("n")


class _Answer(Confirm):
    """Rich's yes/no question in the language in use (``[s/n]`` in Italian); ``y`` and
    ``yes`` are understood in any language, as ``no``."""

    @classmethod
    def in_language(cls) -> type[_Answer]:
        yes, no = _yes_no()
        return type("Answer", (cls,), {
            "choices": [yes, no],
            "validate_error_message": "[prompt.invalid]" + escape_markup(
                _("Please enter {yes} or {no}").format(yes=yes, no=no)),
        })

    def process_response(self, value: str) -> bool:
        yes, no = _yes_no()
        answer = value.strip().lower()
        if answer in {yes, "y", "yes", "s", "si", "sì"}:
            return True
        if answer in {no, "n", "no"}:
            return False
        raise InvalidResponse(self.validate_error_message)


def profile_cache_use(
    ttl: str | None, path: Path | None, ledger_path: Path
) -> ProfileCacheUse | None:
    """``--profile-cache TTL [--profile-cache-file PATH]`` as the run takes it."""
    from dispatcher.durations import parse_duration
    from dispatcher.profilecache import ProfileCacheUse, default_cache_path

    if ttl is None:
        if path is not None:
            fail(N_("--profile-cache-file needs --profile-cache TTL (how old an answer may "
                    "be)"), ExitCode.INVALID_INPUT)
        return None
    try:
        max_age_s = parse_duration(ttl)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--profile-cache") from None
    if max_age_s <= 0:
        raise typer.BadParameter(_("a TTL above zero, such as 36h"),
                                 param_hint="--profile-cache")
    return ProfileCacheUse(path or default_cache_path(ledger_path), max_age_s)


def execute_run(
    source: CampaignSource,
    *,
    settings: Settings,
    ledger_path: Path,
    options: RunOptions,
    json_output: bool,
    progress: RunProgress | None,
    metrics_file: Path | None = None,
    confirm: Callable[[SendPreview], bool] | None = None,
    invocation: Invocation | None = None,
) -> ExitCode:
    """Run the operation, print its summary; shared by ``run`` and ``demo``.

    ``invocation``: whose flags the advice in the summary repeats (default: this process's).
    """
    from dispatcher.commands.progress import render_summary
    from dispatcher.commands.validate import render_validation, validation_document
    from dispatcher.operations.errors import CampaignInvalid, OperationRefused
    from dispatcher.operations.run import RunHooks, run_campaign

    hooks = RunHooks(on_start=progress.start, on_outcome=progress.advance,
                     on_pacer=progress.watch_pacer, confirm=confirm) if progress else RunHooks(
                         confirm=confirm)
    try:
        with progress or contextlib.nullcontext():
            result = run_campaign(source, settings=settings, ledger_path=ledger_path,
                                  options=options, hooks=hooks)
    except CampaignInvalid as exc:
        if json_output:  # the validation's own document, with the refusal in it
            refused(exc, validation=validation_document(exc.campaign, 20))
        render_validation(exc.campaign, max_problems=20)
        refused(exc)
    except OperationRefused as exc:
        refused(exc)
    render_summary(result, result.exports, json_output=json_output, rerun=invocation)
    if metrics_file is not None:
        from dispatcher.commands._metrics import leave_metrics

        leave_metrics(ledger_path, result.campaign_id, metrics_file)
    return result.exit_code
