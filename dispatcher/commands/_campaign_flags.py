"""The flags that say how to read a campaign, shared by the commands that read one.

One definition, so ``validate``, ``preview``, ``run`` (and ``--dry-run``) and ``test`` read a
file the same way, and check its attachments the same way: a file ``validate`` accepted is
accepted by ``run``, converted the same way, under the same size cap.
"""

from __future__ import annotations

from typing import Any

import typer

from dispatcher.commands._output import fail
from dispatcher.i18n import N_
from dispatcher.vocabulary import ExitCode

__all__ = ["AMOUNT_UNIT", "CONVERT_PDFA", "DELIMITER", "ENCODING", "MAX_ATTACHMENT_SIZE",
           "PDFA_VALIDATOR", "SHEET", "attachment_options"]

ENCODING: Any = typer.Option(
    None, "--encoding", help="Force the CSV encoding (e.g. cp1252) (default: detect).")
DELIMITER: Any = typer.Option(
    None, "--delimiter", help="Force the CSV delimiter: ';', ',', tab (default: detect).")
SHEET: Any = typer.Option(None, "--sheet", help="Excel sheet name or 0-based number.")
AMOUNT_UNIT: Any = typer.Option(
    None, "--amount-unit", help="cents or euro (default: the template's, else cents).")

CONVERT_PDFA: Any = typer.Option(
    False, "--convert-pdfa", help="Convert attachments that are not PDF/A with Ghostscript "
    "(into FILE.dispatcher/pdfa/); the converted copy is what gets sent.")
PDFA_VALIDATOR: Any = typer.Option(
    None, "--pdfa-validator", metavar="CMD", help="Run this PDF/A validator on each "
    "distinct attachment, e.g. \"verapdf --format text\" (the file is appended).")
MAX_ATTACHMENT_SIZE: Any = typer.Option(
    None, "--max-attachment-size", metavar="SIZE",
    help="Refuse attachments larger than this: 10MB, 500kB or bytes (default 10MB).")


def attachment_options(convert_pdfa: bool, pdfa_validator: str | None,
                       max_attachment_size: str | None) -> dict[str, Any]:
    """The ``CampaignOptions`` fields of the three flags; a bad size is exit 2."""
    from dispatcher.campaign.attachments import parse_size

    try:
        max_bytes = parse_size(max_attachment_size) if max_attachment_size else None
    except ValueError as exc:
        fail(N_("--max-attachment-size: {message}"), ExitCode.INVALID_INPUT, message=str(exc))
    return {"max_attachment_bytes": max_bytes, "convert_pdfa": convert_pdfa,
            "pdfa_validator": pdfa_validator}
