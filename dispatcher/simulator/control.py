"""The control surface under ``/__sim__/``: what tests and demos use to look and to steer.

Outside ``/api/v1`` on purpose: no key, no rate window, no faults. Bodies are JSON objects;
errors are ``{"error": "..."}`` with 400 (bad request) or 404 (unknown message).
"""

from __future__ import annotations

from datetime import date
from typing import Any, TypeVar

import orjson
from starlette.requests import Request
from starlette.responses import Response

from dispatcher.simulator.api import state_of
from dispatcher.simulator.app_open import AppRefusal, OpenError, find_openable, open_message
from dispatcher.simulator.config import ConfigError
from dispatcher.simulator.configio import config_to_dict
from dispatcher.simulator.population import FeedEvent
from dispatcher.simulator.responses import json_response
from dispatcher.simulator.state import SimulatorState
from dispatcher.simulator.store import PAYMENT_STATUSES, READ_STATUSES, StoredMessage
from dispatcher.simulator.validation import FISCAL_CODE

_T = TypeVar("_T")


class _BadRequest(Exception):
    pass


def _error(status: int, message: str) -> Response:
    return json_response({"error": message}, status)


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw:
        return {}
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise _BadRequest("the body is not JSON") from None
    if not isinstance(data, dict):
        raise _BadRequest("the body must be a JSON object")
    return data


def _entries(sim: SimulatorState, messages: list[StoredMessage]) -> list[dict[str, object]]:
    return [sim.settled(m).inbox_entry() for m in messages]


async def health(request: Request) -> Response:
    return json_response({"ok": True})


async def inbox(request: Request) -> Response:
    """``{"messages_total": n, "inbox": {fiscal_code: [entry, ...]}}``, arrival order."""
    sim = state_of(request)
    box = {code: _entries(sim, messages) for code, messages in sim.store.recipients()}
    return json_response({"messages_total": len(sim.store), "inbox": box})


async def inbox_for(request: Request) -> Response:
    sim = state_of(request)
    code = request.path_params["fiscal_code"]
    messages = _entries(sim, sim.store.for_recipient(code))
    return json_response({"fiscal_code": code, "messages": messages})


async def stats(request: Request) -> Response:
    return json_response(state_of(request).stats_dict())


async def reset(request: Request) -> Response:
    state_of(request).reset()
    return json_response({"reset": True})


async def config(request: Request) -> Response:
    """GET: the current config. PATCH/POST: apply a partial change, answer the new config."""
    sim = state_of(request)
    if request.method != "GET":
        try:
            sim.reconfigure(await _body(request))
        except (_BadRequest, ConfigError) as exc:
            return _error(400, str(exc))
    return json_response(config_to_dict(sim.config))


async def citizen(request: Request) -> Response:
    """GET: a citizen's state. POST ``{has_profile?, sender_allowed?, service_id?, date?}``.

    The change is recorded in the subscriptions feed of ``date`` (default: today, UTC).
    """
    sim = state_of(request)
    code = request.path_params["fiscal_code"]
    if not FISCAL_CODE.fullmatch(code):
        return _error(400, "not a fiscal code (16 characters, upper case)")
    if request.method == "POST":
        try:
            body = await _body(request)
            _only(body, {"has_profile", "sender_allowed", "service_id", "date"})
            updated = sim.update_citizen(
                code,
                has_profile=_optional(body, "has_profile", bool),
                sender_allowed=_optional(body, "sender_allowed", bool),
                service_id=_optional(body, "service_id", str),
                day=_day(body),
            )
        except _BadRequest as exc:
            return _error(400, str(exc))
    else:
        updated = sim.population.citizen(code)
    view = updated.to_dict(sim.config.services)
    return json_response({"fiscal_code": code, **view})


async def mark_message(request: Request) -> Response:
    """POST ``{read_status?: READ|UNREAD|UNAVAILABLE, payment_status?: PAID|NOT_PAID}``."""
    sim = state_of(request)
    message = sim.store.get(request.path_params["message_id"])
    if message is None:
        return _error(404, "no such message")
    try:
        body = await _body(request)
        _only(body, {"read_status", "payment_status"})
        read = _optional(body, "read_status", str)
        paid = _optional(body, "payment_status", str)
        if read is not None and read not in READ_STATUSES:
            raise _BadRequest(f"read_status is one of {', '.join(READ_STATUSES)}")
        if paid is not None and paid not in PAYMENT_STATUSES:
            raise _BadRequest(f"payment_status is one of {', '.join(PAYMENT_STATUSES)}")
    except _BadRequest as exc:
        return _error(400, str(exc))
    message.read_status = read or message.read_status
    message.payment_status = paid or message.payment_status
    entry = sim.settled(message).inbox_entry()
    entry.update(read_status=message.read_status, payment_status=message.payment_status)
    return json_response(entry)


async def open_as_app(request: Request) -> Response:
    """POST ``{message_id, fiscal_code?}``: open the message as IO's backend does for the app.

    200: what the app shows (subject, markdown, precondition, attachments with size and
    SHA-256). IO's refusal (502, 415, 503): ``{status, reason, detail}``. 404: no such message
    (or another citizen's); 409: not in the inbox (not PROCESSED). See ``app_open.py``.
    """
    sim = state_of(request)
    try:
        body = await _body(request)
        _only(body, {"message_id", "fiscal_code"})
        message_id = _optional(body, "message_id", str)
        if not message_id:
            raise _BadRequest("message_id is required")
        message = find_openable(sim, message_id, _optional(body, "fiscal_code", str))
        view = await open_message(sim, message)
    except _BadRequest as exc:
        return _error(400, str(exc))
    except OpenError as exc:
        return _error(exc.status, str(exc))
    except AppRefusal as exc:
        return json_response(exc.to_dict(), exc.status, exc.headers)
    return json_response(view)


async def feed(request: Request) -> Response:
    """POST ``{date?, events: [{fiscal_code, subscribed, service_id?}]}``: write feed rows only.

    No citizen changes state: this is for shaping a feed (for instance on past days). An event
    without ``service_id`` is a profile event (profile created or deleted).
    """
    sim = state_of(request)
    try:
        body = await _body(request)
        _only(body, {"date", "events"})
        raw_events = body.get("events")
        if not isinstance(raw_events, list):
            raise _BadRequest("events must be a list")
        events = [_feed_event(raw) for raw in raw_events]
        day = _day(body)
    except _BadRequest as exc:
        return _error(400, str(exc))
    sim.record_feed(events, day)
    return json_response({"recorded": len(events), "date": (day or sim.today()).isoformat()})


async def feed_for_day(request: Request) -> Response:
    """GET ``/__sim__/feed/{date}?service_id=...``: the feed body, even for today."""
    sim = state_of(request)
    try:
        day = _day({"date": request.path_params["date"]})
    except _BadRequest as exc:
        return _error(400, str(exc))
    service = request.query_params.get("service_id") or sim.config.keys[0].service_id
    return json_response(sim.feed.read(day or sim.today(), service))


async def advance_clock(request: Request) -> Response:
    """POST ``{"seconds": x}``: move status progression, windows and "today" forward."""
    sim = state_of(request)
    try:
        body = await _body(request)
        seconds = body.get("seconds")
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
            raise _BadRequest("seconds must be a number >= 0")
    except _BadRequest as exc:
        return _error(400, str(exc))
    return json_response({"offset_s": sim.clock.advance(float(seconds))})


def _feed_event(raw: Any) -> FeedEvent:
    if not isinstance(raw, dict):
        raise _BadRequest("each event is an object")
    _only(raw, {"fiscal_code", "subscribed", "service_id"})
    code = raw.get("fiscal_code")
    if not isinstance(code, str) or not FISCAL_CODE.fullmatch(code):
        raise _BadRequest(f"event fiscal_code {code!r} is not a fiscal code")
    subscribed = raw.get("subscribed")
    if not isinstance(subscribed, bool):
        raise _BadRequest("event subscribed must be true or false")
    return FeedEvent(code, subscribed, _optional(raw, "service_id", str))


def _only(body: dict[str, Any], known: set[str]) -> None:
    unknown = set(body) - known
    if unknown:
        raise _BadRequest(f"unknown field(s) {sorted(unknown)}; known: {sorted(known)}")


def _optional(body: dict[str, Any], name: str, kind: type[_T]) -> _T | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, kind):
        raise _BadRequest(f"{name} must be a {kind.__name__}")
    return value


def _day(body: dict[str, Any]) -> date | None:
    text = _optional(body, "date", str)
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise _BadRequest(f"date {text!r} is not YYYY-MM-DD") from None
