"""The IO endpoints under ``/api/v1``: gateway first, then faults, then the backend's rules.

Each request goes through the same three layers, in the order the real system applies them:

1. **Gateway** (APIM): resolve the subscription key (401), spend one unit of the ente's window
   (429). See ``gateway.py``.
2. **Faults**: latency, then the planned fault, if any, at its place (``FaultConfig``).
3. **Backend**: the checks of the real Azure Function, in its middleware and handler order,
   so that a request breaking two rules gets the same error it would get from IO.

Backends are plain functions returning a response; ``fail`` asks them to fail (500) at the
point where they would first touch storage: after validation and permission checks (so a
simulated database error never hides a 400 or 403), but before a lookup that could say 404.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from email.utils import formatdate

import anyio
from starlette.requests import Request
from starlette.responses import Response
from ulid import ULID

from dispatcher.simulator.clock import iso_millis
from dispatcher.simulator.config import KeyConfig
from dispatcher.simulator.faults import DroppedConnection, FaultKind
from dispatcher.simulator.responses import (
    REMAINING_HEADER,
    forbidden,
    gateway_error,
    internal_error,
    json_response,
    problem,
    recipient_forbidden,
    route_not_found,
    throttled,
    unauthorized,
)
from dispatcher.simulator.state import SimulatorState
from dispatcher.simulator.store import PROCESSED, StoredMessage, content_hash
from dispatcher.simulator.submit import check_submission
from dispatcher.simulator.validation import (
    FISCAL_CODE,
    FISCAL_CODE_TYPE,
    decode_fiscal_code_payload,
    parse_json,
)

PROFILES, MESSAGES, MESSAGE_STATUS, FEED = (
    "profiles", "messages", "message_status", "subscriptions_feed"
)
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
KEY_HEADER = "ocp-apim-subscription-key"
KEY_QUERY = "subscription-key"  # APIM also accepts the key as a query parameter

Backend = Callable[[bool], Response]


@dataclass(frozen=True, slots=True)
class Caller:
    key: KeyConfig
    remaining: int | None


def state_of(request: Request) -> SimulatorState:
    state: SimulatorState = request.app.state.simulator
    return state


# --- the four operations ------------------------------------------------------------------


async def post_profile(request: Request) -> Response:
    sim = state_of(request)
    caller = _gate(sim, request, PROFILES)
    if isinstance(caller, Response):
        return caller
    body = await request.body()

    def backend(fail: bool) -> Response:
        code, errors = decode_fiscal_code_payload(parse_json(body))
        if code is None:
            return problem(400, "Invalid FiscalCodePayload", "\n".join(errors))
        key = caller.key
        if key.sandbox and code not in key.authorized_recipients:
            return recipient_forbidden()
        if fail:
            return internal_error("Query error (COSMOS_ERROR_RESPONSE) (simulated fault)")
        has_profile, allowed = sim.population.lookup(code, key.service_id)
        if not has_profile:
            return problem(404, "Profile not found",
                           "The profile you requested was not found in the system.")
        return json_response({"sender_allowed": allowed, "preferred_languages": ["it_IT"]})

    return await _answer(sim, PROFILES, caller, backend)


async def post_message(request: Request) -> Response:
    """``POST /messages`` and the older ``POST /messages/{fiscal_code}``: one handler in IO."""
    sim = state_of(request)
    caller = _gate(sim, request, MESSAGES)
    if isinstance(caller, Response):
        return caller
    body = await request.body()
    path_code: str | None = request.path_params.get("fiscal_code")

    def backend(fail: bool) -> Response:
        outcome = check_submission(sim, caller.key, parse_json(body), path_code)
        if isinstance(outcome, Response):
            return outcome
        fiscal_code, message = outcome
        if fail:
            return internal_error("Error while creating Message (simulated fault)")
        content = message.content
        payment = message.payment_data
        if payment is not None and "payee" not in payment:  # IO fills in the service's own
            payment["payee"] = {"fiscal_code": caller.key.organization_fiscal_code}
        stored = StoredMessage(
            id=str(ULID()),
            fiscal_code=fiscal_code,
            service_id=caller.key.service_id,
            ente=caller.key.ente,
            created_at=iso_millis(sim.clock.utcnow()),
            due_at=sim.clock.now() + sim.config.processing_delay_s,
            time_to_live=message.time_to_live,
            feature_level_type=message.feature_level_type,
            content=content,
            content_hash=content_hash(content),
            will_fail=sim.faults.processing_fails(),
        )
        sim.store.add(stored)
        sim.stats.messages_stored += 1
        location = f"/api/v1/messages/{fiscal_code}/{stored.id}"
        return json_response({"id": stored.id}, 201, {"Location": location})

    return await _answer(sim, MESSAGES, caller, backend)


async def get_message(request: Request) -> Response:
    sim = state_of(request)
    caller = _gate(sim, request, MESSAGE_STATUS)
    if isinstance(caller, Response):
        return caller
    fiscal_code: str = request.path_params["fiscal_code"]
    message_id: str = request.path_params["message_id"]

    def backend(fail: bool) -> Response:
        if not FISCAL_CODE.fullmatch(fiscal_code):
            return _bad_path_param(FISCAL_CODE_TYPE, fiscal_code)
        if fail:  # the lookup itself is what fails
            return internal_error("Error while retrieving the message (simulated fault)")
        message = sim.store.find(fiscal_code, message_id)
        if message is None:
            return problem(404, "Message not found",
                           "The message that you requested was not found in the system.")
        if message.service_id != caller.key.service_id:
            return forbidden("You are not allowed to read this message, "
                             "you can only read messages that you have sent")
        return json_response(message_view(sim.settled(message), caller.key))

    return await _answer(sim, MESSAGE_STATUS, caller, backend)


async def get_subscriptions_feed(request: Request) -> Response:
    sim = state_of(request)
    caller = _gate(sim, request, FEED)
    if isinstance(caller, Response):
        return caller
    text: str = request.path_params["date"]

    def backend(fail: bool) -> Response:
        if not caller.key.feed_read:
            return forbidden()
        day = _parse_day(text)
        if day is None:
            return _bad_path_param("ShortDateString", text)
        available = datetime.combine(day + timedelta(days=1), time(), UTC)
        if sim.clock.utcnow() < available:
            when = formatdate(available.timestamp(), usegmt=True)
            return problem(404, "Data not available yet",
                           f"Subscription data for {text} will be available from {when}")
        if fail:
            return internal_error("Query error (simulated fault)")
        return json_response(sim.feed.read(day, caller.key.service_id))

    return await _answer(sim, FEED, caller, backend)


async def unknown_route(request: Request) -> Response:
    state_of(request).stats.answered("unknown_route", 404)
    return route_not_found()


# --- shared steps ---------------------------------------------------------------------------


def message_view(message: StoredMessage, key: KeyConfig) -> dict[str, object]:
    """``ExternalMessageResponseWithContent`` as IO's GetMessage builds it.

    ``content`` exists once processing stored it (PROCESSED only). ``read_status`` and
    ``payment_status`` need an ADVANCED message, a non-pending one, and a caller with Premium
    read; ``payment_status`` also needs payment data. ``notification`` is never filled any
    more (FACTS.md §2.6), so it is left out.
    """
    inner: dict[str, object] = {
        "id": message.id,
        "fiscal_code": message.fiscal_code,
        "created_at": message.created_at,
        "sender_service_id": message.service_id,
        "time_to_live": message.time_to_live,
        "feature_level_type": message.feature_level_type,
    }
    processed = message.status == PROCESSED
    if processed:
        inner["content"] = message.content
    view: dict[str, object] = {"message": inner, "status": message.status}
    if processed and message.feature_level_type == "ADVANCED" and key.premium_read:
        view["read_status"] = message.read_status
        if message.has_payment:
            view["payment_status"] = message.payment_status
    return view


def _gate(sim: SimulatorState, request: Request, endpoint: str) -> Caller | Response:
    given = request.headers.get(KEY_HEADER) or request.query_params.get(KEY_QUERY)
    key = sim.gateway.resolve(given)
    if key is None:
        sim.stats.answered(endpoint, 401)
        return unauthorized(key_given=bool(given))
    admission = sim.gateway.admit(key.ente, sim.clock.now())
    if not admission.admitted:
        sim.stats.answered(endpoint, 429)
        return throttled(admission.retry_after_s)
    return Caller(key, admission.remaining)


async def _answer(sim: SimulatorState, endpoint: str, caller: Caller, backend: Backend) -> Response:
    plan = sim.faults.plan(endpoint)
    if plan.delay_s > 0:
        await anyio.sleep(plan.delay_s)
    kind = plan.kind
    response: Response
    if kind is FaultKind.RESET_BEFORE:
        response = DroppedConnection(reset=True)
    elif kind is FaultKind.GATEWAY_ERROR:
        response = gateway_error(plan.gateway_status)
    else:
        response = backend(kind is FaultKind.ERROR_500)
        if kind is FaultKind.ERROR_500 and response.status_code != 500:
            kind = None  # the request failed validation before reaching storage
        elif kind is FaultKind.GATEWAY_ERROR_AFTER_STORE:
            response = gateway_error(504)
        elif kind is FaultKind.DROP_AFTER_STORE:
            response = DroppedConnection(reset=False)
    if kind is not None:
        sim.stats.faults[kind.value] += 1
    if isinstance(response, DroppedConnection):
        sim.stats.answered(endpoint, None)
        return response
    if caller.remaining is not None:
        response.headers[REMAINING_HEADER] = str(caller.remaining)
    sim.stats.answered(endpoint, response.status_code)
    return response


def _bad_path_param(type_name: str, value: str) -> Response:
    """io-ts' ``ResponseErrorFromValidationErrors``: title ``Invalid <codec name>``."""
    return problem(400, f"Invalid {type_name}",
                   f'value ["{value}"] at [root] is not a valid [{type_name}]')


def _parse_day(text: str) -> date | None:
    if not _DAY.fullmatch(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None

