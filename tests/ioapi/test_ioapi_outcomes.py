"""Every status and every transport error is classified once, by the rules of FACTS §2–§6."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime

import httpx
import pytest
from ioapi_helpers import FC, KEY, MASKED_FC, apim, problem

from dispatcher.ioapi import (
    Decision,
    ErrorRateBreaker,
    ErrorRateExceeded,
    IOApiError,
    MaybeSent,
    NotSent,
    Refused,
    Rejected,
    RetryBudget,
    RetryPolicy,
    RunHalted,
    ServerError,
    Throttled,
    classify_response,
    map_transport_errors,
    outcomes,
    retry_decision,
)
from dispatcher.ioapi.outcomes import remaining_from, retry_after_from

REQUEST = httpx.Request("POST", "https://io.test/api/v1/messages")


def with_request(response: httpx.Response) -> httpx.Response:
    response.request = REQUEST
    return response


@pytest.mark.parametrize(
    ("response", "expected", "status"),
    [
        (httpx.Response(200, json={"sender_allowed": True}), None, None),
        (httpx.Response(201, json={"id": "x"}), None, None),
        (problem(400, "Invalid message structure", "value at /content/subject"), Rejected, 400),
        (apim(401, "Access denied due to invalid subscription key."), Rejected, 401),
        (problem(403, "Recipient forbidden"), Rejected, 403),
        (problem(404, "Profile not found"), Rejected, 404),
        (apim(404, "Resource not found"), Rejected, 404),
        (httpx.Response(409, text="conflict"), Rejected, 409),
        (apim(429, "Rate limit is exceeded. Try again in 3 seconds."), Throttled, 429),
        (problem(500, "Internal server error", "Query error (COSMOS_ERROR_RESPONSE)"),
         ServerError, 500),
        (httpx.Response(500, text="<html>oops</html>"), MaybeSent, 500),
        (httpx.Response(502, text="Bad Gateway"), MaybeSent, 502),
        (problem(503, "Service Unavailable"), MaybeSent, 503),
        (httpx.Response(504), MaybeSent, 504),
    ],
)
def test_each_status_is_classified(
    response: httpx.Response, expected: type[IOApiError] | None, status: int | None
) -> None:
    error = classify_response(with_request(response))
    if expected is None:
        assert error is None
        return
    assert type(error) is expected
    assert error.http_status == status


def test_a_problem_json_body_is_told_apart_from_apims_own_answers() -> None:
    backend = classify_response(with_request(problem(404, "Profile not found", "no inbox")))
    gateway = classify_response(with_request(apim(404, "Resource not found")))
    assert isinstance(backend, Rejected) and backend.problem
    assert backend.detail_text == "Profile not found: no inbox"
    assert isinstance(gateway, Rejected) and not gateway.problem
    assert gateway.detail_text == "Resource not found"


def test_only_a_401_is_an_auth_error() -> None:
    assert Rejected(401, None, "Access denied").is_auth_error
    assert not Rejected(403, "Recipient forbidden").is_auth_error


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (httpx.ConnectError("refused"), NotSent),
        (httpx.ConnectTimeout("slow dns"), NotSent),
        (httpx.PoolTimeout("no connection free"), NotSent),
        (httpx.LocalProtocolError("bad header"), NotSent),
        (httpx.UnsupportedProtocol("ftp"), NotSent),
        (httpx.ProxyError("proxy said no"), NotSent),
        (httpx.ReadTimeout("no answer"), MaybeSent),
        (httpx.WriteTimeout("stuck sending"), MaybeSent),
        (httpx.ReadError("reset by peer"), MaybeSent),
        (httpx.WriteError("broken pipe"), MaybeSent),
        (httpx.RemoteProtocolError("Server disconnected without sending a response."),
         MaybeSent),
        (httpx.CloseError("close"), MaybeSent),
        (httpx.DecodingError("gzip"), MaybeSent),
        (TimeoutError(), MaybeSent),  # anyio.fail_after: the request's total deadline
    ],
)
def test_transport_errors_are_split_by_whether_the_request_left(
    exc: Exception, expected: type[IOApiError]
) -> None:
    with pytest.raises(expected) as caught, map_transport_errors():
        raise exc
    assert caught.value.__cause__ is exc
    assert caught.value.http_status is None


def test_transport_error_text_is_masked_and_redacted() -> None:
    with pytest.raises(NotSent) as caught, map_transport_errors(secrets=(KEY,)):
        raise httpx.LocalProtocolError(f"Illegal header value {KEY} for {FC}")
    assert KEY not in str(caught.value) and FC not in str(caught.value)
    assert MASKED_FC in str(caught.value)


def test_other_exceptions_pass_through_untranslated() -> None:
    with pytest.raises(KeyError), map_transport_errors():
        raise KeyError("a bug, not a transport error")


def test_details_from_io_are_masked_and_never_hold_the_key() -> None:
    body = problem(403, "Recipient forbidden", f"{FC} is not authorized (key {KEY})")
    error = classify_response(with_request(body), secrets=(KEY,))
    assert error is not None
    for text in (str(error), repr(error), error.detail_text):
        assert FC not in text and KEY not in text
    assert MASKED_FC in error.detail_text


def test_a_long_html_error_page_is_cut_short() -> None:
    error = classify_response(with_request(httpx.Response(500, text="<p>x</p>" * 500)))
    assert error is not None and len(str(error)) < 400


# --- 429 wait hints -------------------------------------------------------------------------

APIM_TEXT = "Rate limit is exceeded. Try again in 7 seconds."


@pytest.mark.parametrize(
    ("headers", "text", "expected"),
    [
        ({"x-rate-limit-retry-after": "3", "retry-after": "5"}, APIM_TEXT, 3.0),
        ({"retry-after": "5"}, APIM_TEXT, 5.0),
        ({}, APIM_TEXT, 7.0),
        ({"x-rate-limit-retry-after": "soon", "retry-after": "2.5"}, None, 2.5),
        ({"x-rate-limit-retry-after": "-4"}, APIM_TEXT, 7.0),
        ({"x-rate-limit-retry-after": "nan"}, None, None),
        ({}, "Rate limit is exceeded. Try again in 1 second.", 1.0),
        ({}, "Too many requests", None),
        ({}, None, None),
    ],
)
def test_the_wait_hint_is_read_from_three_sources_in_order(
    headers: dict[str, str], text: str | None, expected: float | None
) -> None:
    assert retry_after_from(httpx.Headers(headers), text) == expected


def test_retry_after_may_be_an_http_date() -> None:
    now = datetime(2026, 11, 28, 12, 0, 0, tzinfo=UTC)
    later = format_datetime(datetime(2026, 11, 28, 12, 0, 4, tzinfo=UTC), usegmt=True)
    headers = httpx.Headers({"retry-after": later})
    assert retry_after_from(headers, None, wall_clock=now.timestamp) == pytest.approx(4.0)


def test_a_429_carries_its_hint_from_the_apim_text_when_headers_are_missing() -> None:
    error = classify_response(with_request(apim(429, APIM_TEXT)))
    assert isinstance(error, Throttled) and error.retry_after_s == 7.0
    header_first = apim(429, APIM_TEXT, **{"x-rate-limit-retry-after": "2"})
    error = classify_response(with_request(header_first))
    assert isinstance(error, Throttled) and error.retry_after_s == 2.0


@pytest.mark.parametrize(
    ("value", "expected"), [("12", 12), ("0", 0), ("", None), ("many", None), ("-1", None)]
)
def test_remaining_calls_are_parsed_leniently(value: str, expected: int | None) -> None:
    assert remaining_from(httpx.Headers({"x-rate-limit-remaining": value})) == expected


# --- retry rules ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exc", "idempotent", "decision"),
    [
        (NotSent("ConnectError"), False, Decision.RETRY),
        (NotSent("ConnectError"), True, Decision.RETRY),
        (ServerError(500, "Internal server error", problem=True), False, Decision.RETRY),
        (ServerError(500, "Internal server error", problem=True), True, Decision.RETRY),
        (Throttled(2.0), False, Decision.RETRY_WHEN_OPEN),
        (Throttled(None), True, Decision.RETRY_WHEN_OPEN),
        (MaybeSent("ReadTimeout"), False, Decision.GIVE_UP),
        (MaybeSent("502 from the gateway", http_status=502), False, Decision.GIVE_UP),
        (MaybeSent("ReadTimeout"), True, Decision.RETRY),
        (Rejected(400, "Invalid"), False, Decision.GIVE_UP),
        (Rejected(401, None, "Access denied"), True, Decision.GIVE_UP),
        (Rejected(404, "Profile not found", problem=True), True, Decision.GIVE_UP),
    ],
)
def test_retry_decision_table(exc: IOApiError, idempotent: bool, decision: Decision) -> None:
    assert retry_decision(exc, idempotent=idempotent) is decision


def test_backoff_grows_exponentially_up_to_the_cap_without_jitter() -> None:
    policy = RetryPolicy(wait_initial=1.0, wait_max=20.0, wait_jitter=0.0)
    assert [policy.backoff(n) for n in range(1, 7)] == [1, 2, 4, 8, 16, 20]


def test_full_jitter_draws_between_zero_and_the_cap() -> None:
    draws: list[tuple[float, float]] = []

    def uniform(low: float, high: float) -> float:
        draws.append((low, high))
        return high * 0.25

    policy = RetryPolicy(wait_initial=1.0, wait_max=20.0, uniform=uniform)
    assert policy.backoff(3) == pytest.approx(3.0)  # cap 4, a quarter drawn off
    assert draws == [(0.0, 4.0)]
    real = RetryPolicy(wait_initial=1.0, wait_max=20.0)
    assert all(0.0 <= real.backoff(5) <= 16.0 for _ in range(200))


def test_policy_arguments_are_checked() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(attempts=0)
    with pytest.raises(ValueError):
        RetryPolicy(wait_jitter=1.5)


def test_the_retry_budget_is_a_share_of_first_attempts_plus_a_floor() -> None:
    budget = RetryBudget(ratio=0.1, floor=2)
    assert [budget.try_spend() for _ in range(3)] == [True, True, False]
    for _ in range(20):
        budget.note_first_attempt()
    assert budget.left == 2
    assert [budget.try_spend() for _ in range(3)] == [True, True, False]


def test_the_breaker_opens_above_the_threshold_once_it_has_enough_samples() -> None:
    too_early = ErrorRateBreaker(window=200, threshold=0.5, min_samples=50)
    for _ in range(49):
        too_early.record(NotSent("ConnectError"))
    assert not too_early.is_open  # too few samples to judge
    breaker = ErrorRateBreaker(window=200, threshold=0.5, min_samples=50)
    for error in [None] * 49 + [NotSent("ConnectError")] * 49:
        breaker.record(error)
    breaker.record(Throttled(1.0))  # 429s are pacing, not errors
    assert not breaker.is_open  # 49 of 98
    breaker.record(MaybeSent("ReadTimeout"))
    assert breaker.is_open  # 50 of 99
    breaker.record(ServerError(500, "Internal", problem=True))
    with pytest.raises(ErrorRateExceeded) as caught:
        breaker.check()
    message = str(caught.value)
    assert "50 of the last 99" in message and "NotSent" in message and "rerun" in message


def test_permanent_answers_do_not_count_as_errors() -> None:
    breaker = ErrorRateBreaker(window=20, min_samples=10)
    for _ in range(30):
        breaker.record(Rejected(404, "Profile not found", problem=True))
    assert breaker.error_rate == 0.0 and not breaker.is_open


def test_the_breaker_stays_open_once_tripped() -> None:
    breaker = ErrorRateBreaker(window=10, min_samples=10)
    for _ in range(10):
        breaker.record(NotSent("ConnectError"))
    for _ in range(10):
        breaker.record(None)
    with pytest.raises(ErrorRateExceeded):
        breaker.check()


# --- the tree -------------------------------------------------------------------------------


def test_the_tree_has_one_root_and_its_first_split_is_sent_or_not() -> None:
    for cls in (NotSent, MaybeSent, Refused, RunHalted):
        assert cls.__bases__ == (IOApiError,)
    for cls in (Throttled, ServerError, Rejected):
        assert cls.__bases__ == (Refused,)
    assert ErrorRateExceeded.__bases__ == (RunHalted,)
    doc = outcomes.__doc__ or ""
    for cls in (IOApiError, NotSent, MaybeSent, Refused, Throttled, ServerError, Rejected,
                RunHalted, ErrorRateExceeded):
        assert cls.__name__ in doc
