"""The two error dialects a sender meets, and the fixed answers IO gives.

Backend errors are RFC 7807 ProblemJson (``{"detail", "status", "title"}``, sent as
``application/problem+json`` by io-ts-commons' ``ResponseErrorGeneric``). Errors made by the
APIM gateway (401, 429, unknown route, 502/504) are APIM's own ``{"statusCode", "message"}``
JSON instead. Titles and details below are copied from IO's sources named in FACTS.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from starlette.responses import Response

PROBLEM_JSON = "application/problem+json"
JSON = "application/json"

RETRY_AFTER_HEADER = "x-rate-limit-retry-after"
REMAINING_HEADER = "x-rate-limit-remaining"

MISSING_KEY_MESSAGE = (
    "Access denied due to missing subscription key. "
    "Make sure to include subscription key when making requests to an API."
)
INVALID_KEY_MESSAGE = (
    "Access denied due to invalid subscription key. "
    "Make sure to provide a valid key for an active subscription."
)


def json_response(body: Any, status: int = 200, headers: Mapping[str, str] | None = None,
                  media_type: str = JSON) -> Response:
    return Response(orjson.dumps(body), status_code=status, headers=headers,
                    media_type=media_type)


def problem(status: int, title: str, detail: str,
            headers: Mapping[str, str] | None = None) -> Response:
    return json_response({"detail": detail, "status": status, "title": title}, status,
                         headers, PROBLEM_JSON)


def apim_error(status: int, message: str, headers: Mapping[str, str] | None = None) -> Response:
    return json_response({"statusCode": status, "message": message}, status, headers)


def unauthorized(key_given: bool) -> Response:
    return apim_error(401, INVALID_KEY_MESSAGE if key_given else MISSING_KEY_MESSAGE)


def throttled(retry_after_s: int) -> Response:
    return apim_error(
        429,
        f"Rate limit is exceeded. Try again in {retry_after_s} seconds.",
        {RETRY_AFTER_HEADER: str(retry_after_s)},
    )


def route_not_found() -> Response:
    return apim_error(404, "Resource not found")


def gateway_error(status: int, headers: Mapping[str, str] | None = None) -> Response:
    """502/504 as the gateway tells it; whether the backend acted is unknowable from here."""
    message = "Bad Gateway" if status == 502 else "Gateway Timeout"
    return apim_error(status, message, headers)


# --- backend ProblemJson answers ---------------------------------------------------------

NOT_ALLOWED_TITLE = "You are not allowed here"


def forbidden(detail: str = "You do not have enough permission to complete the operation "
              "you requested") -> Response:
    return problem(403, NOT_ALLOWED_TITLE, detail)


def recipient_forbidden() -> Response:
    return problem(403, "Recipient forbidden",
                   "You are not allowed to issue requests for the recipient.")


def internal_error(detail: str) -> Response:
    return problem(500, "Internal server error", detail)
