"""``dispatcher report LEDGER``: results for Excel, a page for people, numbers for monitors."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.markup import escape

from dispatcher.commands._campaign_flags import DELIMITER, ENCODING
from dispatcher.commands._output import console, err_console, json_errors, refused
from dispatcher.report.dialect import CsvDialect
from dispatcher.vocabulary import Language

if TYPE_CHECKING:
    from dispatcher.report import ReportFiles


def _formats(text: str) -> frozenset[str]:
    from dispatcher.report import FORMATS

    chosen = frozenset(part.strip().lower() for part in text.split(",") if part.strip())
    unknown = chosen - set(FORMATS)
    if unknown or not chosen:
        raise typer.BadParameter(
            f"{', '.join(sorted(unknown)) or text!r}: choose among {', '.join(FORMATS)}"
        )
    return chosen


def command(
    ledger: Path = typer.Argument(
        ..., help="Ledger file (or its folder, or the campaign file).", show_default=False
    ),
    campaign: int | None = typer.Option(
        None, "--campaign", help="Campaign id in the ledger (default: the latest)."
    ),
    out: Path | None = typer.Option(
        None, "--out", help="Folder for the reports (default: the ledger's folder)."
    ),
    input_file: Path | None = typer.Option(
        None, "--input",
        help="The campaign file, to add its columns (default: the recorded one, if unchanged).",
    ),
    encoding: str | None = ENCODING,
    delimiter: str | None = DELIMITER,
    lang: str | None = typer.Option(
        None, "--lang", help="it or en: labels, page and CSV titles (default: LANG, else it)."
    ),
    formats: str = typer.Option(
        "csv,parquet,html,json", "--format", help="Comma-separated: csv, parquet, html, json."
    ),
    csv_dialect: CsvDialect = typer.Option(
        CsvDialect.EXCEL, "--csv-dialect",
        help="excel: ';', byte order mark, Rome times, titles in --lang; plain: ',', UTC "
             "ISO times, column codes.",
    ),
    json_output: bool = typer.Option(False, "--json", help="Print the summary JSON on stdout."),
    metrics_file: Path | None = typer.Option(
        None, "--metrics-file",
        help="Also write a Prometheus textfile here (node_exporter textfile collector).",
    ),
    content_store: Path | None = typer.Option(
        None, "--content-store",
        help="The content store whose opens the report shows for remote-content messages "
             "(default: the settings' content_store, else the service's when IO_API_KEY is set).",
    ),
) -> None:
    """Write results.csv / results.parquet (input columns + outcome + IO status), to_reach.csv
    (the citizens to reach another way), report.html (what is open, advice, charts, runs) and
    summary.json for a campaign of LEDGER.

    The CSVs open in Excel by default (--csv-dialect excel); --csv-dialect plain is for
    programs. Exit codes: 0 written · 2 no such ledger, campaign or input file · 4 the
    reports could not be written.
    """
    json_errors(json_output)  # --json: one JSON document on every way out
    from dispatcher.commands.status import resolve_ledger
    from dispatcher.i18n import resolve_language
    from dispatcher.operations.errors import OperationRefused
    from dispatcher.operations.report import ReportRequest, make_report
    from dispatcher.report import ReportOptions

    try:
        language = resolve_language(lang)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--lang") from None
    options = ReportOptions(formats=_formats(formats), lang=language, dialect=csv_dialect,
                            metrics_file=metrics_file)
    request = ReportRequest(resolve_ledger(ledger), campaign, out, input_file, encoding,
                            delimiter, options, _content_store(content_store))
    try:
        result = make_report(request)
    except OperationRefused as exc:
        refused(exc)
    if result.note:
        err_console.print(f"[yellow]note:[/] {escape(result.note)}", markup=True)
    if json_output:
        console.print_json(result.files.summary.to_json())
    else:
        render_report(result.files, language)
    raise typer.Exit(int(result.exit_code))


def _content_store(flag: Path | None) -> Path | None:
    """The store to read opens from; a report needs no key, so settings are best effort."""
    from dispatcher.operations.content import report_content_store
    from dispatcher.settings import ConfigError, load_settings

    if flag is not None and not flag.is_file():
        err_console.print(f"note: no content store at {flag}: the report shows no opens",
                          markup=False)
        return None
    try:
        settings = load_settings()
    except ConfigError:
        settings = None
    return report_content_store(settings, flag)


def render_report(files: ReportFiles, lang: Language) -> None:
    """Counts by outcome in the chosen language, what is still open, where each file went."""
    from rich.table import Table

    from dispatcher.report import outcome_label
    from dispatcher.report.advice import open_items, status_line
    from dispatcher.report.labels import tr

    t = tr(lang)
    s = files.summary
    table = Table(title=f"{t.gettext('Campaign report')} {s.campaign.campaign_id} · "
                        f"{s.input_name}")
    table.add_column(t.gettext("Outcome"))
    table.add_column(t.gettext("Rows"), justify="right")
    for state, n in s.outcomes.items():
        if n:
            table.add_row(outcome_label(state, lang), t.number(n))
    console.print(table)
    state = s.completeness
    console.print(status_line(state, lang), markup=False,
                  style=None if state.complete else "yellow")
    if s.settle is not None:
        for item in open_items(state, s.settle, lang):
            console.print(f"- {item.text}\n  {item.command}", markup=False)
    if s.to_reach:
        console.print(t.ngettext("{n} citizen to reach by other means: see to_reach.csv.",
                                 "{n} citizens to reach by other means: see to_reach.csv.",
                                 s.to_reach).format(n=t.number(s.to_reach)), markup=False)
    for kind, written in files.written.items():
        console.print(f"{kind}: {written}", markup=False)
