"""``dispatcher report LEDGER``: results for Excel, a page for people, numbers for monitors."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.markup import escape

from dispatcher.commands._output import console, err_console, json_errors, refused
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


def _separator(text: str) -> str:
    value = "\t" if text in ("\\t", "tab") else text
    if len(value) != 1 or value in "\"\r\n":
        raise typer.BadParameter(f"{text!r}: one character, such as ';' or ','")
    return value


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
    encoding: str | None = typer.Option(None, "--encoding", help="Force the CSV encoding."),
    delimiter: str | None = typer.Option(
        None, "--delimiter", help="Force the campaign file's CSV delimiter."
    ),
    lang: Language = typer.Option(Language.IT, "--lang", help="Language of labels and page."),
    formats: str = typer.Option(
        "csv,parquet,html,json", "--format", help="Comma-separated: csv, parquet, html, json."
    ),
    separator: str = typer.Option(
        ";", "--separator", help="CSV separator (';' for Italian Excel, ',' elsewhere)."
    ),
    bom: bool = typer.Option(
        True, "--bom/--no-bom", help="Start the CSV with a UTF-8 byte order mark (Excel)."
    ),
    json_output: bool = typer.Option(False, "--json", help="Print the summary JSON on stdout."),
    metrics_file: Path | None = typer.Option(
        None, "--metrics-file",
        help="Also write a Prometheus textfile here (node_exporter textfile collector).",
    ),
) -> None:
    """Write results.csv / results.parquet (input columns + outcome + IO status), report.html
    (charts, runs, rows needing attention) and summary.json for a campaign of LEDGER.

    The CSV defaults to Italian Excel (';' and a byte order mark); --separator ',' --no-bom
    gives a plain one. Exit codes: 0 written · 2 no such ledger, campaign or input file ·
    4 the reports could not be written.
    """
    json_errors(json_output)  # --json: one JSON document on every way out
    from dispatcher.commands.status import resolve_ledger
    from dispatcher.operations.errors import OperationRefused
    from dispatcher.operations.report import ReportRequest, make_report
    from dispatcher.report import ReportOptions

    options = ReportOptions(formats=_formats(formats), lang=lang, separator=_separator(separator),
                            bom=bom, metrics_file=metrics_file)
    request = ReportRequest(resolve_ledger(ledger), campaign, out, input_file, encoding,
                            delimiter, options)
    try:
        result = make_report(request)
    except OperationRefused as exc:
        refused(exc)
    if result.note:
        err_console.print(f"[yellow]note:[/] {escape(result.note)}", markup=True)
    if json_output:
        console.print_json(result.files.summary.to_json())
    else:
        render_report(result.files, lang)
    raise typer.Exit(int(result.exit_code))


def render_report(files: ReportFiles, lang: Language) -> None:
    """Counts by outcome in the chosen language, then where each file went (on stderr? no:
    stdout, it is the command's result)."""
    from rich.table import Table

    from dispatcher.report import outcome_label

    s = files.summary
    table = Table(title=f"Campaign {s.campaign.campaign_id} · {s.input_name}")
    table.add_column("outcome" if lang == Language.EN else "esito")
    table.add_column("rows" if lang == Language.EN else "righe", justify="right")
    for state, n in s.outcomes.items():
        if n:
            table.add_row(outcome_label(state, lang), str(n))
    console.print(table)
    if s.needing_attention:
        console.print(f"[yellow]{s.needing_attention} row(s) need attention: see the report.[/]")
    for kind, written in files.written.items():
        console.print(f"{kind}: {written}", markup=False)
