"""The IO client: one ``httpx.AsyncClient`` per run, every request paced, classified, retried.

Each attempt waits on the run's :class:`~dispatcher.pacing.Pacer`, is sent under a total
deadline, is classified once (:func:`~dispatcher.ioapi.outcomes.classify_response`), and is
reported back to the Pacer (a 429's wait hint, or ``x-rate-limit-remaining``). Whether to try
again is :func:`~dispatcher.ioapi.retry.retry_decision`'s call; a submit that may have reached
IO is never resent, because IO has no idempotency key and a resend is a second message.

Calls return answers (:mod:`dispatcher.ioapi.models`), never raise for IO's answers; the only
exception a call raises on purpose is ``ErrorRateExceeded``, when the run must stop.
"""

from __future__ import annotations

import datetime
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType, TracebackType
from typing import Any, Self
from urllib.parse import quote

import anyio
import httpx
import orjson
import structlog

from dispatcher import __version__
from dispatcher.ioapi.models import (
    FeedAnswer,
    Final,
    MessageAnswer,
    ProfileAnswer,
    SubmitAnswer,
    Success,
    feed_answer,
    message_answer,
    profile_answer,
    submit_answer,
)
from dispatcher.ioapi.outcomes import (
    IOApiError,
    MaybeSent,
    NotSent,
    OutcomeClass,
    Throttled,
    classify_response,
    map_transport_errors,
    remaining_from,
)
from dispatcher.ioapi.retry import (
    Decision,
    ErrorRateBreaker,
    RetryBudget,
    RetryPolicy,
    retry_decision,
)
from dispatcher.message import OutgoingMessage
from dispatcher.pacing import Pacer
from dispatcher.privacy import mask_fiscal_code
from dispatcher.settings import Settings

__all__ = ["DEFAULT_USER_AGENT", "Client", "ClientStatistics"]

DEFAULT_USER_AGENT = f"dispatcher/{__version__} (IO bulk sender)"

log = structlog.get_logger("dispatcher.ioapi")


class WireState:
    """Whether a submit's bytes may be on their way to IO right now.

    The pipeline reads it when a run is cancelled mid-call: a submit cancelled while waiting
    for the Pacer, a retry hint or a backoff never left, so its row can go back to pending
    instead of becoming ambiguous.
    """

    __slots__ = ("maybe_sent",)

    def __init__(self) -> None:
        self.maybe_sent = False


@dataclass(frozen=True)
class ClientStatistics:
    calls: int  # operations started (check_profile, submit_message, …)
    attempts: int  # HTTP requests sent, 429s and retries included
    retries: int  # backoff retries after a retry-safe error (429 waits not included)
    throttled: int  # 429 answers
    by_outcome: Mapping[str, int]  # attempts by OutcomeClass value
    ambiguous: int  # submits that may have reached IO
    failed: int  # calls that ended without a usable answer
    retry_budget_left: int
    error_rate: float  # share of errors among the breaker's recent answers


class Client:
    """Typed calls to IO's services API; use as ``async with Client(...) as client``."""

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        pacer: Pacer,
        max_connections: int = 16,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        write_timeout: float = 10.0,
        pool_timeout: float = 10.0,
        total_timeout: float | None = None,
        retry: RetryPolicy | None = None,
        retry_budget: RetryBudget | None = None,
        breaker: ErrorRateBreaker | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        user_agent: str = DEFAULT_USER_AGENT,
    ) -> None:
        if not api_key:
            raise ValueError("an API key is required")
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._secrets = (api_key,)
        self._pacer = pacer
        self._max_connections = max_connections
        self._timeout = httpx.Timeout(
            connect=connect_timeout, read=read_timeout, write=write_timeout, pool=pool_timeout
        )
        # Per-phase timeouts fire first; the deadline only ends an answer that trickles in.
        self._total_timeout = total_timeout or (
            connect_timeout + write_timeout + read_timeout + pool_timeout + 5.0
        )
        self._retry = retry or RetryPolicy()
        self._budget = retry_budget or RetryBudget()
        self._breaker = breaker or ErrorRateBreaker()
        self._transport = transport
        self._user_agent = user_agent
        self._http: httpx.AsyncClient | None = None
        self._calls = self._attempts = self._retries = self._ambiguous = self._failed = 0
        self._by_outcome: Counter[str] = Counter()
        self._budget_warned = self._breaker_logged = False

    @classmethod
    def from_settings(cls, settings: Settings, pacer: Pacer, **overrides: Any) -> Client:
        """A client for ``settings``; ``overrides`` win (e.g. ``api_key=``, ``transport=``).

        The pool holds two connections per worker: the profile and the submit stage each run
        ``concurrency`` workers, and a request admitted by the Pacer must not queue for a
        connection (it would reach IO later than it was paced).
        """
        options: dict[str, Any] = {
            "base_url": settings.base_url,
            "max_connections": 2 * settings.concurrency,
            "connect_timeout": settings.connect_timeout,
            "read_timeout": settings.read_timeout,
        }
        options.update(overrides)
        if "api_key" not in options:
            options["api_key"] = settings.require_api_key()
        return cls(pacer=pacer, **options)

    async def __aenter__(self) -> Self:
        n = self._max_connections
        self._http = httpx.AsyncClient(
            base_url=self.base_url,
            headers={
                "Ocp-Apim-Subscription-Key": self._api_key,
                "User-Agent": self._user_agent,
                "Accept": "application/json",
            },
            limits=httpx.Limits(max_connections=n, max_keepalive_connections=n),
            timeout=self._timeout,
            transport=self._transport,
            follow_redirects=False,
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    def __repr__(self) -> str:
        return f"<Client {self.base_url} max_connections={self._max_connections}>"

    async def check_profile(self, fiscal_code: str) -> ProfileAnswer:
        """``POST /profiles``: may this service write to the citizen? Retried freely."""
        final = await self._call(
            "profile", "POST", "/profiles", orjson.dumps({"fiscal_code": fiscal_code}),
            idempotent=True, fiscal_code=fiscal_code,
        )
        return profile_answer(final)

    async def submit_message(
        self, message: OutgoingMessage, *, wire: WireState | None = None
    ) -> SubmitAnswer:
        """``POST /messages`` of ``message`` (its recipient goes in the body).

        Retried only when provably not stored: not sent, 429, a backend 5xx ProblemJson.
        Anything that may have reached IO comes back ``ambiguous`` after one attempt.
        ``wire`` tells a caller that is cancelled mid-call whether bytes may have left.
        """
        final = await self._call(
            "submit", "POST", "/messages", message.to_json(),
            idempotent=False, fiscal_code=message.fiscal_code, wire=wire,
        )
        return submit_answer(final)

    async def get_message(self, fiscal_code: str, message_id: str) -> MessageAnswer:
        """``GET /messages/{fiscal_code}/{id}``: the processing status. Retried freely."""
        path = f"/messages/{quote(fiscal_code, safe='')}/{quote(message_id, safe='')}"
        final = await self._call(
            "get_message", "GET", path, None, idempotent=True, fiscal_code=fiscal_code
        )
        return message_answer(final)

    async def subscriptions_feed(self, day: datetime.date) -> FeedAnswer:
        """``GET /subscriptions-feed/{YYYY-MM-DD}`` (UTC day); 404 is ``not_available``."""
        path = f"/subscriptions-feed/{day.strftime('%Y-%m-%d')}"
        final = await self._call("subscriptions_feed", "GET", path, None, idempotent=True)
        return feed_answer(final, day)

    def statistics(self) -> ClientStatistics:
        return ClientStatistics(
            calls=self._calls,
            attempts=self._attempts,
            retries=self._retries,
            throttled=self._by_outcome[OutcomeClass.THROTTLED],
            by_outcome=MappingProxyType(dict(self._by_outcome)),
            ambiguous=self._ambiguous,
            failed=self._failed,
            retry_budget_left=self._budget.left,
            error_rate=self._breaker.error_rate,
        )

    async def _call(
        self,
        operation: str,
        method: str,
        path: str,
        body: bytes | None,
        *,
        idempotent: bool,
        fiscal_code: str | None = None,
        wire: WireState | None = None,
    ) -> Final:
        """Attempt until an answer, a give-up, or an open breaker (which raises)."""
        http = self._http
        if http is None:
            raise RuntimeError("use the client inside `async with Client(...)`")
        self._calls += 1
        self._budget.note_first_attempt()
        masked = mask_fiscal_code(fiscal_code) if fiscal_code else None
        attempts = failures = throttled = 0
        while True:
            self._check_breaker()
            await self._pacer.acquire()
            attempts += 1
            if wire is not None:
                wire.maybe_sent = True
            outcome = await self._attempt(http, method, path, body, self._pacer.clock.now())
            if wire is not None and not isinstance(outcome, MaybeSent):
                wire.maybe_sent = False  # an answer (or a provable non-send) came back
            self._attempts += 1
            if isinstance(outcome, Success):
                self._by_outcome[OutcomeClass.SUCCESS] += 1
                self._breaker.record(None)
                return Final(outcome, attempts)
            error = outcome
            self._by_outcome[error.outcome] += 1
            self._breaker.record(error)
            decision = retry_decision(error, idempotent=idempotent)
            note: str | None = None
            if decision is Decision.RETRY_WHEN_OPEN:
                throttled += 1
                if throttled <= self._retry.max_throttled:
                    continue  # the Pacer's gate holds every caller until the hint has passed
                note = f"still throttled after {throttled} answers 429"
            elif decision is Decision.RETRY:
                failures += 1
                if failures >= self._retry.attempts:
                    note = f"gave up after {failures} attempts"
                elif not self._budget.try_spend():
                    note = "not retried: the run's retry budget is used up"
                    self._warn_budget()
                else:
                    wait = self._retry.backoff(failures)
                    self._retries += 1
                    log.debug(  # the progress line counts them; give-ups are warnings
                        "io_retry", operation=operation, fiscal_code=masked, retry=failures,
                        wait_s=round(wait, 3), error=type(error).__name__,
                        http_status=error.http_status, detail=error.detail_text,
                    )
                    await self._pacer.clock.sleep(wait)
                    continue
            return self._give_up(operation, masked, error, attempts, note, idempotent)

    async def _attempt(
        self,
        http: httpx.AsyncClient,
        method: str,
        path: str,
        body: bytes | None,
        admitted_at: float,
    ) -> Success | IOApiError:
        """One request: sent under the deadline, classified, reported to the Pacer."""
        headers = {"Content-Type": "application/json"} if body is not None else None
        request = http.build_request(method, path, content=body, headers=headers)
        try:
            with map_transport_errors(secrets=self._secrets), anyio.fail_after(
                self._total_timeout
            ):
                response = await http.send(request)
        except (NotSent, MaybeSent) as exc:
            return exc
        error = classify_response(response, secrets=self._secrets)
        if isinstance(error, Throttled):
            self._pacer.on_throttled(error.retry_after_s, sent_at=admitted_at)
        else:
            self._pacer.on_answered(remaining_from(response.headers))
        if error is not None:
            return error
        return Success(response.status_code, _json_or_none(response),
                       response.headers.get("location"), response.headers.get("content-type"))

    def _give_up(
        self,
        operation: str,
        masked: str | None,
        error: IOApiError,
        attempts: int,
        note: str | None,
        idempotent: bool,
    ) -> Final:
        fields = {"operation": operation, "fiscal_code": masked, "attempts": attempts,
                  "error": type(error).__name__, "http_status": error.http_status,
                  "detail": error.detail_text}
        if isinstance(error, MaybeSent) and not idempotent:
            self._ambiguous += 1
            log.warning("io_submit_ambiguous", **fields)
        elif note is not None:
            self._failed += 1
            log.warning("io_call_failed", reason=note, **fields)
        return Final(error, attempts, note)

    def _check_breaker(self) -> None:
        if self._breaker.is_open and not self._breaker_logged:
            self._breaker_logged = True
            log.error("error_rate_exceeded", error_rate=round(self._breaker.error_rate, 3))
        self._breaker.check()

    def _warn_budget(self) -> None:
        if not self._budget_warned:
            self._budget_warned = True
            log.warning("retry_budget_exhausted", retries=self._budget.retries,
                        first_attempts=self._budget.first_attempts)


def _json_or_none(response: httpx.Response) -> object:
    try:
        return response.json()
    except ValueError:  # not JSON (json.JSONDecodeError and UnicodeDecodeError both are)
        return None
