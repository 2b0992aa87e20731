"""IO's remote-content configuration API, with the service's MANAGE key: answers as values.

A remote-content configuration (FACTS-REMOTE-CONTENT §4) tells IO where the ente's content
server is and which key to send it. Four calls under ``{base_url}/messages-sending``
(``base_url`` being the usual ``…/api/v1``): create (201), list, read, update (204); IO has no
delete. Like :class:`~dispatcher.ioapi.Client`, every call returns a frozen answer whose
``kind`` says what happened, never raises for IO's answers, waits on a
:class:`~dispatcher.pacing.Pacer` (the manage key's calls spend the ente's one gateway
budget) and keeps every key out of its texts.

Keys: the manage key, and the content key a configuration carries. IO echoes content keys in
its answers; they are registered as secrets (so no log or message shows them) and dropped:
a :class:`Configuration` read from IO says only *that* a key is set.

Retries: a read or an update (a PUT of the whole body, so repeating it is harmless) is retried
after a transport error, a 5xx or a 429. A create is retried only when it provably never left
or was throttled; a create whose answer was lost is ``ambiguous`` (IO may have made a
configuration: list before creating another).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote

import anyio
import httpx

from dispatcher import __version__
from dispatcher.ioapi.models import Answer
from dispatcher.ioapi.outcomes import (
    IOApiError,
    MaybeSent,
    NotSent,
    Rejected,
    ServerError,
    Throttled,
    classify_response,
    map_transport_errors,
    remaining_from,
)
from dispatcher.ioapi.retry import RetryPolicy
from dispatcher.pacing import Pacer
from dispatcher.privacy import register_secret, shown_url
from dispatcher.settings import Secret, Settings

__all__ = [
    "Configuration",
    "ConfigurationAnswer",
    "ConfigurationClient",
    "ConfigurationKind",
    "ContentAuthentication",
    "Environment",
    "NewConfiguration",
]

CONFIGURATIONS_PATH = "/messages-sending/remote-contents/configurations"
PRECONDITIONS = ("ALWAYS", "ONCE", "NEVER")
API_KEY_AUTH = "API-KEY"


class ConfigurationKind(StrEnum):
    OK = "ok"  # created (201), found (200) or updated (204)
    INVALID = "invalid"  # 400: IO's codec refused the body or the id
    UNAUTHORIZED = "unauthorized"  # 401: the manage key is missing or wrong
    FORBIDDEN = "forbidden"  # 403: not a MANAGE key, or another ente's configuration
    NOT_FOUND = "not_found"  # 404 from the backend: no such configuration
    REJECTED = "rejected"  # any other refusal (an APIM 404: wrong base URL)
    AMBIGUOUS = "ambiguous"  # a create whose answer was lost
    FAILED = "failed"  # no usable answer


@dataclass(frozen=True)
class ContentAuthentication:
    """``details_authentication``: the header IO sends to the ente, and its key.

    ``key`` is None for a configuration read from IO: the key is set there, not kept here.
    """

    header_key_name: str
    key: Secret | None = None
    type: str = API_KEY_AUTH


@dataclass(frozen=True)
class Environment:
    """``prod_environment`` / ``test_environment``; ``test_users`` only for the test one."""

    base_url: str
    authentication: ContentAuthentication
    test_users: tuple[str, ...] | None = None

    def to_json(self) -> dict[str, object]:
        auth = self.authentication
        if auth.key is None:
            raise ValueError("an environment sent to IO needs its content key")
        body: dict[str, object] = {
            "base_url": self.base_url,
            "details_authentication": {"header_key_name": auth.header_key_name,
                                       "key": auth.key.reveal(), "type": auth.type},
        }
        if self.test_users is not None:
            body["test_users"] = list(self.test_users)
        return body

    def view(self) -> dict[str, object]:
        """For output: everything but the key, which is only said to be set."""
        auth = self.authentication
        out: dict[str, object] = {"base_url": shown_url(self.base_url),
                                  "header_key_name": auth.header_key_name,
                                  "type": auth.type, "key": "set (never shown)"}
        if self.test_users is not None:
            out["test_users"] = list(self.test_users)
        return out


@dataclass(frozen=True, kw_only=True)
class NewConfiguration:
    """``NewRCConfigurationPublic``: the body of a create or of an update."""

    name: str
    description: str
    has_precondition: str = "NEVER"
    is_lollipop_enabled: bool = False
    disable_lollipop_for: tuple[str, ...] = ()
    prod_environment: Environment | None = None
    test_environment: Environment | None = None

    def to_json(self) -> dict[str, object]:
        body: dict[str, object] = {
            "name": self.name, "description": self.description,
            "has_precondition": self.has_precondition,
            "is_lollipop_enabled": self.is_lollipop_enabled,
            "disable_lollipop_for": list(self.disable_lollipop_for),
        }
        for name in ("prod_environment", "test_environment"):
            environment: Environment | None = getattr(self, name)
            if environment is not None:
                body[name] = environment.to_json()
        return body

    def secrets(self) -> tuple[str, ...]:
        keys = (e.authentication.key for e in (self.prod_environment, self.test_environment)
                if e is not None)
        return tuple(k.reveal() for k in keys if k)


@dataclass(frozen=True, kw_only=True)
class Configuration(NewConfiguration):
    """A configuration as IO answers it: its id and, on a read, the owner's ``user_id``."""

    configuration_id: str
    user_id: str | None = None

    def view(self) -> dict[str, object]:
        """JSON-ready, keys never included."""
        return {
            "configuration_id": self.configuration_id, "name": self.name,
            "description": self.description, "has_precondition": self.has_precondition,
            "is_lollipop_enabled": self.is_lollipop_enabled,
            "disable_lollipop_for": list(self.disable_lollipop_for),
            "prod_environment": self.prod_environment.view() if self.prod_environment
            else None,
            "test_environment": self.test_environment.view() if self.test_environment
            else None,
            "user_id": self.user_id,
        }


@dataclass(frozen=True, kw_only=True)
class ConfigurationAnswer(Answer):
    kind: ConfigurationKind
    configuration: Configuration | None = None  # create and read
    configurations: tuple[Configuration, ...] = ()  # list


def configuration_from_json(body: object) -> Configuration | None:
    """IO's ``RCConfigurationPublic``/``Response``, or None when it is not one."""
    if not isinstance(body, Mapping):
        return None
    conf_id, name, description = (body.get(k) for k in ("configuration_id", "name",
                                                         "description"))
    if not (isinstance(conf_id, str) and isinstance(name, str) and isinstance(description, str)):
        return None
    lollipop_off = body.get("disable_lollipop_for")
    user_id = body.get("user_id")
    return Configuration(
        configuration_id=conf_id, name=name, description=description,
        has_precondition=str(body.get("has_precondition", "")),
        is_lollipop_enabled=body.get("is_lollipop_enabled") is True,
        disable_lollipop_for=tuple(str(c) for c in lollipop_off)
        if isinstance(lollipop_off, list) else (),
        prod_environment=_environment(body.get("prod_environment")),
        test_environment=_environment(body.get("test_environment")),
        user_id=user_id if isinstance(user_id, str) else None,
    )


def _environment(raw: object) -> Environment | None:
    if not isinstance(raw, Mapping):
        return None
    auth = raw.get("details_authentication")
    auth = auth if isinstance(auth, Mapping) else {}
    key = auth.get("key")
    if isinstance(key, str):
        register_secret(key)  # IO echoes it: never to be shown, and not kept
    users = raw.get("test_users")
    return Environment(
        base_url=str(raw.get("base_url") or ""),
        authentication=ContentAuthentication(header_key_name=str(auth.get("header_key_name")
                                                                 or ""),
                                             type=str(auth.get("type") or "")),
        test_users=tuple(str(u) for u in users) if isinstance(users, list) else None,
    )


class ConfigurationClient:
    """The four calls; use as ``async with ConfigurationClient(...) as client``."""

    def __init__(self, *, base_url: str, manage_key: str, pacer: Pacer,
                 transport: httpx.AsyncBaseTransport | None = None,
                 timeout: float = 30.0, retry: RetryPolicy | None = None) -> None:
        if not manage_key:
            raise ValueError("a manage key is required")
        self.url = base_url.rstrip("/") + CONFIGURATIONS_PATH
        self._key = manage_key
        self._pacer = pacer
        self._transport = transport
        self._timeout = timeout
        self._retry = retry or RetryPolicy(attempts=3)
        self._http: httpx.AsyncClient | None = None

    @classmethod
    def from_settings(cls, settings: Settings, pacer: Pacer, **overrides: Any
                      ) -> ConfigurationClient:
        """Raises :class:`~dispatcher.settings.ConfigError` without a manage key."""
        options: dict[str, Any] = {"base_url": settings.base_url,
                                   "timeout": settings.read_timeout}
        options.update(overrides)
        options.setdefault("manage_key", settings.require_manage_key())
        return cls(pacer=pacer, **options)

    async def __aenter__(self) -> Self:
        self._http = httpx.AsyncClient(
            headers={"Ocp-Apim-Subscription-Key": self._key, "Accept": "application/json",
                     "User-Agent": f"dispatcher/{__version__} (IO bulk sender)"},
            timeout=self._timeout, transport=self._transport, follow_redirects=False)
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def create(self, new: NewConfiguration) -> ConfigurationAnswer:
        return await self._call("POST", "", new)

    async def list(self) -> ConfigurationAnswer:
        return await self._call("GET", "", None)

    async def get(self, configuration_id: str) -> ConfigurationAnswer:
        return await self._call("GET", "/" + quote(configuration_id, safe=""), None)

    async def update(self, configuration_id: str, new: NewConfiguration) -> ConfigurationAnswer:
        return await self._call("PUT", "/" + quote(configuration_id, safe=""), new)

    async def _call(self, method: str, path: str, new: NewConfiguration | None
                    ) -> ConfigurationAnswer:
        http = self._http
        if http is None:
            raise RuntimeError("use the client inside `async with ConfigurationClient(...)`")
        secrets = (self._key, *(new.secrets() if new else ()))
        body = new.to_json() if new is not None else None
        retry_all = method != "POST"
        attempts = failures = throttled = 0
        while True:
            await self._pacer.acquire()
            attempts += 1
            sent_at = self._pacer.clock.now()
            try:
                with map_transport_errors(secrets=secrets), anyio.fail_after(
                    self._timeout + 5
                ):
                    response = await http.request(method, self.url + path, json=body)
            except (NotSent, MaybeSent) as exc:
                error: IOApiError = exc
            else:
                error_or_none = classify_response(response, secrets=secrets)
                if error_or_none is None:
                    self._pacer.on_answered(remaining_from(response.headers))
                    return _success(method, path, response, attempts)
                error = error_or_none
                if isinstance(error, Throttled):
                    self._pacer.on_throttled(error.retry_after_s, sent_at=sent_at)
                    throttled += 1
                    if throttled <= self._retry.max_throttled:
                        continue
                else:
                    self._pacer.on_answered(remaining_from(response.headers))
            retryable = isinstance(error, NotSent) or (
                retry_all and isinstance(error, MaybeSent | ServerError))
            if retryable and not isinstance(error, Throttled):
                failures += 1
                if failures < self._retry.attempts:
                    await self._pacer.clock.sleep(self._retry.backoff(failures))
                    continue
            return _failure(method, error, attempts)


def _success(method: str, path: str, response: httpx.Response, attempts: int
             ) -> ConfigurationAnswer:
    common: dict[str, Any] = {"http_status": response.status_code, "attempts": attempts}
    if method == "PUT":
        return ConfigurationAnswer(kind=ConfigurationKind.OK, **common)
    try:
        body = response.json()
    except ValueError:
        body = None
    if method == "GET" and not path:
        items = body.get("rcConfigList") if isinstance(body, dict) else None
        parsed = [configuration_from_json(i) for i in items] if isinstance(items, list) else None
        if parsed is None or any(p is None for p in parsed):
            return ConfigurationAnswer(kind=ConfigurationKind.FAILED, **common,
                                       detail="the list answer is not an rcConfigList")
        return ConfigurationAnswer(kind=ConfigurationKind.OK, **common,
                                   configurations=tuple(p for p in parsed if p is not None))
    configuration = configuration_from_json(body)
    if configuration is None:
        kind = ConfigurationKind.AMBIGUOUS if method == "POST" else ConfigurationKind.FAILED
        return ConfigurationAnswer(kind=kind, **common,
                                   detail=f"HTTP {response.status_code} without a configuration "
                                          "in the body (a proxy in between?)")
    return ConfigurationAnswer(kind=ConfigurationKind.OK, **common, configuration=configuration)


def _failure(method: str, error: IOApiError, attempts: int) -> ConfigurationAnswer:
    status = error.http_status
    kind = ConfigurationKind.FAILED
    if isinstance(error, MaybeSent) and method == "POST":
        kind = ConfigurationKind.AMBIGUOUS
    elif isinstance(error, Rejected):
        kind = {400: ConfigurationKind.INVALID, 401: ConfigurationKind.UNAUTHORIZED,
                403: ConfigurationKind.FORBIDDEN}.get(status or 0, ConfigurationKind.REJECTED)
        if status == 404 and error.problem:
            kind = ConfigurationKind.NOT_FOUND
    title = getattr(error, "title", None)
    return ConfigurationAnswer(kind=kind, http_status=status, attempts=attempts,
                               detail=error.detail_text, title=title,
                               never_left=isinstance(error, NotSent))
