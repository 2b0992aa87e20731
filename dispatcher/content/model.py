"""The remote content of one message, as the campaign room makes it and the store keeps it.

Why its own typed value: three rooms meet here. The campaign room builds it from template
sections and row columns; ``run`` registers it in the content store *before* the submit (the
citizen may open the message seconds later); the content server answers IO from what was
stored. None of them passes dicts to another.

Attachments are named by the SHA-256 of their bytes: one PDF sent to 80,000 citizens is
stored once, and a file changed after validation is a different file, never served in place
of the one that was checked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["ATTACHMENT_CATEGORY", "ATTACHMENT_CONTENT_TYPE", "Attachment", "Precondition",
           "RemoteContent"]

ATTACHMENT_CONTENT_TYPE = "application/pdf"
ATTACHMENT_CATEGORY = "DOCUMENT"


@dataclass(frozen=True, slots=True)
class Attachment:
    """One PDF of a message: its id in the message, the name the app shows, its bytes' hash.

    ``url`` is relative: IO fetches ``GET /messages/{third_party_id}/{url}``. ``source`` is the
    file it was read from at validation (not stored; the store keeps the bytes themselves).
    """

    id: str
    name: str  # ends in .pdf
    sha256: str  # hex digest of the bytes
    size: int  # bytes
    url: str
    content_type: str = ATTACHMENT_CONTENT_TYPE
    category: str = ATTACHMENT_CATEGORY
    source: Path | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Precondition:
    """What the citizen must read and accept before the message opens."""

    title: str
    markdown: str


@dataclass(frozen=True, slots=True)
class RemoteContent:
    """Everything IO may fetch for one third-party id, for one recipient.

    ``subject``/``markdown`` are the remote details (both set, or both ``None`` when the
    message has no remote text and IO shows the static one sent at creation).
    """

    third_party_id: str
    subject: str | None = None
    markdown: str | None = None
    precondition: Precondition | None = None
    attachments: tuple[Attachment, ...] = ()

    @property
    def has_details(self) -> bool:
        return self.subject is not None and self.markdown is not None
