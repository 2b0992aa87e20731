"""``dispatcher validate FILE``: every problem of a campaign file, before anything is sent.

Prints a summary (rows, valid, invalid by reason, duplicates, warnings), the first problems
as ``row N, column C: message``, and a preview of the first valid message. ``--problems-csv``
writes all problems to a spreadsheet-safe CSV.

Exit codes: 0 when no row is invalid (warnings and duplicates allowed: a duplicate is simply
not sent, and the summary says so); 2 when some row is invalid or the file itself cannot be
used (one line on stderr naming the file, never a traceback).
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import typer
from rich.console import Console

from dispatcher.commands._output import abort, console, err_console
from dispatcher.privacy import mask_fiscal_code, mask_fiscal_codes_in
from dispatcher.vocabulary import ExitCode

if TYPE_CHECKING:
    from dispatcher.campaign import Campaign, CampaignRow, Problem

MAX_SHOWN = 20


def _counts(counts: dict[Any, int]) -> str:
    return ", ".join(f"{code} {n:,}" for code, n in counts.items())


def _problem_line(problem: Problem) -> str:
    where = f"row {problem.row}" + (f", column {problem.column}" if problem.column else "")
    tag = "" if problem.is_error else f" ({problem.severity})"
    return f"  {where}: {problem.message}{tag} [{problem.code}]"


def render_validation(
    campaign: Campaign, *, max_problems: int = MAX_SHOWN, preview: bool = False,
    out: Console | None = None,
) -> None:
    """The human summary: counts, notes, the first problems and (optionally) a preview."""
    out = out or console
    source = f"{campaign.kind.upper()}"
    if campaign.encoding:
        source += f", {campaign.encoding}, delimiter {campaign.delimiter!r}"
    out.print(f"{campaign.path} ({source})"
              + (f", template {campaign.template.path}" if campaign.template else ""),
              markup=False)
    out.print(f"  rows        {campaign.row_count:>9,}", markup=False)
    out.print(f"  valid       {campaign.valid_count:>9,}", markup=False)
    out.print(f"  invalid     {campaign.invalid_count:>9,}   "
              f"{_counts(campaign.invalid_by_reason())}", markup=False)
    if campaign.duplicate_count:
        out.print(f"  duplicates  {campaign.duplicate_count:>9,}   same fiscal code as an "
                  "earlier row: one message per person, not sent", markup=False)
    out.print(f"  warnings    {campaign.warning_count:>9,}   "
              f"{_counts(campaign.warnings_by_code())}", markup=False)
    for note in campaign.notes:
        err_console.print(f"[yellow]note:[/] {note}", markup=True, highlight=False)
    problems = campaign.first_problems(max_problems)
    if problems:
        out.print(f"\nFirst {len(problems)} problem(s):", markup=False)
        for problem in problems:
            out.print(_problem_line(problem), markup=False)
    if preview:
        _render_preview(campaign.preview(), out)


def _render_preview(row: CampaignRow | None, out: Console) -> None:
    if row is None or row.message is None:
        out.print("\nNo valid row to preview.", markup=False)
        return
    from dispatcher.campaign.values import euro_text

    message = row.message
    content = message.content
    out.print(f"\nPreview of row {row.row} (the first valid row):", markup=False)
    out.print(f"  to        {mask_fiscal_code(row.fiscal_code)}", markup=False)
    out.print(f"  subject   {mask_fiscal_codes_in(content.subject)}", markup=False)
    if content.due_date is not None:
        local = datetime.fromisoformat(content.due_date).astimezone(ZoneInfo("Europe/Rome"))
        out.print(f"  due date  {content.due_date} "
                  f"({local:%d/%m/%Y %H:%M} in Italy)", markup=False)
    payment = content.payment_data
    if payment is not None:
        payee = payment.payee_fiscal_code or "the service's organisation"
        after = " · invalid after due date" if payment.invalid_after_due_date else ""
        out.print(f"  payment   {euro_text(payment.amount)} · notice "
                  f"{payment.notice_number} · payee {payee}{after}", markup=False)
    body = message.body()
    if "third_party_data" in body["content"]:
        out.print(f"  remote    {json.dumps(body['content']['third_party_data'])}", markup=False)
    for key in ("feature_level_type", "time_to_live"):
        if key in body:
            out.print(f"  {key}  {body[key]}", markup=False)
    out.print("  ─── markdown ───", markup=False)
    for line in mask_fiscal_codes_in(content.markdown).split("\n"):
        out.print(f"  {line}", markup=False)


def _summary(campaign: Campaign, max_problems: int) -> dict[str, Any]:
    preview = campaign.preview()
    payload = None
    if preview is not None and preview.message is not None:
        body = preview.message.body()
        content = body["content"]
        payload = {**body, "fiscal_code": mask_fiscal_code(preview.fiscal_code),
                   "content": {**content,
                               "subject": mask_fiscal_codes_in(content["subject"]),
                               "markdown": mask_fiscal_codes_in(content["markdown"])}}
    return {
        "file": str(campaign.path),
        "sha256": campaign.source_sha256,
        "template": str(campaign.template.path) if campaign.template else None,
        "template_sha256": campaign.template_sha256,
        "format": campaign.kind,
        "encoding": campaign.encoding,
        "delimiter": campaign.delimiter,
        "rows": campaign.row_count,
        "valid": campaign.valid_count,
        "invalid": campaign.invalid_count,
        "duplicates": campaign.duplicate_count,
        "warnings": campaign.warning_count,
        "invalid_by_reason": {str(k): n for k, n in campaign.invalid_by_reason().items()},
        "warnings_by_code": {str(k): n for k, n in campaign.warnings_by_code().items()},
        "notes": list(campaign.notes),
        "problems": [
            {"row": p.row, "column": p.column, "code": str(p.code),
             "severity": str(p.severity), "message": p.message}
            for p in campaign.first_problems(max_problems)
        ],
        "preview": payload,
        "exit_code": int(ExitCode.INVALID_INPUT if campaign.has_errors else ExitCode.OK),
    }


def write_problems_csv(campaign: Campaign, path: Path) -> int:
    """All problems to ``path`` (formula-safe, mode 0600, UTF-8 with BOM for Excel)."""
    import polars as pl

    from dispatcher.report import write_csv

    rows = [(p.row, p.column, str(p.code), str(p.severity), p.message)
            for p in campaign.iter_problems()]
    frame = pl.DataFrame(
        rows, orient="row",
        schema={"row": pl.Int64, "column": pl.String, "code": pl.String,
                "severity": pl.String, "message": pl.String},
    )
    separator = ";" if campaign.delimiter == ";" else ","
    write_csv(frame, path, separator=separator, bom=True)
    return len(rows)


def command(
    file: Path = typer.Argument(..., help="Campaign file (.csv or .xlsx).", show_default=False),
    template: Path | None = typer.Option(
        None, "--template", "-t", help="Campaign template (.toml, or .md with +++ front matter)."
    ),
    encoding: str | None = typer.Option(
        None, "--encoding", help="Force the CSV encoding (e.g. cp1252) (default: detect)."
    ),
    delimiter: str | None = typer.Option(
        None, "--delimiter", help="Force the CSV delimiter: ';', ',', tab (default: detect)."
    ),
    sheet: str | None = typer.Option(None, "--sheet", help="Excel sheet name or 0-based number."),
    amount_unit: str | None = typer.Option(
        None, "--amount-unit", help="cents or euro (default: the template's, else cents)."
    ),
    problems_csv: Path | None = typer.Option(
        None, "--problems-csv", help="Write every problem to this CSV file."
    ),
    max_rows: int = typer.Option(1_000_000, "--max-rows", min=1, help="Refuse larger files."),
    lang: str = typer.Option("en", "--lang", help="Language of problem messages: en or it."),
    json_output: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Check a campaign file (and template) against IO's rules; nothing is sent."""
    from dispatcher.campaign import CampaignFileError, CampaignOptions, load_campaign

    if amount_unit not in (None, "cents", "euro"):
        abort(f"--amount-unit must be cents or euro, not {amount_unit!r}", ExitCode.INVALID_INPUT)
    if lang not in ("en", "it"):
        abort(f"--lang must be en or it, not {lang!r}", ExitCode.INVALID_INPUT)
    options = CampaignOptions(
        encoding=encoding, delimiter=delimiter, max_rows=max_rows,
        amount_unit=amount_unit,  # type: ignore[arg-type]
        sheet=sheet, language=lang,  # type: ignore[arg-type]
    )
    try:
        campaign = load_campaign(file, template=template, options=options)
    except CampaignFileError as exc:
        abort(str(exc), ExitCode.INVALID_INPUT)
    if json_output:
        typer.echo(json.dumps(_summary(campaign, MAX_SHOWN), ensure_ascii=False, indent=2))
    else:
        render_validation(campaign, max_problems=MAX_SHOWN, preview=True)
    if problems_csv is not None:
        written = write_problems_csv(campaign, problems_csv)
        err_console.print(f"{written:,} problem(s) written to {problems_csv}", markup=False)
    if campaign.has_errors:
        if not json_output:
            err_console.print(
                f"[bold red]invalid:[/] {campaign.invalid_count:,} row(s) of {file} must be "
                "fixed before sending", markup=True,
            )
        raise typer.Exit(int(ExitCode.INVALID_INPUT))
    if not json_output:
        dup = (f"; {campaign.duplicate_count:,} duplicate row(s) will not be sent"
               if campaign.duplicate_count else "")
        console.print(f"\nOK: {campaign.valid_count:,} message(s) ready{dup}.", markup=False)
    raise typer.Exit(int(ExitCode.OK))
