"""Opening a message the way IO's backend does when a citizen taps it in the app.

For a remote-content message IO's backend (not the phone) calls the ente's server named by
the message's configuration, judges the answer against the flags sent at creation, and only
then shows it (FACTS-REMOTE-CONTENT §2-§3). Doing the same here is how a test or the demo
proves that what the ente serves is what the citizen would see:

* ``GET {base_url}/messages/{id}`` with the configuration's key header and ``fiscal_code``
  (``test_environment`` for its ``test_users``, ``prod_environment`` otherwise), Lollipop
  signatures when the configuration enables them, and **no redirect followed**;
* 502 when ``has_attachments`` and no attachments, or ``has_remote_content`` and the details
  are missing or outside 10-120 / 80-10000 UTF-16 units; without ``has_remote_content`` the
  static subject and text are shown, without ``has_attachments`` attachments are dropped;
* the precondition when the message has one (ALWAYS, or ONCE while unread);
* each attachment's bytes: 415 unless they start with ``%PDF``.

**Inference** (no source states it): an ente answer that is not a 200 (or not JSON) is a 502
to the app, except a 503 on an attachment, passed on with its ``Retry-After``; a message
without ``has_precondition`` takes the configuration's. A successful open marks the message
READ, as the app does.

The outgoing calls run on the simulator's event loop. The message and its configuration are
read before the first ``await`` and the message is marked read after the last one: nothing
else in the state is touched meanwhile (see ``state.py``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx
import orjson

from dispatcher.privacy import mask_fiscal_code
from dispatcher.simulator.rc_configurations import API_KEY_AUTH, StoredConfiguration
from dispatcher.simulator.store import PROCESSED, StoredMessage
from dispatcher.simulator.validation import utf16_length

if TYPE_CHECKING:
    from dispatcher.simulator.state import SimulatorState

PDF_MAGIC = b"%PDF"
SUBJECT_RANGE, MARKDOWN_RANGE = (10, 120), (80, 10000)
TIMEOUT_S = 10.0


class AppRefusal(Exception):
    """What the app gets instead of the message: IO's status, a reason code, the detail."""

    def __init__(self, status: int, reason: str, detail: str,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.reason = reason
        self.detail = detail
        self.headers = headers or {}

    def to_dict(self) -> dict[str, object]:
        return {"status": self.status, "reason": self.reason, "detail": self.detail}


@dataclass
class AppSide:
    """The citizens' side: one Lollipop device key per fiscal code, and opens counted."""

    devices: dict[str, Any] = field(default_factory=dict)
    opens: dict[str, int] = field(default_factory=dict)

    def device_for(self, fiscal_code: str) -> Any:
        """The citizen's device key (made on first use; the phone keeps one key)."""
        device = self.devices.get(fiscal_code)
        if device is None:
            try:
                from dispatcher.simulator.lollipop_signer import DeviceKey
            except ImportError:  # pragma: no cover - the signer ships with the simulator
                raise OpenError(501, "Lollipop signing needs "
                                "dispatcher.simulator.lollipop_signer") from None
            device = self.devices[fiscal_code] = DeviceKey.generate()
        return device


class OpenError(LookupError):
    """The message cannot be opened at all: unknown, or not in the citizen's inbox."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def find_openable(sim: SimulatorState, message_id: str,
                  fiscal_code: str | None) -> StoredMessage:
    """The message, settled, if it is in the inbox of ``fiscal_code`` (when given)."""
    message = sim.store.get(message_id)
    if message is None or (fiscal_code is not None and message.fiscal_code != fiscal_code):
        raise OpenError(404, "no such message")
    sim.settled(message)
    if message.status != PROCESSED:
        raise OpenError(409, f"the message is {message.status}: it is not in the citizen's "
                             "inbox, so the app cannot open it")
    return message


async def open_message(sim: SimulatorState, message: StoredMessage,
                       transport: httpx.AsyncBaseTransport | None = None) -> dict[str, object]:
    """What the app shows for ``message``; raises :class:`AppRefusal` with IO's status."""
    content = message.content
    third_party = content.get("third_party_data")
    view: dict[str, object] = {
        "message_id": message.id, "fiscal_code": mask_fiscal_code(message.fiscal_code),
        "subject": content["subject"], "markdown": content["markdown"],
        "remote_content": False, "precondition": None, "attachments": [],
    }
    if not isinstance(third_party, dict):
        _mark_opened(sim, message)
        return view
    configuration = sim.rc_configurations.get(third_party["configuration_id"])
    if configuration is None:
        raise AppRefusal(502, "CONFIGURATION_NOT_FOUND",
                         "the message's remote-content configuration no longer exists")
    unread = message.read_status == "UNREAD"
    fetcher = _Fetcher.for_message(sim, configuration, message.fiscal_code, transport)
    async with fetcher:
        view.update(await fetcher.message_view(message, third_party, configuration, unread))
    _mark_opened(sim, message)
    return view


def _mark_opened(sim: SimulatorState, message: StoredMessage) -> None:
    message.read_status = "READ"
    sim.app_side.opens[message.id] = sim.app_side.opens.get(message.id, 0) + 1


class _Fetcher:
    """The backend's calls to one ente for one citizen, and IO's judgement of each answer."""

    def __init__(self, environment: str, base_url: str, headers: dict[str, str],
                 device: Any, transport: httpx.AsyncBaseTransport | None) -> None:
        self.environment = environment
        self.base_url = base_url.rstrip("/")
        self.headers = headers
        self.device = device
        self.requests = 0
        self._http = httpx.AsyncClient(timeout=TIMEOUT_S, follow_redirects=False,
                                       transport=transport)

    @classmethod
    def for_message(cls, sim: SimulatorState, configuration: StoredConfiguration,
                    fiscal_code: str, transport: httpx.AsyncBaseTransport | None) -> _Fetcher:
        chosen = configuration.environment_for(fiscal_code)
        if chosen is None:
            raise AppRefusal(502, "NO_ENVIRONMENT", "the configuration has no "
                             "prod_environment (and the citizen is no test user)")
        name, environment = chosen
        auth = environment["details_authentication"]
        if auth["type"] != API_KEY_AUTH:
            raise AppRefusal(502, "UNSUPPORTED_AUTHENTICATION",
                             f"details_authentication.type {auth['type']!r}: IO sends only "
                             f"{API_KEY_AUTH}")
        headers = {auth["header_key_name"]: auth["key"], "fiscal_code": fiscal_code}
        device = sim.app_side.device_for(fiscal_code) if configuration.lollipop_for(
            fiscal_code) else None
        return cls(name, environment["base_url"], headers, device, transport)

    async def __aenter__(self) -> _Fetcher:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._http.aclose()

    async def message_view(self, message: StoredMessage, third_party: dict[str, Any],
                           configuration: StoredConfiguration,
                           unread: bool) -> dict[str, object]:
        third_id = quote(str(third_party["id"]), safe="")
        details = _json_object(await self._get(f"/messages/{third_id}", "details"), "details")
        view: dict[str, object] = {"environment": self.environment,
                                   "lollipop": self.device is not None}
        attachments = _attachment_list(details.get("attachments"))
        if third_party["has_attachments"] and not attachments:
            raise AppRefusal(502, "ATTACHMENTS_NOT_PRESENT",
                             "has_attachments is true but the ente listed no attachment")
        if third_party["has_remote_content"]:
            view.update(_remote_details(details.get("details")), remote_content=True)
        precondition = third_party.get("has_precondition") or configuration.body[
            "has_precondition"]
        if precondition == "ALWAYS" or (precondition == "ONCE" and unread):
            view["precondition"] = await self._precondition(third_id)
        if third_party["has_attachments"]:
            view["attachments"] = [await self._attachment(third_id, a) for a in attachments]
        view["requests"] = self.requests
        return view

    async def _precondition(self, third_id: str) -> dict[str, str]:
        body = _json_object(await self._get(f"/messages/{third_id}/precondition",
                                            "precondition"), "precondition")
        title, markdown = body.get("title"), body.get("markdown")
        if not (isinstance(title, str) and title and isinstance(markdown, str) and markdown):
            raise AppRefusal(502, "PRECONDITION_INVALID",
                             "the precondition needs a non-empty title and markdown")
        return {"title": title, "markdown": markdown}

    async def _attachment(self, third_id: str, item: dict[str, Any]) -> dict[str, object]:
        path = f"/messages/{third_id}/{quote(item['url'].lstrip('/'), safe='/')}"
        data = await self._get(path, f"attachment {item['id']!r}", attachment=True)
        if not data.startswith(PDF_MAGIC):
            raise AppRefusal(415, "NOT_A_PDF",
                             f"attachment {item['id']!r} does not start with %PDF")
        return {"id": item["id"], "name": item.get("name"),
                "content_type": item.get("content_type"),
                "category": item.get("category", "DOCUMENT"),
                "size": len(data), "sha256": hashlib.sha256(data).hexdigest()}

    async def _get(self, path: str, what: str, *, attachment: bool = False) -> bytes:
        url = self.base_url + path
        headers = dict(self.headers)
        if self.device is not None:
            headers.update(self.device.sign("GET", url, headers))
        self.requests += 1
        try:
            response = await self._http.get(url, headers=headers)
        except httpx.HTTPError as exc:
            raise AppRefusal(502, "REMOTE_UNREACHABLE",
                             f"{what}: the ente's server did not answer ({type(exc).__name__})"
                             ) from None
        status = response.status_code
        if 300 <= status < 400:
            raise AppRefusal(502, "REDIRECT_NOT_FOLLOWED",
                             f"{what}: the ente answered {status}, a redirect; IO does not "
                             "follow redirects")
        if attachment and status == 503:
            retry = {"Retry-After": response.headers["retry-after"]} if (
                "retry-after" in response.headers) else {}
            raise AppRefusal(503, "ATTACHMENT_NOT_READY",
                             f"{what}: the ente is not ready (503)", retry)
        if status != 200:
            raise AppRefusal(502, "REMOTE_ERROR", f"{what}: the ente answered {status}")
        return response.content


def _json_object(data: bytes, what: str) -> dict[str, Any]:
    try:
        body = orjson.loads(data)
    except orjson.JSONDecodeError:
        body = None
    if not isinstance(body, dict):
        raise AppRefusal(502, "REMOTE_NOT_JSON", f"{what}: the ente's answer is not a JSON "
                                                  "object")
    return body


def _attachment_list(raw: object) -> list[dict[str, Any]]:
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(
        isinstance(a, dict) and isinstance(a.get("id"), str) and isinstance(a.get("url"), str)
        for a in raw
    ):
        raise AppRefusal(502, "ATTACHMENTS_INVALID",
                         "attachments must be a list of objects with string id and url")
    return raw


def _remote_details(raw: object) -> dict[str, str]:
    if not isinstance(raw, dict):
        raise AppRefusal(502, "REMOTE_CONTENT_MISSING",
                         "has_remote_content is true but the ente sent no details")
    subject, markdown = raw.get("subject"), raw.get("markdown")
    for name, value, (low, high) in (("subject", subject, SUBJECT_RANGE),
                                     ("markdown", markdown, MARKDOWN_RANGE)):
        if not isinstance(value, str) or not low <= utf16_length(value) <= high:
            size = f"{utf16_length(value)} units" if isinstance(value, str) else "missing"
            raise AppRefusal(502, "REMOTE_CONTENT_INVALID",
                             f"details.{name} must be {low}-{high} UTF-16 units ({size})")
    return {"subject": str(subject), "markdown": str(markdown)}
