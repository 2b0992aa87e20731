"""The pre-flight: a base URL that cannot work, a key IO refuses, a path that is not IO's API,
an outage: each found by one probe before any citizen is touched, each with a plain diagnosis
and the exit code that tells cron what to do."""

from __future__ import annotations

import json

import httpx
import pytest

from dispatcher.clock import FakeClock
from dispatcher.ioapi import Client, RetryPolicy
from dispatcher.operations.errors import OperationRefused
from dispatcher.operations.preflight import (
    PROBE_FISCAL_CODE,
    PreflightFailed,
    ProbeResult,
    ProbeVerdict,
    check_base_url,
    check_settings,
    preflight,
    probe_service,
)
from dispatcher.pacing import Pacer
from dispatcher.settings import ConfigError, RateSpec, Secret, Settings
from dispatcher.simulator import KeyConfig, SimulatorConfig, create_app
from dispatcher.vocabulary import ExitCode

BASE = "https://io.test/api/v1"
KEY = "preflight-KEY-0123456789"

pytestmark = pytest.mark.anyio


def problem(status: int, title: str, detail: str = "") -> httpx.Response:
    return httpx.Response(status, json={"status": status, "title": title, "detail": detail},
                          headers={"content-type": "application/problem+json"})


def apim(status: int, message: str) -> httpx.Response:
    return httpx.Response(status, json={"statusCode": status, "message": message})


async def _probe(answer: httpx.Response | Exception, *,
                 requests: list[httpx.Request] | None = None) -> ProbeResult:
    """The probe through a real client over a scripted transport (waits on a fake clock)."""

    def handler(request: httpx.Request) -> httpx.Response:
        if requests is not None:
            requests.append(request)
        if isinstance(answer, Exception):
            raise answer
        return answer

    pacer = Pacer(RateSpec(1000, 1), clock=FakeClock())
    retry = RetryPolicy(attempts=2, wait_jitter=0.0, wait_initial=0.1, max_throttled=1)
    async with Client(base_url=BASE, api_key=KEY, pacer=pacer, retry=retry,
                      transport=httpx.MockTransport(handler)) as client:
        return await probe_service(client)


# -- 1. the base URL ------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("api.io.pagopa.it/api/v1", "no scheme: did you mean https://api.io.pagopa.it/api/v1?"),
        ("ftp://api.io.pagopa.it/api/v1", "uses 'ftp'"),
        ("https:///api/v1", "has no host"),
        ("https://io.test:port/api/v1", "does not parse"),
        ("https://[::1/api/v1", "does not parse"),
        ("https://user:pw@io.test/api/v1", "user name or password"),
        ("https://io.test/api/v1?subscription-key=abc", "query or fragment"),
        ("https://io.test/api /v1", "space"),
        ("", "empty"),
    ],
)
def test_a_base_url_no_request_could_use_is_a_config_error(url: str, words: str) -> None:
    with pytest.raises(ConfigError) as refused:
        check_base_url(url)
    assert words in str(refused.value)
    assert "pw" not in str(refused.value) and "abc" not in str(refused.value)


def test_a_path_other_than_api_v1_and_plain_http_are_warnings_with_the_fix() -> None:
    assert check_base_url("https://api.io.pagopa.it/api/v1/") == []
    assert check_base_url("http://127.0.0.1:8000/api/v1") == []
    [path] = check_base_url("https://api.io.pagopa.it")
    assert path == ("the path is '/', IO's API lives under /api/v1: did you mean "
                    "https://api.io.pagopa.it/api/v1?")
    [plain] = check_base_url("http://io.example:8080/api/v1")
    assert "unencrypted" in plain and "io.example" in plain


def test_the_settings_check_requires_a_key_and_warns_of_one_pasted_with_its_quotes() -> None:
    with pytest.raises(ConfigError, match="no API key"):
        check_settings(Settings(base_url=BASE))
    assert check_settings(Settings(base_url=BASE, api_key=Secret(KEY))) == []
    [quoted] = check_settings(Settings(base_url=BASE, api_key=Secret(f"'{KEY}'")))
    assert "quote" in quoted and KEY not in quoted


# -- 3. the probe: what each answer means ---------------------------------------------------

async def test_the_probe_asks_for_io_test_citizen_and_passes_on_ios_own_answers() -> None:
    requests: list[httpx.Request] = []
    ok = await _probe(httpx.Response(200, json={"sender_allowed": True}), requests=requests)
    assert ok.verdict is ProbeVerdict.OK and ok.exit_code is ExitCode.OK
    assert ok.answer == "200: a profile, sender_allowed=true" and ok.refusal() is None
    [request] = requests
    assert request.method == "POST" and request.url.path == "/api/v1/profiles"
    assert json.loads(request.content) == {"fiscal_code": PROBE_FISCAL_CODE}
    missing = await _probe(problem(404, "Profile not found", "not found in the system"))
    assert missing.ok and "profile not found" in missing.answer


@pytest.mark.parametrize(
    ("answer", "verdict", "code", "words"),
    [
        (apim(401, "Access denied due to invalid subscription key."), ProbeVerdict.KEY_REFUSED,
         ExitCode.CONFIG_ERROR, "IO refused the API key"),
        (problem(403, "You are not allowed here", "IP not in authorized_cidrs"),
         ProbeVerdict.FORBIDDEN, ExitCode.CONFIG_ERROR, "public IP"),
        (problem(403, "Recipient forbidden"), ProbeVerdict.FORBIDDEN, ExitCode.CONFIG_ERROR,
         "sandbox"),
        (apim(404, "Resource not found"), ProbeVerdict.NOT_IO, ExitCode.CONFIG_ERROR,
         "does not reach IO's API (wrong path?)"),
        (httpx.Response(404, text="<html><body>Not Found</body></html>",
                        headers={"content-type": "text/html"}),
         ProbeVerdict.NOT_IO, ExitCode.CONFIG_ERROR, "does not reach IO's API"),
        (httpx.Response(404), ProbeVerdict.NOT_IO, ExitCode.CONFIG_ERROR, "an empty body"),
        (httpx.Response(405, text="Method Not Allowed"), ProbeVerdict.NOT_IO,
         ExitCode.CONFIG_ERROR, "does not reach IO's API"),
        (httpx.Response(200, text="<html>proxy login</html>",
                        headers={"content-type": "text/html"}),
         ProbeVerdict.NOT_IO, ExitCode.CONFIG_ERROR, "not with IO's profile answer"),
        (httpx.Response(301, headers={"location": "https://io.test/"}), ProbeVerdict.NOT_IO,
         ExitCode.CONFIG_ERROR, "redirect"),
        (problem(400, "Invalid FiscalCodePayload"), ProbeVerdict.UNEXPECTED,
         ExitCode.CONFIG_ERROR, "refused the probe itself"),
        (apim(429, "Rate limit is exceeded. Try again in 0 seconds."), ProbeVerdict.THROTTLED,
         ExitCode.STOPPED, "budget at IO is used up"),
        (problem(500, "Internal server error", "Query error"), ProbeVerdict.UNAVAILABLE,
         ExitCode.STOPPED, "not answering properly"),
        (apim(503, "Service Unavailable"), ProbeVerdict.UNAVAILABLE, ExitCode.STOPPED,
         "not answering properly"),
    ],
)
async def test_each_refusal_of_the_probe_gets_its_diagnosis_and_exit_code(
    answer: httpx.Response, verdict: ProbeVerdict, code: ExitCode, words: str
) -> None:
    result = await _probe(answer)
    assert result.verdict is verdict and result.exit_code is code
    assert words in result.diagnosis
    refusal = result.refusal()
    assert isinstance(refusal, OperationRefused) and refusal.exit_code is code
    assert refusal.message.startswith("pre-flight: ") and refusal.message.endswith(
        "Nothing was sent")


@pytest.mark.parametrize(
    ("error", "verdict", "code", "words"),
    [
        (httpx.ConnectError("[Errno -2] Name or service not known"), ProbeVerdict.UNREACHABLE,
         ExitCode.CONFIG_ERROR, "cannot reach io.test: the name does not resolve"),
        (httpx.ConnectError("[Errno -3] Temporary failure in name resolution"),
         ProbeVerdict.UNREACHABLE, ExitCode.STOPPED, "name server did not answer"),
        (httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed"),
         ProbeVerdict.UNREACHABLE, ExitCode.CONFIG_ERROR, "TLS handshake failed"),
        (httpx.ConnectError("[Errno 111] Connection refused"), ProbeVerdict.UNREACHABLE,
         ExitCode.STOPPED, "cannot reach io.test"),
        (httpx.ConnectTimeout("timed out"), ProbeVerdict.TIMEOUT, ExitCode.STOPPED,
         "did not answer in time"),
        (httpx.ReadTimeout("timed out"), ProbeVerdict.TIMEOUT, ExitCode.STOPPED,
         "did not answer in time"),
    ],
)
async def test_no_answer_at_all_is_told_apart_by_its_cause(
    error: Exception, verdict: ProbeVerdict, code: ExitCode, words: str
) -> None:
    result = await _probe(error)
    assert result.verdict is verdict and result.exit_code is code
    assert words in result.diagnosis and result.http_status is None


# -- the whole check ------------------------------------------------------------------------

def test_preflight_reports_every_check_and_refuses_with_the_report_attached() -> None:
    settings = Settings(base_url=BASE, api_key=Secret(KEY))
    fast = RetryPolicy(attempts=1)
    report = preflight(settings, httpx.MockTransport(
        lambda request: httpx.Response(200, json={"sender_allowed": True})), retry=fast)
    assert report.ok and report.exit_code is ExitCode.OK
    data = report.to_json()
    assert data["key"] == {"present": True, "source": "the API key", "valid": True}
    assert data["probe"]["verdict"] == "ok" and data["diagnosis"] is None
    assert KEY not in json.dumps(data)
    with pytest.raises(PreflightFailed) as failed:
        preflight(settings, httpx.MockTransport(
            lambda request: apim(401, "Access denied due to invalid subscription key.")),
            retry=fast)
    assert failed.value.exit_code is ExitCode.CONFIG_ERROR
    assert failed.value.report is not None and failed.value.report.probe is not None
    assert failed.value.report.probe.verdict is ProbeVerdict.KEY_REFUSED


def test_preflight_sends_nothing_when_the_url_or_the_key_cannot_work() -> None:
    def never(request: httpx.Request) -> httpx.Response:
        raise AssertionError("no request may leave")

    for settings, words in (
        (Settings(base_url="api.io.pagopa.it/api/v1", api_key=Secret(KEY)), "no scheme"),
        (Settings(base_url=BASE), "no API key"),
    ):
        with pytest.raises(PreflightFailed) as failed:
            preflight(settings, httpx.MockTransport(never))
        assert failed.value.exit_code is ExitCode.CONFIG_ERROR
        assert words in failed.value.message and failed.value.report.probe is None


@pytest.mark.parametrize("sandbox", [False, True])
def test_the_simulator_answers_the_probe_as_io_does_even_for_a_sandbox_key(
    sandbox: bool,
) -> None:
    key = KeyConfig(key=KEY, sandbox=sandbox)
    transport = httpx.ASGITransport(app=create_app(SimulatorConfig(keys=(key,))))
    base = "http://sim/api/v1"
    report = preflight(Settings(base_url=base, api_key=Secret(KEY)), transport)
    assert report.ok and report.probe is not None and report.probe.http_status == 200
    with pytest.raises(PreflightFailed) as wrong_path:
        preflight(Settings(base_url="http://sim", api_key=Secret(KEY)), transport)
    assert wrong_path.value.report.probe.verdict is ProbeVerdict.NOT_IO
    assert any("/api/v1" in w for w in wrong_path.value.report.warnings)
