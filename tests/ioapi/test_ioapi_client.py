"""The client against a scripted IO: answers, retries, ambiguity, budgets, privacy.

(Over 400 lines: one test per row of the client's error-mapping table.)
"""

from __future__ import annotations

import datetime
import json
from itertools import pairwise
from typing import Any

import anyio
import httpx
import pytest
import respx
import structlog
from ioapi_helpers import (
    BASE,
    FC,
    KEY,
    MASKED_FC,
    MESSAGE_ID,
    Script,
    Step,
    apim,
    client_for,
    no_jitter,
    problem,
)

from dispatcher.clock import FakeClock
from dispatcher.ioapi import (
    Client,
    ErrorRateBreaker,
    ErrorRateExceeded,
    FeedKind,
    MessageKind,
    RetryBudget,
)
from dispatcher.message import OutgoingMessage
from dispatcher.pacing import Pacer
from dispatcher.settings import ConfigError, RateSpec, Secret, Settings
from dispatcher.vocabulary import ProfileKind, SubmitKind

pytestmark = pytest.mark.anyio

PAYLOAD = {"fiscal_code": FC, "content": {"subject": "Avviso di test", "markdown": "x" * 80}}
MESSAGE = OutgoingMessage.from_body(FC, PAYLOAD)
CREATED = httpx.Response(201, json={"id": MESSAGE_ID},
                         headers={"location": f"/api/v1/messages/{FC}/{MESSAGE_ID}"})
ALLOWED = httpx.Response(200, json={"sender_allowed": True, "preferred_languages": ["it_IT"]})
RATE_LIMITED = apim(429, "Rate limit is exceeded. Try again in 3 seconds.",
                    **{"x-rate-limit-retry-after": "3"})

LOST_ANSWERS: list[Step] = [
    httpx.ReadTimeout("timed out"),
    httpx.WriteTimeout("timed out"),
    httpx.ReadError("connection reset by peer"),
    httpx.WriteError("broken pipe"),
    httpx.RemoteProtocolError("Server disconnected without sending a response."),
    httpx.Response(502, text="Bad Gateway"),
    httpx.Response(503, text="Service Unavailable"),
    httpx.Response(504, text="Gateway Timeout"),
    httpx.Response(500, text="<html>APIM policy error</html>"),
]
LOST_IDS = ["ReadTimeout", "WriteTimeout", "ReadError", "WriteError", "RemoteProtocolError",
            "502", "503", "504", "500-not-problem"]


# --- profile --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "kind", "status"),
    [
        (ALLOWED, ProfileKind.ALLOWED, 200),
        (httpx.Response(200, json={"sender_allowed": False}), ProfileKind.NOT_ALLOWED, 200),
        (problem(404, "Profile not found"), ProfileKind.NO_PROFILE, 404),
        (apim(404, "Resource not found"), ProfileKind.REJECTED, 404),  # a wrong base URL
        (problem(403, "Recipient forbidden"), ProfileKind.REJECTED, 403),
        (problem(400, "Invalid FiscalCodePayload"), ProfileKind.REJECTED, 400),
        (apim(401, "Access denied due to invalid subscription key."), ProfileKind.REJECTED, 401),
        (httpx.Response(200, json={"email": "stale@example"}), ProfileKind.FAILED, 200),
    ],
)
async def test_profile_answers(answer: httpx.Response, kind: ProfileKind, status: int) -> None:
    script = Script(answer)
    async with client_for(script) as client:
        result = await client.check_profile(FC)
    assert (result.kind, result.http_status, result.attempts) == (kind, status, 1)
    assert result.is_auth_error is (status == 401)
    request = script.requests[0]
    assert (request.method, str(request.url)) == ("POST", f"{BASE}/profiles")
    assert json.loads(request.content) == {"fiscal_code": FC}
    assert request.headers["Ocp-Apim-Subscription-Key"] == KEY
    assert request.headers["user-agent"].startswith("dispatcher/")


async def test_an_allowed_profile_keeps_the_preferred_languages() -> None:
    async with client_for(Script(ALLOWED)) as client:
        result = await client.check_profile(FC)
    assert result.preferred_languages == ("it_IT",)


async def test_a_rejection_keeps_the_problem_title_and_detail() -> None:
    script = Script(problem(403, "Recipient forbidden", "You are not allowed here"))
    async with client_for(script) as client:
        result = await client.check_profile(FC)
    assert result.detail == "Recipient forbidden: You are not allowed here"


# --- submit ---------------------------------------------------------------------------------


async def test_a_201_is_sent_with_its_message_id_and_location() -> None:
    script = Script(CREATED)
    async with client_for(script) as client:
        result = await client.submit_message(MESSAGE)
    assert (result.kind, result.message_id, result.http_status) == (
        SubmitKind.SENT, MESSAGE_ID, 201)
    assert result.location == f"/api/v1/messages/{FC}/{MESSAGE_ID}"
    assert FC not in repr(result)
    assert str(script.requests[0].url) == f"{BASE}/messages"
    assert json.loads(script.requests[0].content) == PAYLOAD


@pytest.mark.parametrize(
    ("answer", "said"),
    [
        (httpx.Response(200, html="<html><body>Welcome</body></html>"),
         "HTTP 200 (text/html"),
        (httpx.Response(204), "HTTP 204"),
        (httpx.Response(201, json={"status": "ok"}), "without a valid message id"),
        (httpx.Response(201, json={"id": "<script>"}), "without a valid message id"),
        (httpx.Response(201, text="created"), "not JSON"),
        (httpx.Response(201, headers={"location": f"/api/v1/messages/{FC}/ABC"}),
         "not JSON"),
    ],
    ids=["200-html", "204", "201-json-without-id", "201-bad-id", "201-text",
         "201-location-only"],
)
async def test_only_a_201_with_a_message_id_counts_as_sent(answer: httpx.Response,
                                                           said: str) -> None:
    """A proxy's page or a body without an id may or may not have reached IO: ambiguous."""
    script = Script(answer)
    async with client_for(script) as client:
        result = await client.submit_message(MESSAGE)
    assert (result.kind, result.message_id) == (SubmitKind.AMBIGUOUS, None)
    assert result.detail is not None
    assert result.detail.startswith("unexpected answer from the gateway")
    assert said in result.detail
    assert len(script.requests) == 1  # never resent


@pytest.mark.parametrize(
    "error", [httpx.ConnectError("refused"), httpx.ConnectTimeout("slow"),
              httpx.PoolTimeout("pool")], ids=["connect", "connect-timeout", "pool"])
async def test_a_request_that_never_left_says_so(error: Exception) -> None:
    script = Script(*[error] * 10)
    async with client_for(script) as client:
        submitted = await client.submit_message(MESSAGE)
        checked = await client.check_profile(FC)
    assert submitted.never_left and checked.never_left
    assert (submitted.kind, checked.kind) == (SubmitKind.FAILED, ProfileKind.FAILED)


async def test_a_refusal_carries_its_title() -> None:
    script = Script(problem(400, "Payment amount over the service's cap", "max 0"))
    async with client_for(script) as client:
        result = await client.submit_message(MESSAGE)
    assert (result.kind, result.title, result.never_left) == (
        SubmitKind.REJECTED, "Payment amount over the service's cap", False)


@pytest.mark.parametrize(
    "answer",
    [
        problem(400, "Invalid message structure", "value at /content/markdown"),
        problem(403, "Recipient forbidden"),
        problem(404, "Not found", "configuration_id"),
    ],
)
async def test_a_permanent_4xx_rejects_the_submit_once(answer: httpx.Response) -> None:
    script = Script(answer, CREATED)
    async with client_for(script) as client:
        result = await client.submit_message(MESSAGE)
    assert result.kind is SubmitKind.REJECTED and result.detail
    assert script.call_count == 1


@pytest.mark.parametrize("lost", LOST_ANSWERS, ids=LOST_IDS)
async def test_a_submit_that_may_have_reached_io_is_ambiguous_and_never_resent(
    lost: Step,
) -> None:
    script = Script(lost, CREATED)
    async with client_for(script) as client:
        result = await client.submit_message(MESSAGE)
        stats = client.statistics()
    assert result.kind is SubmitKind.AMBIGUOUS
    assert script.call_count == 1
    assert result.attempts == 1 and result.detail
    assert stats.ambiguous == 1 and stats.retries == 0


@pytest.mark.parametrize("lost", LOST_ANSWERS, ids=LOST_IDS)
async def test_reads_are_retried_after_a_lost_answer(lost: Step) -> None:
    found = httpx.Response(200, json={"status": "PROCESSED", "message": {"id": MESSAGE_ID}})
    profile, message = Script(lost, ALLOWED), Script(lost, found)
    async with client_for(profile) as client:
        assert (await client.check_profile(FC)).kind is ProfileKind.ALLOWED
    async with client_for(message) as client:
        assert (await client.get_message(FC, MESSAGE_ID)).kind is MessageKind.FOUND
    assert profile.call_count == message.call_count == 2


@pytest.mark.parametrize(
    "first",
    [
        httpx.ConnectError("connection refused"),
        httpx.ConnectTimeout("connect timed out"),
        httpx.PoolTimeout("no free connection"),
        problem(500, "Internal server error", "Query error (COSMOS_ERROR_RESPONSE) (429)"),
        RATE_LIMITED,
    ],
    ids=["ConnectError", "ConnectTimeout", "PoolTimeout", "500-ProblemJson", "429"],
)
async def test_a_submit_is_retried_when_it_provably_was_not_stored(first: Step) -> None:
    script = Script(first, CREATED)
    async with client_for(script) as client:
        result = await client.submit_message(MESSAGE)
    assert (result.kind, result.attempts, script.call_count) == (SubmitKind.SENT, 2, 2)


async def test_retry_safe_errors_end_as_failed_when_attempts_run_out() -> None:
    script = Script(httpx.ConnectError("connection refused"))
    async with client_for(script, retry=no_jitter(attempts=3)) as client:
        result = await client.submit_message(MESSAGE)
        stats = client.statistics()
    assert result.kind is SubmitKind.FAILED
    assert script.call_count == result.attempts == 3
    assert result.detail is not None and result.detail.startswith("gave up after 3 attempts")
    assert (stats.failed, stats.retries, stats.by_outcome["not_sent"]) == (1, 2, 3)


async def test_backoff_waits_grow_between_retries() -> None:
    clock = FakeClock()
    seen: list[float] = []

    def refuse(request: httpx.Request) -> httpx.Response:
        seen.append(clock.now())
        raise httpx.ConnectError("refused")

    pacer = Pacer(RateSpec(10_000, 1), clock=clock)
    policy = no_jitter(attempts=4, wait_initial=1.0, wait_max=3.0)
    async with client_for(Script(refuse), pacer=pacer, retry=policy) as client:
        await client.check_profile(FC)
    assert [round(b - a, 6) for a, b in pairwise(seen)] == [1.0, 2.0, 3.0]


# --- 429 and the Pacer ----------------------------------------------------------------------


async def test_a_429_closes_the_pacers_gate_for_the_hint_and_is_not_an_attempt() -> None:
    clock = FakeClock()
    seen: list[float] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(clock.now())
        return RATE_LIMITED if len(seen) <= 3 else CREATED

    pacer = Pacer(RateSpec(10_000, 1), clock=clock)
    async with client_for(Script(answer), pacer=pacer, retry=no_jitter(attempts=1)) as client:
        result = await client.submit_message(MESSAGE)
    assert (result.kind, result.attempts) == (SubmitKind.SENT, 4)
    assert all(b - a >= 3.0 for a, b in pairwise(seen))
    stats = pacer.statistics()
    assert (stats.throttled, stats.rate_cuts) == (3, 3)  # each 429 came after its gate


async def test_throttling_beyond_the_cap_ends_as_failed() -> None:
    script = Script(RATE_LIMITED)
    async with client_for(script, retry=no_jitter(max_throttled=3)) as client:
        result = await client.check_profile(FC)
    assert result.kind is ProfileKind.FAILED
    assert script.call_count == 4
    assert result.detail is not None and "still throttled after 4" in result.detail


async def test_every_answer_reports_the_remaining_calls_to_the_pacer() -> None:
    pacer = Pacer(RateSpec(10_000, 1), clock=FakeClock())
    answer = httpx.Response(200, json={"sender_allowed": True},
                            headers={"x-rate-limit-remaining": "17"})
    async with client_for(Script(answer), pacer=pacer) as client:
        await client.check_profile(FC)
    assert pacer.statistics().last_remaining == 17
    assert pacer.statistics().requests == 1


# --- the run's budget and breaker -----------------------------------------------------------


async def test_when_the_runs_retry_budget_is_spent_a_retry_safe_error_becomes_failed() -> None:
    script = Script(httpx.ConnectError("refused"), ALLOWED, httpx.ConnectError("refused"),
                    ALLOWED)
    budget = RetryBudget(ratio=0.0, floor=1)
    async with client_for(script, retry_budget=budget) as client:
        first = await client.check_profile(FC)
        second = await client.check_profile(FC)
        left = client.statistics().retry_budget_left
    assert first.kind is ProfileKind.ALLOWED and first.attempts == 2
    assert second.kind is ProfileKind.FAILED and second.attempts == 1
    assert second.detail is not None and "retry budget" in second.detail
    assert script.call_count == 3 and left == 0


async def test_the_breaker_stops_the_run_before_anything_more_is_sent() -> None:
    script = Script(httpx.ConnectError("refused"))
    breaker = ErrorRateBreaker(window=10, threshold=0.5, min_samples=4)
    options: dict[str, Any] = {"breaker": breaker, "retry": no_jitter(attempts=3),
                               "retry_budget": RetryBudget(floor=100)}
    async with client_for(script, **options) as client:
        assert (await client.check_profile(FC)).kind is ProfileKind.FAILED  # 3 errors
        with pytest.raises(ErrorRateExceeded) as caught:
            await client.submit_message(MESSAGE)  # error 4 opens it: the retry is not sent
        sent = script.call_count
        with pytest.raises(ErrorRateExceeded):
            await client.get_message(FC, MESSAGE_ID)
    assert sent == 4 and script.call_count == 4  # the last call sent nothing
    assert "rerun" in str(caught.value) and KEY not in str(caught.value)


# --- status reads and the feed ----------------------------------------------------------------


async def test_get_message_reads_the_status_and_its_optional_parts() -> None:
    body = {"message": {"id": MESSAGE_ID, "fiscal_code": FC, "created_at": "2026-11-28T10:00Z"},
            "status": "PROCESSED", "read_status": "UNREAD", "payment_status": "NOT_PAID"}
    script = Script(httpx.Response(200, json=body))
    async with client_for(script) as client:
        result = await client.get_message(FC, MESSAGE_ID)
    assert result.kind is MessageKind.FOUND and result.is_final
    assert (result.status, result.read_status, result.payment_status, result.created_at) == (
        "PROCESSED", "UNREAD", "NOT_PAID", "2026-11-28T10:00Z")
    request = script.requests[0]
    assert (request.method, str(request.url)) == ("GET", f"{BASE}/messages/{FC}/{MESSAGE_ID}")


@pytest.mark.parametrize(
    ("answer", "kind"),
    [
        (httpx.Response(200, json={"status": "ACCEPTED", "message": {}}), MessageKind.FOUND),
        (problem(404, "Message not found"), MessageKind.NOT_FOUND),
        (problem(403, "You are not allowed to read this message"), MessageKind.REJECTED),
        (httpx.Response(200, json={"message": {}}), MessageKind.FAILED),
    ],
)
async def test_get_message_answers(answer: httpx.Response, kind: MessageKind) -> None:
    async with client_for(Script(answer)) as client:
        result = await client.get_message(FC, MESSAGE_ID)
    assert result.kind is kind
    assert not result.is_final


async def test_the_subscriptions_feed_of_a_finished_day() -> None:
    day = datetime.date(2026, 11, 27)
    body = {"dateUTC": "2026-11-27", "subscriptions": ["a" * 64], "unsubscriptions": []}
    script = Script(httpx.Response(200, json=body))
    async with client_for(script) as client:
        result = await client.subscriptions_feed(day)
    assert (result.kind, result.day, result.subscriptions) == (FeedKind.FOUND, day, ("a" * 64,))
    assert str(script.requests[0].url) == f"{BASE}/subscriptions-feed/2026-11-27"


@pytest.mark.parametrize(
    ("answer", "kind"),
    [
        (problem(404, "Not Found", "Data not available yet"), FeedKind.NOT_AVAILABLE),
        (problem(403, "You are not allowed here"), FeedKind.REJECTED),
        (httpx.Response(200, json={}), FeedKind.FAILED),
    ],
)
async def test_feed_answers(answer: httpx.Response, kind: FeedKind) -> None:
    async with client_for(Script(answer)) as client:
        result = await client.subscriptions_feed(datetime.date(2026, 11, 28))
    assert result.kind is kind


# --- deadlines ------------------------------------------------------------------------------


async def test_an_answer_slower_than_the_total_deadline_is_lost() -> None:
    async def slow(request: httpx.Request) -> httpx.Response:
        await anyio.sleep(5)
        return CREATED

    submit, read = Script(slow), Script(slow, ALLOWED)
    async with client_for(submit, total_timeout=0.05) as client:
        assert (await client.submit_message(MESSAGE)).kind is SubmitKind.AMBIGUOUS
    async with client_for(read, total_timeout=0.05) as client:
        assert (await client.check_profile(FC)).kind is ProfileKind.ALLOWED
    assert (submit.call_count, read.call_count) == (1, 2)


# --- privacy --------------------------------------------------------------------------------


async def test_the_key_and_fiscal_codes_stay_out_of_logs_answers_and_errors() -> None:
    echo = problem(403, "Recipient forbidden", f"{FC} refused for key {KEY}")
    script = Script(httpx.Response(503), httpx.ConnectError(f"refused {KEY}"), echo,
                    httpx.ReadTimeout(""), httpx.Response(503))
    breaker = ErrorRateBreaker(window=10, min_samples=6)
    with structlog.testing.capture_logs() as logs:
        async with client_for(script, breaker=breaker) as client:
            answers: list[object] = [
                await client.get_message(FC, MESSAGE_ID),
                await client.submit_message(MESSAGE),
                await client.submit_message(MESSAGE),
            ]
            with pytest.raises(ErrorRateExceeded) as caught:
                await client.check_profile(FC)
            texts = [repr(client), repr(caught.value), str(caught.value)]
    texts += [repr(answer) for answer in answers]
    texts += [json.dumps(event, default=str) for event in logs]
    assert logs, "retries and give-ups are logged"
    for text in texts:
        assert KEY not in text, text
        assert FC not in text, text
    assert any(event.get("fiscal_code") == MASKED_FC for event in logs)


# --- construction ---------------------------------------------------------------------------


async def test_from_settings_uses_the_settings_and_lets_keywords_win() -> None:
    settings = Settings(base_url=BASE, api_key=Secret(KEY), concurrency=4)
    pacer = Pacer(RateSpec(10_000, 1), clock=FakeClock())
    script = Script(ALLOWED)
    async with Client.from_settings(
        settings, pacer, transport=httpx.MockTransport(script)
    ) as client:
        await client.check_profile(FC)
        assert client._max_connections == 8  # profile and submit workers both in flight
    assert script.requests[0].headers["Ocp-Apim-Subscription-Key"] == KEY
    with pytest.raises(ConfigError):
        Client.from_settings(Settings(base_url=BASE), pacer)
    other = Client.from_settings(Settings(base_url=BASE), pacer, api_key="other")
    assert "other" not in repr(other)


async def test_calls_outside_the_context_manager_are_refused() -> None:
    client = Client(base_url=BASE, api_key=KEY, pacer=Pacer(RateSpec(10, 1)))
    with pytest.raises(RuntimeError):
        await client.check_profile(FC)
    with pytest.raises(ValueError):
        Client(base_url=BASE, api_key="", pacer=Pacer(RateSpec(10, 1)))


async def test_the_client_works_with_respx_routes() -> None:
    pacer = Pacer(RateSpec(10_000, 1), clock=FakeClock())
    with respx.mock(base_url=BASE, assert_all_called=True) as router:
        route = router.post("/profiles").mock(
            side_effect=[httpx.ConnectError("refused"), ALLOWED]
        )
        async with Client(base_url=BASE, api_key=KEY, pacer=pacer, retry=no_jitter()) as client:
            result = await client.check_profile(FC)
            stats = client.statistics()
    assert result.kind is ProfileKind.ALLOWED and route.call_count == 2
    assert (stats.calls, stats.attempts, stats.retries) == (1, 2, 1)
    assert dict(stats.by_outcome) == {"not_sent": 1, "success": 1}
