"""``dispatcher test FILE --to CF``: a few real messages of the campaign to test recipients."""

from __future__ import annotations

import json
from pathlib import Path

import typer

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
    console,
    fail,
    json_errors,
    ngettext,
    num,
    refused,
    use_language,
)
from dispatcher.vocabulary import ExitCode


def _row_numbers(text: str | None) -> list[int] | None:
    if not text:
        return None
    try:
        return [int(part) for part in text.replace(" ", "").split(",") if part]
    except ValueError:
        raise typer.BadParameter(_("{value!r} is not a list of row numbers like 2,15")
                                 .format(value=text)) from None


def command(
    file: Path = typer.Argument(..., help="Campaign file (.csv or .xlsx).", show_default=False),
    to: str = typer.Option(
        ..., "--to",
        help="Test recipients: AAAAAA00A00A000A (IO's test citizen: delivered by e-mail to "
        "the service's creator) and/or colleagues' fiscal codes, comma-separated.",
    ),
    rows: str | None = typer.Option(
        None, "--rows",
        help="Row numbers to send (as `validate` numbers them), e.g. 2,15. "
        "Default: the first --count valid rows.",
    ),
    count: int = typer.Option(3, "--count", min=1, max=20, help="How many rows by default."),
    template: Path | None = typer.Option(None, "--template", "-t", help="Campaign template file."),
    ledger: Path | None = typer.Option(
        None, "--ledger", help="Ledger path (default: FILE.dispatcher/ledger.sqlite)."
    ),
    config: Path | None = typer.Option(None, "--config", help="TOML settings file."),
    encoding: str | None = ENCODING,
    delimiter: str | None = DELIMITER,
    json_output: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    convert_pdfa: bool = CONVERT_PDFA,
    pdfa_validator: str | None = PDFA_VALIDATOR,
    max_attachment_size: str | None = MAX_ATTACHMENT_SIZE,
    content_store: Path | None = typer.Option(
        None, "--content-store",
        help="Where a tester's remote content is registered (default: as for run).",
    ),
    lang: str | None = LANG_OPTION,
) -> None:
    # Long: one typer.Option per flag (they are the command's --help); the body is short.
    """Send chosen rows of FILE, rendered exactly as for the citizens, to test recipients.

    Recorded in the ledger as test sends of this file and template (never as campaign rows);
    `run --require-test` refuses to start until one of them was accepted by IO.
    """
    json_errors(json_output)  # --json: one JSON document on every way out
    language = use_language(lang).language
    from dispatcher.campaign import CampaignFileError, CampaignOptions, load_campaign
    from dispatcher.commands.hints import suggest
    from dispatcher.operations.errors import OperationRefused
    from dispatcher.operations.test_send import (
        TestSendError,
        parse_recipients,
        pick_rows,
        send_tests,
    )
    from dispatcher.paths import default_ledger_path
    from dispatcher.privacy import mask_fiscal_code
    from dispatcher.settings import ConfigError, load_settings

    try:
        settings = load_settings(config_file=config)
        settings.require_api_key()
    except ConfigError as exc:
        fail("{message}", ExitCode.CONFIG_ERROR, message=str(exc))
    try:
        recipients = parse_recipients(to)
        campaign = load_campaign(
            file, template=template,
            options=CampaignOptions(encoding=encoding, delimiter=delimiter, language=language,
                                    **attachment_options(convert_pdfa, pdfa_validator,
                                                         max_attachment_size)),
        )
        chosen = pick_rows(campaign, rows=_row_numbers(rows), count=count)
    except (TestSendError, CampaignFileError) as exc:
        fail("{message}", ExitCode.INVALID_INPUT, message=str(exc))
    ledger_path = ledger or default_ledger_path(file)
    try:
        summary = send_tests(campaign, settings=settings, ledger_path=ledger_path,
                             recipients=recipients, rows=chosen,
                             content_store=content_store)
    except OperationRefused as exc:
        refused(exc)
    if json_output:
        console.print_json(json.dumps({
            "sends": [
                {"row": s.source_row, "recipient": mask_fiscal_code(s.recipient),
                 "outcome": s.outcome, "message_id": s.message_id,
                 "http_status": s.http_status, "detail": s.detail}
                for s in summary.sends
            ],
            "all_sent": summary.all_sent,
            "recovered_ambiguous": summary.recovered,
            "fatal": summary.fatal,
            "stopped": summary.stopped,
            "exit_code": int(summary.exit_code),
            "ledger": str(ledger_path),
        }))
    else:
        from rich.markup import escape
        from rich.table import Table

        from dispatcher.report.labels import outcome_label

        table = Table(title=_("Test sends of {name}").format(name=file.name))
        for column in (_("row"), _("recipient"), _("outcome"), _("IO message id / detail")):
            table.add_column(column)
        for s in summary.sends:
            table.add_row(str(s.source_row), mask_fiscal_code(s.recipient),
                          f"{outcome_label(s.outcome, language)} ({s.outcome})",
                          s.message_id or s.detail or "")
        console.print(table)
        if summary.all_sent:
            console.print(_("Check the messages (the test citizen's copy arrives by e-mail), "
                            "then run: {command}").format(
                command=suggest("run", file, flags=("--require-test",)
                                + (("--skip-invalid",) if campaign.has_errors else ()))),
                markup=False)
        if summary.recovered:
            console.print("[yellow]" + escape(ngettext(
                "{n} earlier test send was in flight when a process stopped: recorded as "
                "ambiguous.", "{n} earlier test sends were in flight when a process stopped: "
                "recorded as ambiguous.", summary.recovered).format(n=num(summary.recovered)))
                + "[/]")
        if summary.fatal or summary.stopped:
            console.print(f"[red]{escape(str(summary.fatal or summary.stopped))}[/]")
    raise typer.Exit(int(summary.exit_code))
