"""``dispatcher validate FILE``: every problem of a campaign file, before anything is sent.

Prints a summary (how the file was read: format, encoding, delimiter; rows, valid, invalid
by reason, duplicates, warnings), the problems of the whole file (a template mistake that
fails every row is said once, with the number of rows it affects), the first row problems
as ``row N, column C: message`` (``importo (amount)``: the file's header and the field it
fills), and a preview of the first valid message -- or, with ``--preview 2,15,20-22``, of
those rows (invalid ones show their problems instead). ``--problems-csv`` writes every
problem to a spreadsheet-safe CSV.

Exit codes: 0 when no row is invalid (warnings and duplicates allowed: a duplicate is simply
not sent, and the summary says so); 2 when some row is invalid or the file itself cannot be
used, or ``--preview`` names no data row (one line on stderr naming the file, never a
traceback).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.markup import escape

from dispatcher.commands._campaign_flags import (
    AMOUNT_UNIT,
    CONVERT_PDFA,
    DELIMITER,
    ENCODING,
    MAX_ATTACHMENT_SIZE,
    PDFA_VALIDATOR,
    SHEET,
    attachment_options,
)
from dispatcher.commands._output import (
    LANG_OPTION,
    _,
    abort,
    console,
    document_printed,
    err_console,
    fail,
    json_errors,
    ngettext,
    num,
    styled,
    tr,
    use_language,
)
from dispatcher.i18n import N_
from dispatcher.privacy import mask_fiscal_code, mask_fiscal_codes_in
from dispatcher.vocabulary import ExitCode, Language

if TYPE_CHECKING:
    from dispatcher.campaign import Campaign, CampaignRow, FileProblem, Problem

MAX_SHOWN = 20
MAX_PREVIEW = 100  # rows --preview may ask for at once
_ENCODINGS = {"utf-8": "UTF-8", "utf-8-sig": "UTF-8", "utf-16": "UTF-16",
              "cp1252": "Windows-1252", "latin-1": "Latin-1", "iso8859-1": "Latin-1",
              "iso8859-15": "Latin-9", "mac-roman": "Mac Roman", "cp850": "DOS (cp850)"}
_DELIMITERS = {";": "';'", ",": "','", "\t": N_("tab"), "|": "'|'"}
_SEVERITIES = {"warning": N_("warning"), "error": N_("error"), "notice": N_("notice")}
_ROW_SPEC = re.compile(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?")


def _counts(counts: dict[Any, int]) -> str:
    return ", ".join(f"{code} {num(n)}" for code, n in counts.items())  # codes stay codes


def _english(text: str) -> str:
    return text


def read_as(campaign: Campaign, translate: Callable[[str], str] = _english) -> str:
    """``CSV, UTF-8, delimiter ';'``: how the file was read, part of every summary.

    English by default (the JSON document's ``read_as``); the summary passes its language.
    """
    if campaign.kind != "csv":
        return translate(N_("Excel workbook"))
    encoding = campaign.encoding or "utf-8"
    shown = _ENCODINGS.get(encoding, encoding)
    if shown != encoding and shown not in ("UTF-8", "UTF-16"):
        shown += f" ({encoding})"
    delimiter = campaign.delimiter or ","
    marked = _DELIMITERS.get(delimiter, repr(delimiter))
    return translate(N_("CSV, {encoding}, delimiter {delimiter}")).format(
        encoding=shown, delimiter=translate(marked))


def _tag(problem: Problem | FileProblem) -> str:
    severity = str(problem.severity)
    return "" if problem.is_error else f" ({_(_SEVERITIES.get(severity, severity))})"


def _problem_line(campaign: Campaign, problem: Problem) -> str:
    where = (_("row {row}, column {column}").format(
                 row=problem.row, column=campaign.column_title(problem.column))
             if problem.column else _("row {row}").format(row=problem.row))
    return f"  {where}: {problem.message}{_tag(problem)} [{problem.code}]"


def _file_problem_line(campaign: Campaign, problem: FileProblem) -> str:
    column = problem.column or ""
    if problem.code == "placeholder_missing":
        where = _("placeholder {name}").format(name=f"{{{column}}}")
    elif column:
        where = _("column {column}").format(column=campaign.column_title(column))
    else:
        where = _("file")
    rows = ngettext("{n} row(s)", "{n} row(s)", problem.rows_affected).format(
        n=num(problem.rows_affected))
    return f"  {where}: {problem.message}{_tag(problem)} [{problem.code}] — {rows}"


def render_validation(
    campaign: Campaign, *, max_problems: int = MAX_SHOWN, preview: bool = False,
    out: Console | None = None, preview_rows: list[int] | None = None,
) -> None:
    """The human summary: counts, notes, file and row problems, and (optionally) previews."""
    out = out or console
    out.print(_("{path}, template {template}").format(
        path=campaign.path, template=campaign.template.path) if campaign.template
        else str(campaign.path), markup=False)
    labels = [_("read as"), _("rows"), _("valid"), _("invalid"), _("duplicates"),
              _("warnings")]
    width = max(map(len, labels))

    def line(label: str, value: int | str, note: str = "") -> None:
        shown = num(value) if isinstance(value, int) else value
        text = f"  {label:<{width + 2}}{shown:>9}" if isinstance(value, int) else \
            f"  {label:<{width + 2}}{shown}"
        out.print(f"{text}   {note}" if note else text, markup=False)

    line(labels[0], read_as(campaign, _))
    line(labels[1], campaign.row_count)
    line(labels[2], campaign.valid_count)
    line(labels[3], campaign.invalid_count, _counts(campaign.invalid_by_reason()))
    if campaign.duplicate_count:
        line(labels[4], campaign.duplicate_count, _(
            "same fiscal code as an earlier row: one message per person, not sent"))
    line(labels[5], campaign.warning_count, _counts(campaign.warnings_by_code()))
    for note in campaign.notes:
        err_console.print(styled("yellow", _("note:")) + " " + escape(note), markup=True,
                          highlight=False)
    if campaign.file_problems:
        out.print("\n" + _("Problems of the whole file (said once, not per row):"),
                  markup=False)
        for file_problem in campaign.file_problems:
            out.print(_file_problem_line(campaign, file_problem), markup=False)
    problems = campaign.first_problems(max_problems)
    if problems:
        out.print("\n" + ngettext("First {n} row problem(s):", "First {n} row problem(s):",
                                  len(problems)).format(n=num(len(problems))), markup=False)
        for problem in problems:
            out.print(_problem_line(campaign, problem), markup=False)
    if preview_rows:
        for row in campaign.preview_rows(preview_rows):
            _render_row(campaign, row, out)
    elif preview:
        _render_preview(campaign.preview(), out)


def _render_row(campaign: Campaign, row: CampaignRow, out: Console) -> None:
    """One asked-for row: rendered when valid, else why it will not be sent."""
    if row.message is not None:
        _render_preview(row, out, first=False)
        return
    out.print("\n" + _("Row {row} ({state}): not sent").format(row=row.row, state=row.state),
              markup=False)
    for problem in row.problems:
        out.print(_problem_line(campaign, problem), markup=False)


def _render_preview(row: CampaignRow | None, out: Console, first: bool = True) -> None:
    if row is None or row.message is None:
        out.print("\n" + _("No valid row to preview."), markup=False)
        return
    t = tr()
    message = row.message
    content = message.content
    out.print("\n" + (_("Preview of row {row} (the first valid row):") if first
                      else _("Preview of row {row}:")).format(row=row.row), markup=False)
    fields = {"to": _("to"), "subject": _("subject"), "due": _("due date"),
              "payment": _("payment"), "remote": _("remote")}
    width = max(map(len, fields.values())) + 2
    out.print(f"  {fields['to']:<{width}}{mask_fiscal_code(row.fiscal_code)}", markup=False)
    out.print(f"  {fields['subject']:<{width}}{mask_fiscal_codes_in(content.subject)}",
              markup=False)
    if content.due_date is not None:
        local = t.datetime(datetime.fromisoformat(content.due_date))
        out.print(f"  {fields['due']:<{width}}{content.due_date} "
                  + _("({moment} in Italy)").format(moment=local), markup=False)
    payment = content.payment_data
    if payment is not None:
        payee = payment.payee_fiscal_code or _("the service's organisation")
        after = (" · " + _("invalid after due date")) if payment.invalid_after_due_date else ""
        out.print(f"  {fields['payment']:<{width}}" + _(
            "{amount} · notice {notice} · payee {payee}").format(
                amount=t.euro(payment.amount), notice=payment.notice_number, payee=payee)
            + after, markup=False)
    body = message.body()
    if "third_party_data" in body["content"]:
        remote = json.dumps(body["content"]["third_party_data"], ensure_ascii=False)
        out.print(f"  {fields['remote']:<{width}}{mask_fiscal_codes_in(remote)}",
                  markup=False)
    for key in ("feature_level_type", "time_to_live"):  # IO's field names: codes
        if key in body:
            out.print(f"  {key}  {body[key]}", markup=False)
    for problem in row.problems:  # warnings of a valid row
        severity = _(_SEVERITIES.get(str(problem.severity), str(problem.severity)))
        out.print(f"  {severity}: {problem.message} [{problem.code}]", markup=False)
    out.print("  ─── markdown ───", markup=False)
    for line in mask_fiscal_codes_in(content.markdown).split("\n"):
        out.print(f"  {line}", markup=False)


def parse_rows(spec: str) -> list[int]:
    """``"2,15,20-22"`` → ``[2, 15, 20, 21, 22]``; ValueError saying what is wrong."""
    numbers: list[int] = []
    for part in spec.split(","):
        if not part.strip():
            continue
        match = _ROW_SPEC.fullmatch(part)
        if match is None:
            raise ValueError(f"{part.strip()!r} is not a row number or a range "
                             "(write 2,15 or 20-22)")
        first = int(match.group(1))
        last = int(match.group(2) or first)
        if last < first:
            raise ValueError(f"{part.strip()!r}: the range goes backwards")
        if last - first + 1 + len(numbers) > MAX_PREVIEW:
            raise ValueError(f"at most {MAX_PREVIEW} rows at a time")
        numbers.extend(range(first, last + 1))
    if not numbers:
        raise ValueError("name at least one row (write 2,15 or 20-22)")
    return list(dict.fromkeys(numbers))


def _masked_body(row: CampaignRow) -> dict[str, Any] | None:
    if row.message is None:
        return None
    body = row.message.body()
    content = body["content"]
    masked = {**body, "fiscal_code": mask_fiscal_code(row.fiscal_code),
              "content": {**content,
                          "subject": mask_fiscal_codes_in(content["subject"]),
                          "markdown": mask_fiscal_codes_in(content["markdown"])}}
    if "third_party_data" in content:
        masked["content"]["third_party_data"] = json.loads(mask_fiscal_codes_in(
            json.dumps(content["third_party_data"])))
    return masked


def _problem_record(campaign: Campaign, problem: Problem) -> dict[str, Any]:
    return {"row": problem.row, "column": problem.column,
            "column_title": campaign.column_title(problem.column) if problem.column else None,
            "code": str(problem.code), "severity": str(problem.severity),
            "message": problem.message}


def validation_document(campaign: Campaign, max_problems: int,
             preview_rows: list[int] | None = None) -> dict[str, Any]:
    preview = campaign.preview()
    summary: dict[str, Any] = {
        "file": str(campaign.path),
        "sha256": campaign.source_sha256,
        "template": str(campaign.template.path) if campaign.template else None,
        "template_sha256": campaign.template_sha256,
        "format": campaign.kind,
        "encoding": campaign.encoding,
        "delimiter": campaign.delimiter,
        "read_as": read_as(campaign),
        "rows": campaign.row_count,
        "valid": campaign.valid_count,
        "invalid": campaign.invalid_count,
        "duplicates": campaign.duplicate_count,
        "warnings": campaign.warning_count,
        "invalid_by_reason": {str(k): n for k, n in campaign.invalid_by_reason().items()},
        "warnings_by_code": {str(k): n for k, n in campaign.warnings_by_code().items()},
        "notes": list(campaign.notes),
        "file_problems": [
            {"code": str(p.code), "column": p.column, "severity": str(p.severity),
             "rows_affected": p.rows_affected, "message": p.message}
            for p in campaign.file_problems
        ],
        "problems": [_problem_record(campaign, p)
                     for p in campaign.first_problems(max_problems)],
        "preview": _masked_body(preview) if preview is not None else None,
        "exit_code": int(ExitCode.INVALID_INPUT if campaign.has_errors else ExitCode.OK),
    }
    if preview_rows:
        summary["previews"] = [
            {"row": row.row, "state": str(row.state), "duplicate_of": row.duplicate_of,
             "message": _masked_body(row),
             "problems": [_problem_record(campaign, p) for p in row.problems]}
            for row in campaign.preview_rows(preview_rows)
        ]
    return summary


def write_problems_csv(campaign: Campaign, path: Path) -> int:
    """All problems to ``path`` (formula-safe, mode 0600, UTF-8 with BOM for Excel).

    The whole file's problems come first, with no row number; then every row problem.
    """
    import polars as pl

    from dispatcher.report import write_csv

    rows: list[tuple[int | None, str | None, str, str, str]] = [
        (None, f"{{{p.column}}}" if p.code == "placeholder_missing" else p.column,
         str(p.code), str(p.severity), f"{p.message} ({p.rows_affected:,} row(s))")
        for p in campaign.file_problems]
    rows += [(p.row, campaign.column_title(p.column) if p.column else None, str(p.code),
              str(p.severity), p.message) for p in campaign.iter_problems()]
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
    encoding: str | None = ENCODING,
    delimiter: str | None = DELIMITER,
    sheet: str | None = SHEET,
    amount_unit: str | None = AMOUNT_UNIT,
    problems_csv: Path | None = typer.Option(
        None, "--problems-csv", help="Write every problem to this CSV file."
    ),
    max_rows: int = typer.Option(1_000_000, "--max-rows", min=1, help="Refuse larger files."),
    lang: str | None = LANG_OPTION,
    json_output: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
    preview: str | None = typer.Option(
        None, "--preview", help="Rows to preview, as the spreadsheet numbers them: 2,15 or "
        "20-22 (default: the first valid row).", show_default=False,
    ),
    convert_pdfa: bool = CONVERT_PDFA,
    pdfa_validator: str | None = PDFA_VALIDATOR,
    max_attachment_size: str | None = MAX_ATTACHMENT_SIZE,
) -> None:
    """Check a campaign file (and template) against IO's rules; nothing is sent."""
    json_errors(json_output)  # --json: one JSON document on every way out
    from dispatcher.campaign import CampaignFileError, CampaignOptions, NoSuchRows, load_campaign

    language = use_language(lang).language
    if json_output:  # JSON is language-neutral: codes and English messages
        language = Language.EN
    if amount_unit not in (None, "cents", "euro"):
        fail(N_("--amount-unit must be cents or euro, not {value!r}"), ExitCode.INVALID_INPUT,
             value=amount_unit)
    options = CampaignOptions(
        encoding=encoding, delimiter=delimiter, max_rows=max_rows,
        amount_unit=amount_unit,  # type: ignore[arg-type]
        sheet=sheet, language=language,
        **attachment_options(convert_pdfa, pdfa_validator, max_attachment_size),
    )
    try:
        rows = parse_rows(preview) if preview is not None else None
    except ValueError as exc:
        abort(f"--preview: {exc}", ExitCode.INVALID_INPUT)
    try:
        campaign = load_campaign(file, template=template, options=options)
        if rows:
            campaign.preview_rows(rows)  # unknown rows: an error before any output
        if json_output:
            typer.echo(json.dumps(validation_document(campaign, MAX_SHOWN, rows),
                                  ensure_ascii=False, indent=2))
            document_printed()
        else:
            render_validation(campaign, max_problems=MAX_SHOWN, preview=True,
                              preview_rows=rows)
        if problems_csv is not None:
            written = write_problems_csv(campaign, problems_csv)
            err_console.print(ngettext("{n} problem(s) written to {path}",
                                       "{n} problem(s) written to {path}", written).format(
                                           n=num(written), path=problems_csv), markup=False)
    except CampaignFileError as exc:  # also from rows rendered after loading (guard.py)
        abort(str(exc), ExitCode.INVALID_INPUT)
    except NoSuchRows as exc:
        abort(f"--preview: {exc}", ExitCode.INVALID_INPUT)
    if campaign.has_errors:
        if not json_output:
            err_console.print(
                styled("bold red", _("invalid:")) + " " + escape(ngettext(
                    "{n} row(s) of {path} must be fixed before sending",
                    "{n} row(s) of {path} must be fixed before sending",
                    campaign.invalid_count).format(n=num(campaign.invalid_count), path=file)),
                markup=True,
            )
        raise typer.Exit(int(ExitCode.INVALID_INPUT))
    if not json_output:
        # "(s)" in English, as before; the catalog has the proper Italian forms.
        ready = ngettext("OK: {n} message(s) ready", "OK: {n} message(s) ready",
                         campaign.valid_count).format(n=num(campaign.valid_count))
        if campaign.duplicate_count:
            ready += "; " + ngettext("{n} duplicate row(s) will not be sent",
                                     "{n} duplicate row(s) will not be sent",
                                     campaign.duplicate_count).format(
                                         n=num(campaign.duplicate_count))
        console.print(f"\n{ready}.", markup=False)
    raise typer.Exit(int(ExitCode.OK))
