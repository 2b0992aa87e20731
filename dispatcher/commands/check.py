"""``dispatcher check``: the pre-flight on its own; proves URL, key and service, sends nothing."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.markup import escape

from dispatcher.commands._output import (
    LANG_OPTION,
    _,
    abort,
    console,
    err_console,
    fail,
    json_errors,
    ngettext,
    print_document,
    styled,
    use_language,
)
from dispatcher.i18n import N_
from dispatcher.vocabulary import ExitCode

if TYPE_CHECKING:
    from dispatcher.operations.preflight import PreflightReport


_VERDICT_WORDS = {
    "key_refused": N_("the key was refused"),
    "forbidden": N_("the service was refused"),
    "not_io": N_("not IO's API"),
    "unexpected": N_("an unexpected answer from IO"),
    "unreachable": N_("unreachable"),
    "timeout": N_("no answer in time"),
    "throttled": N_("the ente's budget is used up right now"),
    "unavailable": N_("IO unavailable right now"),
}


def command(
    config: Path | None = typer.Option(None, "--config", help="TOML settings file."),
    json_output: bool = typer.Option(False, "--json", help="Print what was checked as JSON."),
    lang: str | None = LANG_OPTION,
) -> None:
    """Check the base URL, the API key and the service with one harmless request.

    The request is a profile check of IO's test citizen (AAAAAA00A00A000A); no citizen is
    touched and nothing is sent. Exit 0 when all is well, 4 when the configuration is wrong,
    75 when IO or the network is unavailable right now (try again later).
    """
    json_errors(json_output)  # --json: one JSON document on every way out
    use_language(lang)
    from dispatcher.operations.preflight import PreflightFailed, preflight
    from dispatcher.settings import ConfigError, load_settings

    try:
        settings = load_settings(config_file=config)
    except ConfigError as exc:
        fail("{message}", ExitCode.CONFIG_ERROR, message=str(exc))
    try:
        report = preflight(settings)
    except PreflightFailed as exc:
        if exc.report is not None:
            render_check(exc.report, json_output=json_output)
        abort(exc.message, exc.exit_code)
    render_check(report, json_output=json_output)
    raise typer.Exit(int(ExitCode.OK))


def render_check(report: PreflightReport, *, json_output: bool) -> None:
    """One line per check (base URL, key, probe, service), then the warnings."""
    if json_output:
        print_document(report.to_json())
        return
    probe = report.probe
    if report.url_problem:
        url_state = styled("red", _("refused"))
    elif report.warnings:
        url_state = styled("yellow", _("ok, see warnings"))
    else:
        url_state = styled("green", _("ok"))
    if report.key_problem:
        key_state = "[red]" + escape(report.key_problem) + "[/]"
    elif report.key_source is None:
        key_state = styled("dim", _("not checked"))
    else:
        key_state = escape(_("present, valid (never shown), from {source}").format(
            source=report.key_source))
    if probe is None:
        probe_state = service = styled("dim", _("not tried"))
    else:
        probe_state = escape(ngettext(
            "POST /profiles of IO's test citizen: {answer} ({n} request)",
            "POST /profiles of IO's test citizen: {answer} ({n} requests)",
            probe.attempts).format(answer=probe.answer, n=probe.attempts))
        verdict = probe.verdict.value
        service = (styled("green", _("reachable: URL, key and service work")) if probe.ok
                   else styled("red", _(_VERDICT_WORDS.get(verdict, verdict))))
    labels = [_("base URL"), _("API key"), _("probe"), _("service")]
    width = max(map(len, labels)) + 2
    console.print(styled("bold", _("Pre-flight")))
    console.print(f"  {labels[0]:<{width}}{escape(report.base_url)}  {url_state}")
    console.print(f"  {labels[1]:<{width}}{key_state}")
    console.print(f"  {labels[2]:<{width}}{probe_state}")
    console.print(f"  {labels[3]:<{width}}{service}")
    for warning in report.warnings:
        err_console.print(styled("yellow", _("warning:")) + " " + escape(warning))
