"""What the content store hands out and how it says no: values and errors, no SQL.

Kept apart from :mod:`dispatcher.content.store` so the server and the report can name them
without reading the store's code; the checks a registration must pass live here too.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from dispatcher.content.model import Attachment, RemoteContent
from dispatcher.privacy import FISCAL_CODE_IN_TEXT

__all__ = ["BlobUnavailable", "ContentConflict", "ContentStoreError", "OpenKind",
           "OpenSummary", "PruneResult", "StoredMessage", "check_item", "content_hash"]

RESERVED_URLS = frozenset({"precondition"})  # /messages/{id}/precondition is another route


class ContentStoreError(Exception):
    """The store cannot be opened, or content cannot be registered; the message says why."""


class ContentConflict(ContentStoreError):
    """A third-party id already names another recipient's or another content's message."""


class BlobUnavailable(ContentStoreError):
    """Attachment bytes cannot be read right now (busy or failing disk): retry later."""


class OpenKind(StrEnum):
    """Which of IO's three calls an open was."""

    DETAILS = "details"
    PRECONDITION = "precondition"
    ATTACHMENT = "attachment"


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """One registered message as the server answers it (attachments carry no ``source``)."""

    content: RemoteContent
    registered_at: datetime

    def attachment(self, url: str) -> Attachment | None:
        return next((a for a in self.content.attachments if a.url == url), None)


@dataclass(frozen=True, slots=True)
class OpenSummary:
    """How one message was read: the report's "first opened / how many opened"."""

    first_opened_at: datetime
    last_opened_at: datetime
    opens: int  # details fetches: each is the citizen opening the message in the app
    precondition_reads: int
    attachment_downloads: int
    attachments_downloaded: int  # distinct attachments fetched at least once


@dataclass(frozen=True, slots=True)
class PruneResult:
    """What a prune removed: every message counted here can no longer be opened."""

    messages: int
    blobs: int
    bytes_freed: int


def content_hash(content: RemoteContent) -> str:
    """The SHA-256 of what a citizen would see: two registrations must agree on it."""
    canonical = {
        "subject": content.subject, "markdown": content.markdown,
        "precondition": None if content.precondition is None else
        [content.precondition.title, content.precondition.markdown],
        "attachments": [[a.id, a.name, a.url, a.content_type, a.category, a.sha256, a.size]
                        for a in content.attachments],
    }
    text = json.dumps(canonical, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()


def check_item(fiscal_code: str, content: RemoteContent) -> None:
    tid = content.third_party_id
    if not tid:
        raise ContentStoreError("remote content without a third_party_id")
    if not FISCAL_CODE_IN_TEXT.fullmatch(fiscal_code.strip()):
        raise ContentStoreError(f"third_party_id {tid!r}: the recipient is not a fiscal code")
    if (content.subject is None) != (content.markdown is None):
        raise ContentStoreError(f"third_party_id {tid!r}: remote subject and markdown come "
                                "together (both or neither)")
    seen_ids: set[str] = set()
    seen_urls: set[str] = set()
    for a in content.attachments:
        if a.id in seen_ids or a.url in seen_urls:
            raise ContentStoreError(f"third_party_id {tid!r}: attachment id {a.id!r} or url "
                                    f"{a.url!r} appears twice")
        if (not a.url or a.url in RESERVED_URLS or a.url.startswith("/")
                or any(c in a.url for c in "?#")):
            raise ContentStoreError(f"third_party_id {tid!r}: attachment url {a.url!r} cannot "
                                    "be served under /messages/{id}/ (empty, 'precondition', "
                                    "a leading '/', '?' or '#')")
        seen_ids.add(a.id)
        seen_urls.add(a.url)
