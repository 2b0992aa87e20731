"""The pre-flight: prove the base URL, the key and the service before any citizen is touched.

A mistake that hits every row (a base URL without ``/api/v1`` or without a scheme, a key IO
refuses, a service not allowed from this machine) would otherwise cost one refused request
per row, hours of the ente's budget on a big file, and leave every row to clean up. So three
checks come first, cheapest first:

1. the base URL parses, is http(s), has a host, and (a warning only) ends in ``/api/v1``;
2. the key is there and IO can take it (:func:`dispatcher.settings.check_api_key` already
   refused a malformed one when it was read);
3. one probe: ``POST /profiles`` of IO's test citizen ``AAAAAA00A00A000A``, whom every service
   may query (FACTS §7). Only IO's own answers pass: a 200 with ``sender_allowed``, or the
   backend's ProblemJson "Profile not found". Anything else is diagnosed in plain words.

Exit codes: a configuration that cannot work is 4 (:attr:`ExitCode.CONFIG_ERROR`). A probe
that met a passing condition (429 budget used up, IO's 5xx, a timeout, a refused connection)
is 75 (:attr:`ExitCode.STOPPED`): nothing was sent, and the same command later carries on.
A name that does not resolve or a TLS failure counts as configuration (a typo, a proxy).

:func:`probe_service` runs inside a session (its client, its Pacer budget);
:func:`preflight` is the whole check for ``dispatcher check``.
"""

# Long: three checks and a plain-words diagnosis for each answer the probe can get; most lines
# are those diagnoses, and they read best side by side.

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import NoReturn
from urllib.parse import urlsplit

import anyio
import httpx
import structlog

from dispatcher.ioapi import Client, ErrorRateExceeded, ProfileAnswer, RetryPolicy
from dispatcher.operations.errors import OperationRefused
from dispatcher.pacing import Pacer
from dispatcher.privacy import IO_TEST_CITIZEN, shown_url
from dispatcher.settings import PRODUCTION_BASE_URL, ConfigError, Settings
from dispatcher.vocabulary import ExitCode, ProfileKind

__all__ = [
    "IO_API_PATH",
    "PROBE_FISCAL_CODE",
    "PreflightFailed",
    "PreflightReport",
    "ProbeResult",
    "ProbeVerdict",
    "check_base_url",
    "check_settings",
    "judge_probe",
    "preflight",
    "probe_service",
]

IO_API_PATH = "/api/v1"
PROBE_FISCAL_CODE = IO_TEST_CITIZEN
"""IO's test citizen: in every service's ``authorized_recipients``, sandbox keys included."""

LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
# In the answer's detail (httpx's text, after the client's "gave up after N attempts: ").
_NAME_UNKNOWN = ("name or service not known", "nodename nor servname", "no address associated",
                 "getaddrinfo failed", "name does not resolve", "no such host")
_NAME_TEMPORARY = ("temporary failure in name resolution",)
_TLS = ("ssl", "certificate", "tls")
_TIMEOUTS = ("timeout", "deadline")


log = structlog.get_logger("dispatcher.preflight")

class ProbeVerdict(StrEnum):
    """What the probe's answer says about the configuration."""

    OK = "ok"  # IO's own answer: URL, key and service work
    KEY_REFUSED = "key_refused"  # 401
    FORBIDDEN = "forbidden"  # 403: key accepted, service or caller not allowed
    NOT_IO = "not_io"  # something answered, but not IO's API (a wrong path, a proxy page)
    UNEXPECTED = "unexpected"  # IO answered, but not as it answers this probe
    UNREACHABLE = "unreachable"  # no answer: DNS, TLS, connection refused
    TIMEOUT = "timeout"
    THROTTLED = "throttled"  # 429: the ente's budget is used up right now
    UNAVAILABLE = "unavailable"  # 5xx, or the run's breaker already open

    @property
    def exit_code(self) -> ExitCode:
        if self is ProbeVerdict.OK:
            return ExitCode.OK
        if self in (ProbeVerdict.TIMEOUT, ProbeVerdict.THROTTLED, ProbeVerdict.UNAVAILABLE):
            return ExitCode.STOPPED
        return ExitCode.CONFIG_ERROR


@dataclass(frozen=True)
class ProbeResult:
    """The probe's answer (``answer``: what came back, masked) and what it means."""

    verdict: ProbeVerdict
    answer: str
    diagnosis: str = ""  # what is wrong and what to do; empty when ``ok``
    http_status: int | None = None
    attempts: int = 0
    exit_override: ExitCode | None = None  # a transient cause among configuration ones

    @property
    def ok(self) -> bool:
        return self.verdict is ProbeVerdict.OK

    @property
    def exit_code(self) -> ExitCode:
        return self.exit_override or self.verdict.exit_code

    def refusal(self) -> PreflightFailed | None:
        """The exception that stops an operation for this probe, or None when it passed."""
        if self.ok:
            return None
        return PreflightFailed(f"pre-flight: {_sentence(self.diagnosis)} Nothing was sent",
                               self.exit_code)


@dataclass(frozen=True)
class PreflightReport:
    """What ``dispatcher check`` checked and found; ``probe`` is None if it never ran."""

    base_url: str  # as shown: without user info, query or fragment
    key_source: str | None = None  # IO_API_KEY or the key file; None when no key
    key_problem: str | None = None
    url_problem: str | None = None
    warnings: tuple[str, ...] = ()
    probe: ProbeResult | None = None

    @property
    def ok(self) -> bool:
        return self.url_problem is None and self.key_problem is None and bool(
            self.probe and self.probe.ok)

    @property
    def diagnosis(self) -> str | None:
        if self.url_problem:
            return self.url_problem
        if self.key_problem:
            return self.key_problem
        if self.probe and not self.probe.ok:
            return self.probe.diagnosis
        return None

    @property
    def exit_code(self) -> ExitCode:
        if self.url_problem or self.key_problem:
            return ExitCode.CONFIG_ERROR
        if self.probe is None:
            return ExitCode.CONFIG_ERROR
        return self.probe.exit_code

    def to_json(self) -> dict[str, object]:
        probe = self.probe
        return {
            "ok": self.ok,
            "base_url": self.base_url,
            "base_url_ok": self.url_problem is None,
            "key": {"present": self.key_source is not None, "source": self.key_source,
                    "valid": self.key_source is not None and self.key_problem is None},
            "probe": None if probe is None else {
                "request": f"POST {IO_API_PATH}/profiles (IO's test citizen)",
                "verdict": probe.verdict.value, "http_status": probe.http_status,
                "answer": probe.answer, "attempts": probe.attempts,
            },
            "warnings": list(self.warnings),
            "diagnosis": self.diagnosis,
            "exit_code": int(self.exit_code),
        }


class PreflightFailed(OperationRefused):
    """The pre-flight found a problem; ``report`` (when the whole check ran) says what."""

    def __init__(self, message: str, exit_code: ExitCode,
                 report: PreflightReport | None = None) -> None:
        super().__init__(message, exit_code)
        self.report = report


# -- 1. the base URL ------------------------------------------------------------------------


def check_base_url(url: str) -> list[str]:
    """Warnings about ``url``; :class:`ConfigError` when no request could reach IO with it.

    Errors: it does not parse, has no http(s) scheme (httpx would fail every request with
    ``UnsupportedProtocol``), has no host, or carries user info or a query (the key goes in
    its header only; a URL is printed and logged). Warnings: a path other than ``/api/v1``,
    plain http to a host other than this machine (the key would travel unencrypted).
    """
    text = url.strip()
    if not text:
        raise ConfigError(f"the base URL is empty: set IO_BASE_URL (IO's is {PRODUCTION_BASE_URL})")
    if any(ch.isspace() for ch in text):
        raise ConfigError("the base URL has a space or line break inside: set IO_BASE_URL "
                          f"to a URL such as {PRODUCTION_BASE_URL}")
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as exc:
        raise ConfigError(f"the base URL does not parse ({exc}): set IO_BASE_URL to a URL "
                          f"such as {PRODUCTION_BASE_URL}") from None
    scheme, shown = parts.scheme.lower(), shown_url(text)
    if "://" not in text:
        raise ConfigError(
            f"the base URL {shown} has no scheme: did you mean https://{shown}? "
            "(without http:// or https:// no request can leave)")
    if scheme not in ("http", "https"):
        raise ConfigError(f"the base URL {shown} uses '{parts.scheme}'; IO is "
                          f"reached over https, e.g. {PRODUCTION_BASE_URL}")
    if parts.username is not None or parts.password is not None:
        raise ConfigError(f"the base URL {shown} holds a user name or password "
                          "before the host; IO takes only the key header (IO_API_KEY): "
                          "remove them")
    if parts.query or parts.fragment:
        raise ConfigError(f"the base URL {shown} has a query or fragment (?… or #…), "
                          "which IO does not use; the key goes in IO_API_KEY, never in the URL")
    host = parts.hostname
    if not host:
        raise ConfigError(f"the base URL {shown} has no host, e.g. {PRODUCTION_BASE_URL}")
    warnings: list[str] = []
    path = parts.path.rstrip("/")
    if path != IO_API_PATH:
        warnings.append(
            f"the path is '{path or '/'}', IO's API lives under {IO_API_PATH}: did you mean "
            f"{scheme}://{parts.netloc}{IO_API_PATH}?")
    if scheme == "http" and host not in LOOPBACK_HOSTS:
        warnings.append(f"the base URL is plain http to {host}: the API key would travel "
                        "unencrypted; IO is served over https")
    return warnings


# -- 2. the key -----------------------------------------------------------------------------


def _key_warnings(key: str) -> list[str]:
    """A key IO can take but that looks pasted with its quotes (both ends the same quote)."""
    if len(key) > 1 and key[0] == key[-1] and key[0] in "'\"`":
        return ["the API key starts and ends with a quote character, which IO receives as "
                "part of the key: remove the quotes from IO_API_KEY or the key file if IO "
                "refuses the key"]
    return []


def check_settings(settings: Settings) -> list[str]:
    """Checks 1 and 2, without a request: warnings, or :class:`ConfigError`.

    What ``run`` and ``test`` call before they open anything (``refusals()`` turns the
    error into exit 4).
    """
    warnings = check_base_url(settings.base_url)
    return warnings + _key_warnings(settings.require_api_key())


# -- 3. the probe ---------------------------------------------------------------------------


async def probe_service(client: Client) -> ProbeResult:
    """One ``POST /profiles`` of IO's test citizen through ``client``, judged.

    Use it first thing in a session, with the session's client: the probe spends the same
    Pacer budget and retry rules as the rest of the run. Never raises for IO's answers.
    """
    try:
        answer = await client.check_profile(PROBE_FISCAL_CODE)
    except ErrorRateExceeded as exc:
        return ProbeResult(ProbeVerdict.UNAVAILABLE, "no request: the error breaker is open",
                           f"{exc}")
    return judge_probe(answer, client.base_url)


def _said(answer: ProfileAnswer) -> str:
    status = f"{answer.http_status}" if answer.http_status is not None else "no answer"
    detail = answer.detail
    if answer.http_status is not None and detail in (None, "", f"{status} no detail"):
        detail = "an empty body"  # how the client words an error answer without one
    return f"{status}{': ' + detail if detail else ''}"


def _verdict(answer: ProfileAnswer, verdict: ProbeVerdict, diagnosis: str = "", *,
             text: str | None = None, exit_override: ExitCode | None = None) -> ProbeResult:
    return ProbeResult(verdict, text or _said(answer), diagnosis, answer.http_status,
                       answer.attempts, exit_override)


def judge_probe(answer: ProfileAnswer, base_url: str) -> ProbeResult:
    """What the probe's answer means for the configuration, in plain words."""
    host = urlsplit(base_url).netloc.rsplit("@", 1)[-1] or base_url
    status, said = answer.http_status, _said(answer)
    if answer.kind in (ProfileKind.ALLOWED, ProfileKind.NOT_ALLOWED):
        allowed = "true" if answer.kind is ProfileKind.ALLOWED else "false"
        return _verdict(answer, ProbeVerdict.OK,
                        text=f"{status}: a profile, sender_allowed={allowed}")
    if answer.kind is ProfileKind.NO_PROFILE:
        return _verdict(answer, ProbeVerdict.OK, text=f"{status}: IO's own 'profile not found'")
    if status is None:
        return _no_answer(answer, host)
    if status == 401:
        return _verdict(answer, ProbeVerdict.KEY_REFUSED, (
            f"IO refused the API key ({said}). Put the primary (or secondary) key of the "
            "service in IO_API_KEY or IO_API_KEY_FILE, copied whole from the IO back office; "
            "a key regenerated there replaces the old one."))
    if status == 403:
        return _verdict(answer, ProbeVerdict.FORBIDDEN, _forbidden(said))
    if status == 429:
        return _verdict(answer, ProbeVerdict.THROTTLED, (
            f"the ente's request budget at IO is used up right now ({said}, after "
            f"{answer.attempts} request(s)): another job or service of this ente is sending. "
            "Try again in a few minutes, or lower --rate."))
    if status >= 500:
        return _verdict(answer, ProbeVerdict.UNAVAILABLE, (
            f"IO is not answering properly right now ({said}). Try again later; if it lasts, "
            "check IO's status page or tell IO's support."))
    if 200 <= status < 300:
        return _verdict(answer, ProbeVerdict.NOT_IO, (
            f"{host} answered {status} but not with IO's profile answer ({said}): the base "
            f"URL may point at a proxy or a web page, not IO's API (IO: {PRODUCTION_BASE_URL})."
        ))
    if 300 <= status < 400:
        return _verdict(answer, ProbeVerdict.NOT_IO, (
            f"{host} answered with a redirect ({said}): put the final address in the base URL "
            f"(https, with {IO_API_PATH}), e.g. {PRODUCTION_BASE_URL}."))
    if status == 400:
        return _verdict(answer, ProbeVerdict.UNEXPECTED, (
            f"IO refused the probe itself ({said}); the URL and the key seem to work, but "
            "this version of dispatcher may not match IO's API: tell its maintainers."))
    # A 404 that is not the backend's ProblemJson (APIM's "Resource not found", a web
    # server's page, an empty body), a 405, …: the request never reached IO's handler.
    return _verdict(answer, ProbeVerdict.NOT_IO, (
        f"the base URL does not reach IO's API (wrong path?): {host} answered {said} to "
        f"POST {IO_API_PATH}/profiles, which is not IO's own answer. IO's base URL is "
        f"{PRODUCTION_BASE_URL}."))


def _forbidden(said: str) -> str:
    lowered = said.lower()
    if "not allowed here" in lowered:
        cause = ("the request comes from an IP address outside the service's authorized "
                 "CIDRs, or the subscription lacks a permission: ask the ente's IO "
                 "administrator to allow this machine's public IP")
    elif "certificate" in lowered:
        cause = ("this account must present a client certificate (mTLS): use the mTLS host "
                 "and certificate IO gave the ente")
    elif "recipient forbidden" in lowered:
        cause = ("the key is a limited (sandbox) key or the service may not read profiles: "
                 "check the service's permissions in the IO back office")
    else:
        cause = ("the service behind the key is not allowed to call IO: check that it is "
                 "active and complete in the IO back office")
    return f"IO accepted the key but refused the service ({said}): {cause}."


def _no_answer(answer: ProfileAnswer, host: str) -> ProbeResult:
    """No HTTP answer: the transport error's text (httpx's, masked) tells which kind."""
    detail = (answer.detail or "").lower()
    said = answer.detail or "no answer"
    if "unsupportedprotocol" in detail:
        return _verdict(answer, ProbeVerdict.NOT_IO, (
            f"the base URL is not http(s) ({said}); e.g. {PRODUCTION_BASE_URL}."))
    if any(token in detail for token in _NAME_TEMPORARY):
        return _verdict(answer, ProbeVerdict.UNREACHABLE, (
            f"cannot reach {host}: the name server did not answer ({said}). Check the "
            "network and DNS, then try again."), exit_override=ExitCode.STOPPED)
    if any(token in detail for token in _NAME_UNKNOWN):
        return _verdict(answer, ProbeVerdict.UNREACHABLE, (
            f"cannot reach {host}: the name does not resolve ({said}). Check the host in "
            f"the base URL (IO's is {PRODUCTION_BASE_URL}) and the machine's DNS."))
    if any(token in detail for token in _TLS):
        return _verdict(answer, ProbeVerdict.UNREACHABLE, (
            f"cannot reach {host}: the TLS handshake failed ({said}). An https URL to a "
            "plain-http port, or a proxy that intercepts TLS: check the scheme and port, or "
            "the proxy's certificate."))
    if any(token in detail for token in _TIMEOUTS):
        return _verdict(answer, ProbeVerdict.TIMEOUT, (
            f"{host} did not answer in time ({said}). The network or IO is slow or down: "
            "try again later; if it lasts, check the host and port of the base URL and "
            "any firewall or proxy."))
    return _verdict(answer, ProbeVerdict.UNREACHABLE, (
        f"cannot reach {host} ({said}). Nothing listens there or the network is down: check "
        "the host and port of the base URL, the network and any proxy, then try again."),
        exit_override=ExitCode.STOPPED)


# -- the whole check ------------------------------------------------------------------------


def preflight(settings: Settings, transport: httpx.AsyncBaseTransport | None = None,
              *, retry: RetryPolicy | None = None) -> PreflightReport:
    """Checks 1–3 for ``dispatcher check``: the report, or :class:`PreflightFailed`.

    The probe's client retries less than a run's (``retry``: 3 attempts, 2 answers 429): a
    check should say what is wrong in seconds, not wait out an outage.
    """
    base = PreflightReport(base_url=shown_url(settings.base_url))
    try:
        warnings = check_base_url(settings.base_url)
    except ConfigError as exc:
        _fail(PreflightReport(base_url=base.base_url, url_problem=str(exc),
                              key_source=_source(settings)))
    base = PreflightReport(base_url=base.base_url, warnings=tuple(warnings))
    try:
        key = settings.require_api_key()
    except ConfigError as exc:
        _fail(PreflightReport(base_url=base.base_url, warnings=base.warnings,
                              key_problem=str(exc)))
    warnings += _key_warnings(key)
    policy = retry or RetryPolicy(attempts=3, max_throttled=2)

    async def probe() -> ProbeResult:
        pacer = Pacer(settings.rate)
        async with Client.from_settings(settings, pacer, transport=transport,
                                        retry=policy) as client:
            return await probe_service(client)

    result = anyio.run(probe, backend="asyncio")
    report = PreflightReport(base_url=base.base_url, key_source=settings.api_key.source,
                             warnings=tuple(warnings), probe=result)
    if not report.ok:
        _fail(report)
    return report


def _source(settings: Settings) -> str | None:
    return settings.api_key.source if settings.api_key else None


def _sentence(text: str) -> str:
    return text if text.endswith((".", "?", "!")) else text + "."


def _fail(report: PreflightReport) -> NoReturn:
    raise PreflightFailed(f"pre-flight: {_sentence(report.diagnosis or 'failed')} Nothing "
                          "was sent", report.exit_code, report)


def announce(report: PreflightReport) -> PreflightReport:
    """Log the pre-flight's warnings (a run goes on; ``dispatcher check`` prints them)."""
    for warning in report.warnings:
        log.warning("preflight_warning", warning=warning)
    return report
