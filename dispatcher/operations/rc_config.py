"""``dispatcher rc-config``: IO's remote-content configurations, and the check ``run`` makes.

A remote-content campaign names a ``configuration_id``; IO refuses every submit when that
configuration does not exist (404) or belongs to another ente (403), and the citizen cannot
open the message when it has no production environment or base URL (FACTS-REMOTE-CONTENT
§1, §4). :func:`check_configuration` asks IO once, before the first submit, with the
service's MANAGE key; without that key it says what it could not check instead of guessing.

Bodies come from a small TOML file (:func:`load_configuration_file`) that holds no secret:
the content key IO will send to the ente's server is named by ``key_env`` or ``key_file``.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import anyio
import httpx

from dispatcher.content.auth import check_header_name
from dispatcher.ioapi.rc_config import (
    API_KEY_AUTH,
    PRECONDITIONS,
    Configuration,
    ConfigurationAnswer,
    ConfigurationClient,
    ConfigurationKind,
    ContentAuthentication,
    Environment,
    NewConfiguration,
)
from dispatcher.operations.errors import OperationRefused
from dispatcher.operations.preflight import LOOPBACK_HOSTS
from dispatcher.pacing import Pacer
from dispatcher.privacy import mask_fiscal_code, shown_url
from dispatcher.settings import ConfigError, Secret, Settings, check_api_key
from dispatcher.vocabulary import ExitCode

__all__ = [
    "CheckVerdict",
    "ConfigurationCheck",
    "ConfigurationFileError",
    "RcConfigResult",
    "check_configuration",
    "check_configuration_with",
    "create_configuration",
    "list_configurations",
    "load_configuration_file",
    "show_configuration",
    "update_configuration",
]

T = TypeVar("T")

# IO's FiscalCode codec checks the pattern only (the sandbox code has no valid check letter).
_FISCAL_CODE = re.compile(
    r"[A-Z]{6}[0-9LMNPQRSTUV]{2}[ABCDEHLMPRST][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z]")
_ULID = re.compile(r"[0-9a-hjkmnp-tv-zA-HJKMNP-TV-Z]{26}")
_KEY_FILE_MAX_BYTES = 4096
_TOP = ("name", "description", "has_precondition", "is_lollipop_enabled",
        "disable_lollipop_for", "prod_environment", "test_environment")
_ENVIRONMENT = ("base_url", "header_key_name", "key_env", "key_file", "type")


class ConfigurationFileError(ValueError):
    """The TOML file cannot make a configuration; the message names the file and the field."""


# --- the TOML file ---------------------------------------------------------------------------


def load_configuration_file(path: Path, environ: Mapping[str, str] | None = None
                            ) -> NewConfiguration:
    """The body a create or an update sends, from ``path``; raises ConfigurationFileError.

    The content key is read from the variable named by ``key_env`` or the file named by
    ``key_file`` (relative to the TOML file) and checked like the IO key; a literal ``key``
    is refused, so the file can be kept in version control.
    """
    env = os.environ if environ is None else environ
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigurationFileError(f"cannot read {path}: {exc.strerror}") from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigurationFileError(f"{path}: not a TOML file: {exc}") from None
    where = _Where(path)
    where.only("", data, _TOP)
    precondition = where.text(data, "has_precondition", default="NEVER")
    if precondition not in PRECONDITIONS:
        hint = " (the guide's examples say NONE; IO's enum calls it NEVER)" if (
            precondition.upper() == "NONE") else ""
        raise where.error("has_precondition", f"is one of {', '.join(PRECONDITIONS)}, not "
                                              f"{precondition!r}{hint}")
    lollipop = data.get("is_lollipop_enabled", False)
    if not isinstance(lollipop, bool):
        raise where.error("is_lollipop_enabled", "must be true or false")
    return NewConfiguration(
        name=where.text(data, "name"),
        description=where.text(data, "description"),
        has_precondition=precondition,
        is_lollipop_enabled=lollipop,
        disable_lollipop_for=where.fiscal_codes(data, "disable_lollipop_for", default=()),
        prod_environment=_environment(where, data, "prod_environment", env),
        test_environment=_environment(where, data, "test_environment", env),
    )


def _environment(where: _Where, data: Mapping[str, Any], name: str,
                 env: Mapping[str, str]) -> Environment | None:
    table = data.get(name)
    if table is None:
        return None
    if not isinstance(table, dict):
        raise where.error(name, "must be a table ([" + name + "])")
    testing = name == "test_environment"
    where.only(name, table, (*_ENVIRONMENT, "test_users") if testing else _ENVIRONMENT)
    base_url = where.text(table, "base_url", table=name)
    problem = _content_url_problem(base_url)
    if problem:
        raise where.error(f"{name}.base_url", problem)
    header = where.text(table, "header_key_name", table=name)
    try:
        check_header_name(header)
    except ConfigError as exc:  # IO has no delete: a configuration that cannot work stays
        raise where.error(f"{name}.header_key_name", str(exc)) from None
    kind = where.text(table, "type", table=name, default=API_KEY_AUTH)
    if kind != API_KEY_AUTH:
        raise where.error(f"{name}.type", f"IO sends only {API_KEY_AUTH}, not {kind!r}")
    users = where.fiscal_codes(table, "test_users", table=name) if testing else None
    return Environment(
        base_url=base_url,
        authentication=ContentAuthentication(
            header_key_name=header,
            key=_content_key(where, table, name, env), type=kind),
        test_users=users,
    )


def _content_url_problem(url: str) -> str | None:
    """Why IO could never use ``url`` as a content server's base URL (None: it could).

    https (plain http only to this machine, for the simulator), a host, and nothing IO
    would carry around in the clear: no user name or password, no query, no fragment.
    """
    shown = shown_url(url)
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return f"{shown} does not parse as a URL"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"{shown} is not an https:// URL with a host"
    if parts.username is not None or parts.password is not None:
        return (f"{shown} holds a user name or password: IO authenticates with the key "
                "header; remove them")
    if parts.query or parts.fragment:
        return f"{shown} has a query or fragment (?… or #…): IO appends /messages/ID to it"
    if parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS:
        return (f"{shown} is plain http: IO would send citizens' content and the key "
                "unencrypted; use https")
    return None


def _content_key(where: _Where, table: Mapping[str, Any], name: str,
                 env: Mapping[str, str]) -> Secret:
    given = [k for k in ("key_env", "key_file") if k in table]
    if len(given) != 1:
        raise where.error(name, "name the content key with key_env = \"VARIABLE\" or "
                                "key_file = \"path\" (one of them)")
    source = where.text(table, given[0], table=name)
    try:
        if given[0] == "key_env":
            value = env.get(source, "")
            if not value.strip():
                raise where.error(f"{name}.key_env", f"the variable {source} is not set")
            return check_api_key(value, f"{name}.key_env {source}")
        key_path = Path(source).expanduser()
        key_path = key_path if key_path.is_absolute() else where.path.parent / key_path
        return check_api_key(_read_key_file(where, name, key_path),
                             f"{name}.key_file {key_path}")
    except ConfigError as exc:  # the checker's text never shows the key
        raise ConfigurationFileError(f"{where.path}: {exc}") from None


def _read_key_file(where: _Where, name: str, path: Path) -> str:
    try:
        with path.open("rb") as stream:
            data = stream.read(_KEY_FILE_MAX_BYTES + 1)
    except OSError as exc:
        raise where.error(f"{name}.key_file", f"cannot read {path}: {exc.strerror}") from None
    if len(data) > _KEY_FILE_MAX_BYTES:
        raise where.error(f"{name}.key_file", f"{path} is larger than {_KEY_FILE_MAX_BYTES} "
                                              "bytes: it is not a key file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise where.error(f"{name}.key_file", f"{path} is not UTF-8 text") from None


class _Where:
    """Reads fields of one TOML file; every error names the file and the field."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def error(self, field: str, message: str) -> ConfigurationFileError:
        return ConfigurationFileError(f"{self.path}: {field}: {message}")

    def only(self, table: str, data: Mapping[str, Any], known: tuple[str, ...]) -> None:
        if "key" in data:
            raise self.error(f"{table}.key" if table else "key",
                             "do not write the content key in the file: name it with key_env "
                             "= \"VARIABLE\" or key_file = \"path\"")
        unknown = sorted(set(data) - set(known))
        if unknown:
            raise self.error(table or "the file", f"unknown field(s) {', '.join(unknown)}; "
                                                  f"known: {', '.join(known)}")

    def text(self, data: Mapping[str, Any], name: str, *, table: str = "",
             default: str | None = None) -> str:
        field = f"{table}.{name}" if table else name
        value = data.get(name, default)
        if value is None:
            raise self.error(field, "is required")
        if not isinstance(value, str) or not value.strip():
            raise self.error(field, "must be a non-empty string")
        return value.strip()

    def fiscal_codes(self, data: Mapping[str, Any], name: str, *, table: str = "",
                     default: tuple[str, ...] | None = None) -> tuple[str, ...]:
        field = f"{table}.{name}" if table else name
        value = data.get(name)
        if value is None:
            if default is None:
                raise self.error(field, "is required: a list of fiscal codes")
            return default
        if not isinstance(value, list):
            raise self.error(field, "must be a list of fiscal codes")
        codes = []
        for number, item in enumerate(value, start=1):
            code = item.strip().upper() if isinstance(item, str) else ""
            if not _FISCAL_CODE.fullmatch(code):
                shown = mask_fiscal_code(item) if isinstance(item, str) else repr(item)
                raise self.error(f"{field}[{number}]", f"{shown} is not a fiscal code")
            codes.append(code)
        return tuple(codes)


# --- the four commands -----------------------------------------------------------------------


@dataclass(frozen=True)
class RcConfigResult:
    """One call's answer, and what it means for the exit code."""

    action: str  # create | list | show | update
    answer: ConfigurationAnswer
    configuration_id: str | None = None
    forbidden_reason: str | None = None  # for a 403: not a MANAGE key, or not yours

    @property
    def exit_code(self) -> ExitCode:
        """0 done · 2 IO refused the body or the id (400, 404) · 3 no usable answer (the
        create may have happened: list first) · 4 the manage key or the base URL is wrong."""
        kind = self.answer.kind
        if kind is ConfigurationKind.OK:
            return ExitCode.OK
        if kind in (ConfigurationKind.INVALID, ConfigurationKind.NOT_FOUND):
            return ExitCode.INVALID_INPUT
        if kind in (ConfigurationKind.AMBIGUOUS, ConfigurationKind.FAILED):
            return ExitCode.INCOMPLETE
        return ExitCode.CONFIG_ERROR


def create_configuration(settings: Settings, new: NewConfiguration, *,
                         transport: httpx.AsyncBaseTransport | None = None) -> RcConfigResult:
    answer = _run(settings, transport, lambda client: client.create(new))
    made = answer.configuration.configuration_id if answer.configuration else None
    return RcConfigResult("create", answer, made)


def list_configurations(settings: Settings, *,
                        transport: httpx.AsyncBaseTransport | None = None) -> RcConfigResult:
    return RcConfigResult("list", _run(settings, transport, lambda client: client.list()))


def show_configuration(settings: Settings, configuration_id: str, *,
                       transport: httpx.AsyncBaseTransport | None = None) -> RcConfigResult:
    async def call(client: ConfigurationClient) -> tuple[ConfigurationAnswer, str | None]:
        answer = await client.get(configuration_id)
        return answer, await _why_forbidden(client, answer)

    answer, why = _run(settings, transport, call)
    return RcConfigResult("show", answer, configuration_id, why)


def update_configuration(settings: Settings, configuration_id: str, new: NewConfiguration, *,
                         transport: httpx.AsyncBaseTransport | None = None) -> RcConfigResult:
    async def call(client: ConfigurationClient) -> tuple[ConfigurationAnswer, str | None]:
        answer = await client.update(configuration_id, new)
        return answer, await _why_forbidden(client, answer)

    answer, why = _run(settings, transport, call)
    return RcConfigResult("update", answer, configuration_id, why)


NOT_MANAGE_KEY = "IO_MANAGE_KEY is not a MANAGE key of this ente (IO refused even the list)"
NOT_YOURS = "the configuration belongs to another ente"


async def _why_forbidden(client: ConfigurationClient, answer: ConfigurationAnswer
                         ) -> str | None:
    """A 403 on one configuration: the same answer for "not a manage key" and "not yours";
    the list (refused only for the former) tells them apart, at the cost of one request."""
    if answer.kind is not ConfigurationKind.FORBIDDEN:
        return None
    listed = await client.list()
    return NOT_YOURS if listed.kind is ConfigurationKind.OK else NOT_MANAGE_KEY


def _run(settings: Settings, transport: httpx.AsyncBaseTransport | None,
         call: Callable[[ConfigurationClient], Awaitable[T]]) -> T:
    try:
        settings.require_manage_key()
    except ConfigError as exc:
        raise OperationRefused(str(exc), ExitCode.CONFIG_ERROR) from None
    results: list[T] = []

    async def main() -> None:
        pacer = Pacer(settings.rate)  # aiolimiter binds to the running loop
        async with ConfigurationClient.from_settings(settings, pacer,
                                                     transport=transport) as client:
            results.append(await call(client))

    anyio.run(main, backend="asyncio")
    return results[0]


# --- the check before a run ------------------------------------------------------------------


class CheckVerdict(StrEnum):
    OK = "ok"
    NOT_CHECKED = "not_checked"  # no manage key: nothing was asked
    INVALID_ID = "invalid_id"  # not a ULID: IO's codec refuses every submit (400)
    NOT_FOUND = "not_found"  # IO refuses every submit (404)
    NOT_OWNED = "not_owned"  # another ente's: IO refuses every submit (403)
    NO_PROD_ENVIRONMENT = "no_prod_environment"  # citizens could not open the messages
    NO_BASE_URL = "no_base_url"
    KEY_REFUSED = "key_refused"  # the manage key was refused: the configuration is unknown
    UNANSWERED = "unanswered"  # IO gave no usable answer: the configuration is unknown


CHECKS = ("exists", "owned", "prod_environment", "base_url")
_BLOCKING = frozenset({CheckVerdict.INVALID_ID, CheckVerdict.NOT_FOUND, CheckVerdict.NOT_OWNED,
                       CheckVerdict.NO_PROD_ENVIRONMENT, CheckVerdict.NO_BASE_URL})


@dataclass(frozen=True)
class ConfigurationCheck:
    """What IO said about the campaign's configuration, and what could not be asked."""

    configuration_id: str
    verdict: CheckVerdict
    message: str
    checked: tuple[str, ...] = ()  # which of CHECKS passed
    not_checked: tuple[str, ...] = ()  # which of CHECKS could not be asked
    configuration: Configuration | None = None
    http_status: int | None = None

    @property
    def blocks_run(self) -> bool:
        """IO would refuse every submit, or no citizen could open the message: send nothing."""
        return self.verdict in _BLOCKING

    def to_dict(self) -> dict[str, object]:
        return {"configuration_id": self.configuration_id, "verdict": self.verdict.value,
                "message": self.message, "checked": list(self.checked),
                "not_checked": list(self.not_checked), "blocks_run": self.blocks_run,
                "http_status": self.http_status}


def check_configuration(settings: Settings, configuration_id: str, *,
                        transport: httpx.AsyncBaseTransport | None = None) -> ConfigurationCheck:
    """Check ``configuration_id`` with one GET (two when IO says 403), on its own event loop.

    Inside a running session, call :func:`check_configuration_with` with a client built on
    the session's Pacer instead, so the request spends the run's one budget.
    """
    early = _precheck(settings, configuration_id)
    if early is not None:
        return early
    return _run(settings, transport,
                lambda client: check_configuration_with(client, configuration_id))


def _precheck(settings: Settings, configuration_id: str) -> ConfigurationCheck | None:
    if not _ULID.fullmatch(configuration_id):
        return ConfigurationCheck(
            configuration_id, CheckVerdict.INVALID_ID,
            f"configuration_id {configuration_id!r} is not a ULID (26 characters, like "
            "01ARZ3NDEKTSV4RRFFQ69G5FAV): IO refuses every submit", not_checked=CHECKS)
    if not settings.manage_key:
        return ConfigurationCheck(
            configuration_id, CheckVerdict.NOT_CHECKED,
            f"configuration {configuration_id} not checked: without the service's MANAGE key "
            "(IO_MANAGE_KEY or IO_MANAGE_KEY_FILE) nobody asked IO whether it exists, is this "
            "ente's, has a production environment and a base URL; IO refuses every submit if "
            "it does not exist (404) or is another ente's (403)", not_checked=CHECKS)
    return None


async def check_configuration_with(client: ConfigurationClient, configuration_id: str
                                   ) -> ConfigurationCheck:
    """:func:`check_configuration` with a client the caller opened (and paces)."""
    answer = await client.get(configuration_id)
    status, kind = answer.http_status, answer.kind
    verdict = CheckVerdict.OK

    def result(verdict: CheckVerdict, message: str, passed: int) -> ConfigurationCheck:
        unknown = verdict in (CheckVerdict.KEY_REFUSED, CheckVerdict.UNANSWERED)
        return ConfigurationCheck(
            configuration_id, verdict, message, CHECKS[:passed],
            CHECKS if unknown else (), answer.configuration, status)

    if kind is ConfigurationKind.NOT_FOUND:
        return result(CheckVerdict.NOT_FOUND, f"configuration {configuration_id} does not "
                      "exist at IO: every submit naming it would be refused (404)", 0)
    if kind is ConfigurationKind.FORBIDDEN:
        if await _why_forbidden(client, answer) == NOT_YOURS:
            return result(CheckVerdict.NOT_OWNED, f"configuration {configuration_id} belongs "
                          "to another ente: every submit naming it would be refused (403)", 1)
        return result(CheckVerdict.KEY_REFUSED, f"{NOT_MANAGE_KEY}: configuration "
                      f"{configuration_id} not checked", 0)
    if kind is ConfigurationKind.UNAUTHORIZED:
        return result(CheckVerdict.KEY_REFUSED, "IO refused IO_MANAGE_KEY (401): configuration "
                      f"{configuration_id} not checked", 0)
    configuration = answer.configuration
    if kind is not ConfigurationKind.OK or configuration is None:
        return result(CheckVerdict.UNANSWERED, f"IO gave no usable answer about configuration "
                      f"{configuration_id} ({answer.detail or kind.value}): not checked", 0)
    prod = configuration.prod_environment
    if prod is None:
        verdict = CheckVerdict.NO_PROD_ENVIRONMENT
        return result(verdict, f"configuration {configuration_id} has no prod_environment: "
                      "IO would have no server to fetch the content from (set one with "
                      "`dispatcher rc-config update`)", 2)
    parts = urlsplit(prod.base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return result(CheckVerdict.NO_BASE_URL, f"configuration {configuration_id}'s "
                      f"prod_environment has no usable base_url ({prod.base_url!r})", 3)
    return result(verdict, f"configuration {configuration_id} ({configuration.name!r}): "
                  f"exists, is this ente's, serves production from {prod.base_url}", 4)
