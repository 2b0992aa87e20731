"""What can come of one request to IO: classified once, here, and nowhere else.

The first split answers the question that decides everything for a submit, since IO has no
idempotency key: *could the request have reached IO?*

::

    IOApiError                 root of everything dispatcher.ioapi raises
    ├── NotSent                provably never left this machine: safe to retry
    │                          (ConnectError, ConnectTimeout, PoolTimeout, LocalProtocolError,
    │                           UnsupportedProtocol, ProxyError)
    ├── MaybeSent              may have reached IO, its answer was lost: a submit is ambiguous
    │                          and never resent; reads are retried
    │                          (ReadTimeout, WriteTimeout, ReadError, WriteError,
    │                           RemoteProtocolError, any other transport error, the total
    │                           deadline, 502/503/504, a 5xx without a ProblemJson body)
    ├── Refused                IO answered no; nothing was stored (FACTS §2.4: every explicit
    │   │                      non-2xx answer is given before the message is queued)
    │   ├── Throttled          429, with ``retry_after_s`` from the headers or the APIM text
    │   ├── ServerError        a 5xx ProblemJson from the backend (Cosmos, blob): retry-safe
    │   └── Rejected           4xx: permanent, detail kept; ``is_auth_error`` for 401
    └── RunHalted              the run must stop, not only this call
        └── ErrorRateExceeded  too many transport/5xx errors among the recent answers

httpx's exceptions are translated at the edge by :func:`map_transport_errors`, chained
``from exc``; responses by :func:`classify_response`. Every text is masked of fiscal codes and
of the API key, and never includes a URL (``GET /messages/{fiscal_code}/…`` holds one).
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from email.utils import parsedate_to_datetime
from enum import StrEnum
from typing import ClassVar

import httpx

from dispatcher.privacy import mask_fiscal_codes_in, redact

__all__ = [
    "ErrorRateExceeded",
    "IOApiError",
    "MaybeSent",
    "NotSent",
    "OutcomeClass",
    "Refused",
    "Rejected",
    "RunHalted",
    "ServerError",
    "Throttled",
    "classify_response",
    "map_transport_errors",
    "remaining_from",
    "retry_after_from",
]

_MAX_DETAIL = 300
_APIM_WAIT = re.compile(r"try again in (\d+(?:\.\d+)?) seconds?", re.IGNORECASE)
_GATEWAY_STATUSES = frozenset({502, 503, 504})


class OutcomeClass(StrEnum):
    """The class of one attempt, for statistics and the error-rate window."""

    SUCCESS = "success"
    NOT_SENT = "not_sent"
    MAYBE_SENT = "maybe_sent"
    THROTTLED = "throttled"
    SERVER_ERROR = "server_error"
    REJECTED = "rejected"


def clean_text(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Mask fiscal codes, remove secrets, cut to a log-friendly length."""
    text = mask_fiscal_codes_in(redact(text, secrets)).strip()
    return text if len(text) <= _MAX_DETAIL else text[: _MAX_DETAIL - 1] + "…"


class IOApiError(Exception):
    """Root of the tree; ``http_status`` is None when no HTTP answer arrived."""

    outcome: ClassVar[OutcomeClass]
    http_status: int | None = None

    @property
    def detail_text(self) -> str:
        """The text an answer's ``detail`` carries (already masked)."""
        return str(self)


class NotSent(IOApiError):
    """The request never left this machine, so IO cannot have stored anything."""

    outcome = OutcomeClass.NOT_SENT


class MaybeSent(IOApiError):
    """The request may have reached IO and its answer was lost."""

    outcome = OutcomeClass.MAYBE_SENT

    def __init__(self, reason: str, *, http_status: int | None = None) -> None:
        super().__init__(reason)
        self.http_status = http_status


class Refused(IOApiError):
    """IO answered with an explicit refusal; nothing was stored."""

    outcome = OutcomeClass.REJECTED

    def __init__(
        self, status: int, title: str | None = None, detail: str | None = None, *,
        problem: bool = False,
    ) -> None:
        self.http_status = status
        self.title = title
        self.detail = detail
        self.problem = problem  # the body was a ProblemJson, i.e. the backend itself answered
        text = ": ".join(part for part in (title, detail) if part) or "no detail"
        super().__init__(f"{status} {text}")

    @property
    def detail_text(self) -> str:
        return ": ".join(part for part in (self.title, self.detail) if part) or str(self)


class Throttled(Refused):
    """429: the gateway's window is full; retry after ``retry_after_s`` (None: no hint)."""

    outcome = OutcomeClass.THROTTLED

    def __init__(self, retry_after_s: float | None, detail: str | None = None) -> None:
        super().__init__(429, "Too Many Requests", detail)
        self.retry_after_s = retry_after_s


class ServerError(Refused):
    """A 5xx ProblemJson: the backend failed before queueing the message (retry-safe)."""

    outcome = OutcomeClass.SERVER_ERROR


class Rejected(Refused):
    """A permanent 4xx (or an unexpected status): resending the same request cannot help."""

    outcome = OutcomeClass.REJECTED

    @property
    def is_auth_error(self) -> bool:
        """401: the key is missing or wrong, so every further call would fail too."""
        return self.http_status == 401


class RunHalted(IOApiError):
    """The run must stop (resumably): raised by a call instead of sending anything."""


class ErrorRateExceeded(RunHalted):
    """Too many of the recent answers were transport or server errors.

    Raised before an attempt, never after one whose outcome is known, so a submit that raises
    it was not stored by IO: its row can safely stay pending.
    """

    def __init__(self, errors: int, samples: int, threshold: float, commonest: str) -> None:
        self.errors = errors
        self.samples = samples
        self.threshold = threshold
        self.commonest = commonest
        super().__init__(
            f"stopping the run: {errors} of the last {samples} answers from IO were errors "
            f"({errors / samples:.0%}, limit {threshold:.0%}; mostly {commonest}). "
            "Nothing more is sent; check the network or IO's status, then rerun to resume."
        )


_NOT_SENT_ERRORS: tuple[type[Exception], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.LocalProtocolError,  # h11 refused to serialise the request: nothing went out
    httpx.UnsupportedProtocol,
    httpx.ProxyError,
)


@contextmanager
def map_transport_errors(*, secrets: tuple[str, ...] = ()) -> Iterator[None]:
    """Re-raise httpx's errors (and the total deadline) as NotSent or MaybeSent."""
    try:
        yield
    except _NOT_SENT_ERRORS as exc:
        raise NotSent(_describe(exc, secrets)) from exc
    except httpx.RequestError as exc:  # read/write errors and timeouts, protocol errors, …
        raise MaybeSent(_describe(exc, secrets)) from exc
    except TimeoutError as exc:  # anyio.fail_after: the answer did not complete in time
        raise MaybeSent("no complete answer before the request's deadline") from exc


def _describe(exc: Exception, secrets: tuple[str, ...]) -> str:
    text = clean_text(str(exc), secrets)
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def classify_response(
    response: httpx.Response,
    *,
    secrets: tuple[str, ...] = (),
    wall_clock: Callable[[], float] = time.time,
) -> IOApiError | None:
    """None for a 2xx; otherwise the error that the status and body mean."""
    status = response.status_code
    if 200 <= status < 300:
        return None
    title, detail, problem = problem_of(response, secrets)
    if status == 429:
        hint = retry_after_from(response.headers, detail, wall_clock=wall_clock)
        return Throttled(hint, detail)
    if status in _GATEWAY_STATUSES or (status >= 500 and not problem):
        text = ": ".join(part for part in (title, detail) if part)
        return MaybeSent(f"{status} from the gateway{': ' + text if text else ''}",
                         http_status=status)
    if status >= 500:
        return ServerError(status, title, detail, problem=True)
    return Rejected(status, title, detail, problem=problem)


def problem_of(
    response: httpx.Response, secrets: tuple[str, ...] = ()
) -> tuple[str | None, str | None, bool]:
    """(title, detail, is_problem_json) of an error body: ProblemJson, APIM JSON or text."""
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        body = None
    is_problem_type = "problem+json" in response.headers.get("content-type", "")
    if isinstance(body, dict):
        if is_problem_type or "title" in body or "detail" in body:
            return _field(body, "title", secrets), _field(body, "detail", secrets), True
        if "message" in body:  # APIM: {"statusCode": 429, "message": "Rate limit is …"}
            return None, _field(body, "message", secrets), False
    text = clean_text(response.text, secrets) if response.content else ""
    return None, text or None, False


def _field(body: Mapping[str, object], name: str, secrets: tuple[str, ...]) -> str | None:
    value = body.get(name)
    return clean_text(str(value), secrets) or None if value is not None else None


def retry_after_from(
    headers: Mapping[str, str],
    text: str | None,
    *,
    wall_clock: Callable[[], float] = time.time,
) -> float | None:
    """IO's wait hint, in order: x-rate-limit-retry-after, Retry-After, the APIM message text.

    IO's policy renames the header (FACTS §6), so ``Retry-After`` is only a fallback.
    """
    for name in ("x-rate-limit-retry-after", "retry-after"):
        seconds = _seconds(headers.get(name), wall_clock)
        if seconds is not None:
            return seconds
    match = _APIM_WAIT.search(text or "")
    return float(match.group(1)) if match else None


def _seconds(value: str | None, wall_clock: Callable[[], float]) -> float | None:
    if value is None or not value.strip():
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        try:  # Retry-After may also be an HTTP date
            return max(0.0, parsedate_to_datetime(value).timestamp() - wall_clock())
        except (TypeError, ValueError):
            return None
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def remaining_from(headers: Mapping[str, str]) -> int | None:
    """``x-rate-limit-remaining``: calls left in the gateway's current window, if sent."""
    value = headers.get("x-rate-limit-remaining", "").strip()
    return int(value) if value.isdigit() else None
