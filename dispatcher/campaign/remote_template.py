"""The template's ``[remote]`` section: remote text, precondition, campaign-wide attachments.

A remote-content message has two texts: the *courtesy* subject and text that IO stores and
forwards by e-mail (the template's top-level ``subject``/``markdown``), and the remote ones IO
fetches from the ente's content server each time the citizen opens the message. The remote
ones live here, so a template reads top to bottom as the citizen meets them::

    [remote]
    subject = "Il suo referto del {data_esame|data} è disponibile"
    markdown = '''
    Gentile {nome}, ...
    '''

    [remote.precondition]          # shown, and accepted, before the message opens
    title = "Contenuto riservato"
    markdown = "Il messaggio contiene dati sanitari. Proseguire?"

    [[remote.attachments]]         # the same PDF for every citizen (one per table)
    file = "informativa.pdf"       # relative to the template file
    name = "Informativa privacy.pdf"   # what the app shows (default: the file name)
    id = "informativa"             # unique in the message (default: from the file name)

Placeholders work in all four texts as in the courtesy ones. Mistakes of the section itself
(an unknown key, a subject without a text, two attachments with one id, a name that does
not end in ``.pdf``) stop the campaign at load, naming the template: they would fail every
row. Whether the PDF files are good is judged later, once, with the campaign's options
(size cap, PDF/A conversion): see attachments.py.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dispatcher.campaign.problems import CampaignFileError

if TYPE_CHECKING:  # template.py imports this module: only the type comes back
    from dispatcher.campaign.template import Text

Compile = Callable[[str, str, object], "Text"]

__all__ = ["REMOTE_TEXTS", "RemoteTemplate", "TemplateAttachment", "attachment_id",
           "parse_remote_section"]

REMOTE_TEXTS = ("remote_subject", "remote_markdown", "precondition_title",
                "precondition_markdown")
"""The four texts a row may take from the template's ``[remote]`` section (or its own cells)."""

_SECTION_KEYS = {"subject", "markdown", "precondition", "attachments"}
_PRECONDITION_KEYS = {"title", "markdown"}
_ATTACHMENT_KEYS = {"file", "name", "id"}
_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_NOT_ID = re.compile(r"[^a-z0-9]+")


def attachment_id(file_name: str) -> str:
    """``Referto Rossi.PDF`` → ``referto-rossi``: an id that is safe inside a URL path."""
    stem = Path(file_name).stem.casefold()
    return _NOT_ID.sub("-", stem).strip("-")[:64] or "allegato"


@dataclass(frozen=True, slots=True)
class TemplateAttachment:
    """A PDF every remote-content message of the campaign carries."""

    file: Path  # resolved against the template's folder
    written: str  # the path as the template writes it, for messages
    name: str  # ends in .pdf
    id: str


@dataclass(frozen=True, slots=True)
class RemoteTemplate:
    """The compiled ``[remote]`` section."""

    subject: Text | None = None
    markdown: Text | None = None
    precondition_title: Text | None = None
    precondition_markdown: Text | None = None
    attachments: tuple[TemplateAttachment, ...] = ()

    def text(self, name: str) -> Text | None:
        """One of :data:`REMOTE_TEXTS` by its column name."""
        field = {"remote_subject": "subject", "remote_markdown": "markdown"}.get(name, name)
        return getattr(self, field)

    @property
    def texts(self) -> tuple[Text, ...]:
        return tuple(t for t in (self.subject, self.markdown, self.precondition_title,
                                 self.precondition_markdown) if t is not None)


def parse_remote_section(data: Any, path: Path, compile_text: Compile) -> RemoteTemplate:
    """Check and compile ``[remote]``; ``compile_text(text, where, path)`` is template.py's."""
    if not isinstance(data, dict):
        raise CampaignFileError(path, "remote must be a table: [remote]")
    _no_unknown(data, _SECTION_KEYS, "remote", path)
    subject, markdown = (_text(data, key, f"remote.{key}", path, compile_text)
                         for key in ("subject", "markdown"))
    if (subject is None) != (markdown is None):
        missing = "markdown" if markdown is None else "subject"
        raise CampaignFileError(path, f"remote: IO shows remote content only with both a "
                                f"subject and a markdown text; remote.{missing} is missing")
    title = text = None
    precondition = data.get("precondition")
    if precondition is not None:
        if not isinstance(precondition, dict):
            raise CampaignFileError(path, "remote.precondition must be a table: "
                                    "[remote.precondition]")
        _no_unknown(precondition, _PRECONDITION_KEYS, "remote.precondition", path)
        title, text = (_text(precondition, key, f"remote.precondition.{key}", path,
                             compile_text) for key in ("title", "markdown"))
        if title is None or text is None:
            raise CampaignFileError(path, "remote.precondition needs both a title and a "
                                    "markdown text")
    section = RemoteTemplate(subject, markdown, title, text,
                             _attachments(data.get("attachments", []), path))
    if not section.texts and not section.attachments:
        raise CampaignFileError(path, "[remote] is empty: give a subject and markdown, a "
                                "precondition or attachments (or remove the section)")
    return section


def _no_unknown(data: dict[str, Any], allowed: set[str], where: str, path: Path) -> None:
    unknown = set(data) - allowed
    if unknown:
        raise CampaignFileError(path, f"{where}: unknown key(s) {', '.join(sorted(unknown))}; "
                                f"allowed: {', '.join(sorted(allowed))}")


def _text(data: dict[str, Any], key: str, where: str, path: Path,
          compile_text: Compile) -> Text | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise CampaignFileError(path, f"{where} must be text")
    value = value.strip().replace("\r\n", "\n")
    return compile_text(value, where, path) if value else None


def _attachments(entries: Any, path: Path) -> tuple[TemplateAttachment, ...]:
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise CampaignFileError(path, "remote.attachments must be tables: [[remote.attachments]]"
                                " with file = \"...\"")
    found: list[TemplateAttachment] = []
    seen: dict[str, str] = {}
    for number, entry in enumerate(entries, start=1):
        where = f"remote.attachments #{number}"
        _no_unknown(entry, _ATTACHMENT_KEYS, where, path)
        written = entry.get("file")
        if not isinstance(written, str) or not written.strip():
            raise CampaignFileError(path, f"{where}: file = \"...\" (a PDF path) is missing")
        written = written.strip()
        name = entry.get("name", Path(written).name)
        if not isinstance(name, str) or not name.strip().lower().endswith(".pdf"):
            raise CampaignFileError(path, f"{where}: the name {name!r} does not end in .pdf "
                                    "(the app shows the attachment by this name)")
        identifier = entry.get("id", attachment_id(written))
        if not isinstance(identifier, str) or not _ID_PATTERN.match(identifier):
            raise CampaignFileError(path, f"{where}: id {identifier!r} must be 1-64 letters, "
                                    "digits, '.', '_' or '-' (it is part of a URL)")
        if identifier in seen:
            raise CampaignFileError(path, f"{where}: id {identifier!r} is also the id of "
                                    f"{seen[identifier]!r}; ids must be unique in a message "
                                    "(give one an id = \"...\")")
        seen[identifier] = written
        file = Path(written).expanduser()
        if not file.is_absolute():
            file = path.absolute().parent / file
        found.append(TemplateAttachment(file, written, name.strip(), identifier))
    return tuple(found)
