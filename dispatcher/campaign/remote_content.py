"""Each valid row's :class:`~dispatcher.content.model.RemoteContent`, and its attachment files.

``Campaign`` builds one :class:`RemoteBuilder` per slice of rows it renders: the remote texts
come rendered from the same polars pass as the message (rules.py ``message_values`` appends
the ``remote_columns`` after the message fields), the attachments from the
:class:`~dispatcher.campaign.attachments.AttachmentFiles` that already judged every file
during validation, so building a row reads no file again. ``run`` registers the value in the
content store before the submit; a test send re-registers it under the tester's own id.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from dispatcher.campaign.attachments import AttachmentFiles, AttachmentOptions
from dispatcher.campaign.headers import column_name
from dispatcher.campaign.problems import CampaignFileError
from dispatcher.content.model import Precondition, RemoteContent
from dispatcher.privacy import mask_fiscal_codes_in

if TYPE_CHECKING:
    from pathlib import Path

    from dispatcher.campaign.campaign import CampaignOptions
    from dispatcher.campaign.rules import Plan
    from dispatcher.campaign.template import Template
    from dispatcher.message import OutgoingMessage

__all__ = ["RemoteBuilder", "attachment_files", "conversion_notes"]


def attachment_files(path: Path, columns: Iterable[str], template: Template | None,
                     options: CampaignOptions) -> AttachmentFiles | None:
    """The campaign's judge of attachment files, or None when it names no attachment.

    A tool the operator asked for and does not have (``--pdfa-validator``, Ghostscript for
    ``--convert-pdfa``) stops the campaign here, before any file is judged.
    """
    from dispatcher.campaign.pdfa import PdfaError

    section = template.remote if template is not None else None
    template_files = section.attachments if section is not None else ()
    defaults = {column_name(key) for key in options.defaults} | set(
        template.defaults if template is not None else ())
    if not template_files and "attachments" not in {*columns, *defaults}:
        return None
    if options.convert_pdfa and shutil.which("gs") is None:
        raise CampaignFileError(path, "--convert-pdfa needs Ghostscript (gs), which is not "
                                "installed: apt install ghostscript")
    chosen = AttachmentOptions(max_bytes=options.max_attachment_bytes,
                               convert_pdfa=options.convert_pdfa,
                               converted_dir=options.pdfa_dir,
                               validator=options.pdfa_validator)
    try:
        return AttachmentFiles(path, chosen, options.language, template_files)
    except PdfaError as exc:
        raise CampaignFileError(path, str(exc)) from None


def conversion_notes(files: AttachmentFiles | None) -> tuple[str, ...]:
    """What ``--convert-pdfa`` did, for the summary: the copies are what will be sent."""
    converted = sorted({(file.written, file.source) for file in files.converted}) \
        if files is not None else []
    return tuple(mask_fiscal_codes_in(f"{written}: not a PDF/A, converted by Ghostscript to "
                                      f"{source} (the copy is what will be sent)")
                 for written, source in converted)


class RemoteBuilder:
    """Makes the RemoteContent of valid rows from their ``message_values`` record."""

    def __init__(self, plan: Plan, files: AttachmentFiles | None) -> None:
        self._names = tuple(plan.remote_columns)
        self._start = len(plan.message_fields)
        self._files = files

    def __call__(self, message: OutgoingMessage, record: Sequence[Any]) -> RemoteContent | None:
        """None when the row has no remote content of ours (none asked, or the ente's own)."""
        third_party = message.content.third_party_data
        if not self._names or third_party is None:
            return None
        values = dict(zip(self._names, record[self._start:], strict=True))
        title, text = values.get("precondition_title"), values.get("precondition_markdown")
        precondition = Precondition(title, text) if title and text else None
        attachments = (self._files.attachments(values.get("attachments"))
                       if self._files is not None and "attachments" in values else ())
        subject, markdown = values.get("remote_subject"), values.get("remote_markdown")
        if not (subject and markdown):
            subject = markdown = None
        if subject is None and precondition is None and not attachments:
            return None
        return RemoteContent(third_party.id, subject, markdown, precondition, attachments)
