"""The JSON documents IO receives, made from the typed content in one place.

The details answer (``RemoteContentDetailsResponse``) is made once, when the content is
registered, and kept with it: every open then costs one row read, not a rebuild. The
precondition answer is small and made per request.
"""

from __future__ import annotations

from typing import Any

import orjson

from dispatcher.content.model import Precondition, RemoteContent

__all__ = ["details_document", "precondition_document"]


def details_body(content: RemoteContent) -> dict[str, Any]:
    """``RemoteContentDetailsResponse``: the attachment list, and details when the message
    has remote text (without them IO shows the static text sent at creation)."""
    body: dict[str, Any] = {"attachments": [
        {"id": a.id, "url": a.url, "name": a.name, "content_type": a.content_type,
         "category": a.category} for a in content.attachments]}
    if content.has_details:
        body["details"] = {"subject": content.subject, "markdown": content.markdown}
    return body


def details_document(content: RemoteContent) -> bytes:
    return orjson.dumps(details_body(content))


def precondition_document(precondition: Precondition) -> bytes:
    """``PreconditionContent``."""
    return orjson.dumps({"title": precondition.title, "markdown": precondition.markdown})
