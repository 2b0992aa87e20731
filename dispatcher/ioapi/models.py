"""The answers a caller gets: values, not exceptions.

A citizen without IO, a 403 "Recipient forbidden" or a message still being processed are
ordinary results of a bulk run, so each call returns one frozen answer whose ``kind`` (a
``StrEnum``) says what happened. Every answer carries ``http_status`` (None when no HTTP answer
arrived), ``attempts`` (requests sent for this call, 429s included) and ``detail`` (ProblemJson
title and detail, the APIM message or the transport error; masked, never holding the key).

A 404 means "no profile" / "not found" / "not available yet" only when the backend said so with
a ProblemJson; APIM's own 404 (an unknown route, e.g. a wrong ``IO_BASE_URL``) is ``rejected``,
so a misconfigured run cannot quietly mark every citizen as having no IO.

Only IO's own answer counts as sent: a 201 whose JSON body holds a message id. Any other 2xx
(a proxy's 200 HTML page, a 204, JSON without an id) may or may not have reached IO, so the
submit is ``ambiguous`` and never counted as delivered.

``never_left`` marks an answer whose request provably never reached IO (connection refused,
DNS, a pool timeout): its row stays pending for the next run, it never becomes ``failed``.
"""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field
from enum import StrEnum

from dispatcher.ioapi.outcomes import IOApiError, MaybeSent, NotSent, Refused, Rejected
from dispatcher.vocabulary import FINAL_STATUSES, ProfileKind, SubmitKind

__all__ = [
    "Answer",
    "FeedAnswer",
    "FeedKind",
    "MessageAnswer",
    "MessageKind",
    "ProfileAnswer",
    "SubmitAnswer",
]

NOT_IO = "unexpected answer from the gateway"
"""How a submit's detail starts when a 2xx was not IO's 201 with a message id."""

MESSAGE_ID = re.compile(r"^[0-9A-Za-z_-]{1,64}$")
"""What a message id IO returns looks like (a ULID today); anything else is not IO's answer."""


class MessageKind(StrEnum):
    FOUND = "found"
    NOT_FOUND = "not_found"
    REJECTED = "rejected"
    FAILED = "failed"


class FeedKind(StrEnum):
    FOUND = "found"
    NOT_AVAILABLE = "not_available"  # 404: the day is not over yet (available at D+1 00:00 UTC)
    REJECTED = "rejected"
    FAILED = "failed"


@dataclass(frozen=True, kw_only=True)
class Answer:
    http_status: int | None
    attempts: int
    detail: str | None = None
    title: str | None = None  # a refusal's ProblemJson title: what systematic errors share
    never_left: bool = False  # the request provably never reached IO

    @property
    def is_auth_error(self) -> bool:
        """IO refused the API key (401): the pipeline should stop the run."""
        return self.http_status == 401


@dataclass(frozen=True, kw_only=True)
class ProfileAnswer(Answer):
    kind: ProfileKind
    preferred_languages: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class SubmitAnswer(Answer):
    kind: SubmitKind
    message_id: str | None = None
    location: str | None = field(default=None, repr=False)  # holds the fiscal code


@dataclass(frozen=True, kw_only=True)
class MessageAnswer(Answer):
    kind: MessageKind
    status: str | None = None  # a MessageStatus value, kept as text should IO add one
    read_status: str | None = None  # READ | UNREAD | UNAVAILABLE, ADVANCED messages only
    payment_status: str | None = None  # PAID | NOT_PAID, ADVANCED messages only
    created_at: str | None = None

    @property
    def is_final(self) -> bool:
        """PROCESSED, REJECTED or FAILED: polling again will not change it."""
        return self.status in FINAL_STATUSES


@dataclass(frozen=True, kw_only=True)
class FeedAnswer(Answer):
    kind: FeedKind
    day: datetime.date
    subscriptions: tuple[str, ...] = ()  # lower-hex SHA-256 of the upper-case fiscal code
    unsubscriptions: tuple[str, ...] = ()


@dataclass(frozen=True)
class Success:
    """A 2xx answer, as the client hands it over: status, parsed JSON body, Location."""

    status: int
    body: object
    location: str | None = None
    content_type: str | None = None


@dataclass(frozen=True)
class Final:
    """How a call ended: a 2xx or the last error, the requests spent, and why it stopped."""

    result: Success | IOApiError
    attempts: int
    note: str | None = None  # e.g. "gave up after 5 attempts"

    @property
    def http_status(self) -> int | None:
        if isinstance(self.result, Success):
            return self.result.status
        return self.result.http_status

    @property
    def detail(self) -> str | None:
        if isinstance(self.result, Success):
            return self.note
        text = self.result.detail_text
        return f"{self.note}: {text}" if self.note else text

    @property
    def title(self) -> str | None:
        return self.result.title if isinstance(self.result, Refused) else None

    @property
    def never_left(self) -> bool:
        return isinstance(self.result, NotSent)

    def common(self) -> dict[str, object]:
        """The fields every answer takes from how its call ended."""
        return {"http_status": self.http_status, "attempts": self.attempts,
                "detail": self.detail, "title": self.title, "never_left": self.never_left}

    def is_backend_404(self) -> bool:
        """A 404 told by the backend (ProblemJson), not by APIM for an unknown route."""
        result = self.result
        return isinstance(result, Rejected) and result.http_status == 404 and result.problem


def _dict(body: object) -> dict[str, object]:
    return body if isinstance(body, dict) else {}


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _strings(value: object) -> tuple[str, ...]:
    return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()


def profile_answer(final: Final) -> ProfileAnswer:
    result, detail = final.result, final.detail
    languages: tuple[str, ...] = ()
    if isinstance(result, Success):
        body = _dict(result.body)
        allowed = body.get("sender_allowed")
        if isinstance(allowed, bool):
            kind = ProfileKind.ALLOWED if allowed else ProfileKind.NOT_ALLOWED
            languages = _strings(body.get("preferred_languages"))
        else:
            kind, detail = ProfileKind.FAILED, "profile answer without sender_allowed"
    elif final.is_backend_404():
        kind = ProfileKind.NO_PROFILE
    else:
        kind = ProfileKind.REJECTED if isinstance(result, Rejected) else ProfileKind.FAILED
    return ProfileAnswer(kind=kind, **{**final.common(), "detail": detail},
                         preferred_languages=languages)


def submit_answer(final: Final) -> SubmitAnswer:
    result, detail = final.result, final.detail
    message_id = location = None
    if isinstance(result, Success):
        location = result.location
        message_id = _text(_dict(result.body).get("id"))
        if result.status == 201 and message_id is not None and MESSAGE_ID.match(message_id):
            kind = SubmitKind.SENT
        else:
            kind, message_id = SubmitKind.AMBIGUOUS, None
            detail = f"{NOT_IO}: {_describe_success(result)}"
    elif isinstance(result, Rejected):
        kind = SubmitKind.REJECTED
    elif isinstance(result, MaybeSent):
        kind = SubmitKind.AMBIGUOUS
    else:
        kind = SubmitKind.FAILED
    return SubmitAnswer(kind=kind, **{**final.common(), "detail": detail},
                        message_id=message_id, location=location)


def _describe_success(result: Success) -> str:
    """A 2xx that is not IO's 201-with-id, in words (never the body: it may hold anything)."""
    kind = (result.content_type or "no content type").split(";", 1)[0].strip()
    if result.status != 201:
        what = f"HTTP {result.status} ({kind}) instead of 201"
    elif result.body is None:
        what = f"HTTP 201 with a body that is not JSON ({kind})"
    else:
        what = "HTTP 201 without a valid message id"
    return (f"{what}; IO may or may not have stored the message (a proxy in between?), "
            "check before resending")


def message_answer(final: Final) -> MessageAnswer:
    result, detail = final.result, final.detail
    body: dict[str, object] = {}
    if isinstance(result, Success):
        body = _dict(result.body)
        kind = MessageKind.FOUND
        if _text(body.get("status")) is None:
            kind, detail = MessageKind.FAILED, "message answer without status"
    elif final.is_backend_404():
        kind = MessageKind.NOT_FOUND
    else:
        kind = MessageKind.REJECTED if isinstance(result, Rejected) else MessageKind.FAILED
    return MessageAnswer(
        kind=kind,
        **{**final.common(), "detail": detail},
        status=_text(body.get("status")),
        read_status=_text(body.get("read_status")),
        payment_status=_text(body.get("payment_status")),
        created_at=_text(_dict(body.get("message")).get("created_at")),
    )


def feed_answer(final: Final, day: datetime.date) -> FeedAnswer:
    result, detail = final.result, final.detail
    body: dict[str, object] = {}
    if isinstance(result, Success):
        body = _dict(result.body)
        kind = FeedKind.FOUND
        if not isinstance(body.get("subscriptions"), list):
            kind, detail = FeedKind.FAILED, "feed answer without subscriptions"
    elif final.is_backend_404():
        kind = FeedKind.NOT_AVAILABLE
    else:
        kind = FeedKind.REJECTED if isinstance(result, Rejected) else FeedKind.FAILED
    return FeedAnswer(
        kind=kind,
        **{**final.common(), "detail": detail},
        day=day,
        subscriptions=_strings(body.get("subscriptions")),
        unsubscriptions=_strings(body.get("unsubscriptions")),
    )
