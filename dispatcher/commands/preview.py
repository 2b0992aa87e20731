"""``dispatcher preview FILE``: see the messages before sending them, as the IO app shows them.

A panel per row in the terminal; with ``--html OUT`` the same cards as one self-contained
page (mode 0600) to look at in a browser or forward to a colleague; with ``--json`` one
JSON document with every rendered field and the exit code. Rows are chosen as the
spreadsheet numbers them (``--rows 2,15,20-22``, the syntax of ``validate --preview``);
by default the first three valid rows.

Exit codes: 0 every row shown can be sent (a duplicate is shown as not sent) · 2 a row shown
is invalid, a row number is no data row, or the file cannot be used · 4 the page cannot be
written.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.markup import escape

from dispatcher.commands._campaign_flags import AMOUNT_UNIT, DELIMITER, ENCODING, SHEET
from dispatcher.commands._output import (
    abort,
    console,
    document_printed,
    err_console,
    json_errors,
    refused,
)
from dispatcher.vocabulary import ExitCode

if TYPE_CHECKING:
    from dispatcher.operations.preview import PreviewRequest


def validate_hint(request: PreviewRequest) -> str:
    """The ``validate`` command for the same file, with the flags this preview needed."""
    words = ["dispatcher", "validate", str(request.file)]
    for flag, value in (("-t", request.template), ("--encoding", request.encoding),
                        ("--delimiter", request.delimiter), ("--sheet", request.sheet),
                        ("--amount-unit", request.amount_unit)):
        if value is not None:
            words += [flag, str(value)]
    return shlex.join(words)


def command(
    file: Path = typer.Argument(..., help="Campaign file (.csv or .xlsx).", show_default=False),
    template: Path | None = typer.Option(
        None, "--template", "-t", help="Campaign template (.toml, or .md with +++ front matter)."
    ),
    rows: str | None = typer.Option(
        None, "--rows", help="Rows to show, as the spreadsheet numbers them: 2,15 or 20-22 "
        "(default: the first 3 valid rows).", show_default=False,
    ),
    html: Path | None = typer.Option(
        None, "--html", help="Also write the cards as one HTML page here (mode 0600)."
    ),
    lang: str | None = typer.Option(
        None, "--lang", help="it or en: the labels, the formats, and the language block of the "
        "buttons the app shows (default: LANG/LC_ALL, else it).", show_default=False,
    ),
    sender: str | None = typer.Option(
        None, "--sender", help="Organisation and service as the app heads the message "
        "(IO takes them from the service; the file does not say).", show_default=False,
    ),
    json_output: bool = typer.Option(False, "--json", help="Print the cards as one JSON document."),
    encoding: str | None = ENCODING,
    delimiter: str | None = DELIMITER,
    sheet: str | None = SHEET,
    amount_unit: str | None = AMOUNT_UNIT,
) -> None:
    """Show chosen rows as the IO app will show them: subject, text, buttons, payment, remote
    content; invalid rows show their problems. Nothing is sent."""
    json_errors(json_output)  # --json: one JSON document on every way out
    from dispatcher.commands.validate import parse_rows
    from dispatcher.i18n import resolve_language, translator
    from dispatcher.operations.errors import OperationRefused
    from dispatcher.operations.preview import PreviewRequest, preview_campaign
    from dispatcher.preview import print_cards
    from dispatcher.preview.words import counts

    try:
        language = resolve_language(lang)
    except ValueError as exc:
        abort(str(exc), ExitCode.INVALID_INPUT)
    if amount_unit not in (None, "cents", "euro"):
        abort(f"--amount-unit must be cents or euro, not {amount_unit!r}", ExitCode.INVALID_INPUT)
    try:
        numbers = parse_rows(rows) if rows is not None else None
    except ValueError as exc:
        abort(f"--rows: {exc}", ExitCode.INVALID_INPUT)
    request = PreviewRequest(file, template, numbers, language, sender, html,
                             encoding=encoding, delimiter=delimiter, sheet=sheet,
                             amount_unit=amount_unit)  # type: ignore[arg-type]
    try:
        result = preview_campaign(request)
    except OperationRefused as exc:
        refused(exc)
    t = translator(language)
    if json_output:
        typer.echo(json.dumps(result.to_json(), ensure_ascii=False, indent=2))
        document_printed()
        raise typer.Exit(int(result.exit_code))
    for note in result.notes:
        err_console.print(f"[yellow]note:[/] {escape(note)}", markup=True)
    facts = result.facts
    console.print(f"{facts.file}: {counts(facts, t)}", markup=False)
    if not result.cards:
        console.print(t.gettext("No data row to show."), markup=False)
    print_cards(result.cards, t, console)
    if facts.invalid:
        err_console.print(t.gettext("{n} invalid row(s) in the file; every problem: {command}")
                          .format(n=t.number(facts.invalid), command=validate_hint(request)),
                          markup=False)
    if result.html is not None:
        err_console.print(t.gettext("Preview page written to {path}").format(path=result.html),
                          markup=False)
    raise typer.Exit(int(result.exit_code))
