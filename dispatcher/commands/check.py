"""``dispatcher check``: the pre-flight on its own; proves URL, key and service, sends nothing."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.markup import escape

from dispatcher.commands._output import abort, console, err_console, json_errors, print_document
from dispatcher.vocabulary import ExitCode

if TYPE_CHECKING:
    from dispatcher.operations.preflight import PreflightReport


_VERDICT_WORDS = {
    "key_refused": "the key was refused",
    "forbidden": "the service was refused",
    "not_io": "not IO's API",
    "unexpected": "an unexpected answer from IO",
    "unreachable": "unreachable",
    "timeout": "no answer in time",
    "throttled": "the ente's budget is used up right now",
    "unavailable": "IO unavailable right now",
}


def command(
    config: Path | None = typer.Option(None, "--config", help="TOML settings file."),
    json_output: bool = typer.Option(False, "--json", help="Print what was checked as JSON."),
) -> None:
    """Check the base URL, the API key and the service with one harmless request.

    The request is a profile check of IO's test citizen (AAAAAA00A00A000A); no citizen is
    touched and nothing is sent. Exit 0 when all is well, 4 when the configuration is wrong,
    75 when IO or the network is unavailable right now (try again later).
    """
    json_errors(json_output)  # --json: one JSON document on every way out
    from dispatcher.operations.preflight import PreflightFailed, preflight
    from dispatcher.settings import ConfigError, load_settings

    try:
        settings = load_settings(config_file=config)
    except ConfigError as exc:
        abort(str(exc), ExitCode.CONFIG_ERROR)
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
        url_state = "[red]refused[/]"
    else:
        url_state = "[green]ok[/]" if not report.warnings else "[yellow]ok, see warnings[/]"
    if report.key_problem:
        key_state = "[red]" + escape(report.key_problem) + "[/]"
    elif report.key_source is None:
        key_state = "[dim]not checked[/]"
    else:
        key_state = f"present, valid (never shown), from {escape(report.key_source)}"
    if probe is None:
        probe_state = service = "[dim]not tried[/]"
    else:
        plural = "" if probe.attempts == 1 else "s"
        probe_state = (f"POST /profiles of IO's test citizen: {escape(probe.answer)} "
                       f"({probe.attempts} request{plural})")
        service = ("[green]reachable: URL, key and service work[/]" if probe.ok
                   else f"[red]{_VERDICT_WORDS.get(probe.verdict.value, probe.verdict.value)}[/]")
    console.print("[bold]Pre-flight[/]")
    console.print(f"  base URL  {escape(report.base_url)}  {url_state}")
    console.print(f"  API key   {key_state}")
    console.print(f"  probe     {probe_state}")
    console.print(f"  service   {service}")
    for warning in report.warnings:
        err_console.print(f"[yellow]warning:[/] {escape(warning)}")
