"""Opening a message the way IO's backend does, against a small ente server on loopback.

The ente's server is a tiny Starlette app whose answers each test scripts; it records every
request, so the tests see what IO's backend sent (the key header, ``fiscal_code``, Lollipop)
as well as what the app would show. Each of IO's refusals (502, 415, 503) has its case.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import pytest
import uvicorn
from simtools import ALLOWED_CF, MARKDOWN, MISSING_CF, UNLISTED_CF, message_body
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from dispatcher.simulator import (
    DEMO_KEY,
    PopulationConfig,
    RatePolicy,
    RunningSimulator,
    SimulatorConfig,
    running_simulator,
)
from dispatcher.simulator.server import bind_socket

CONTENT_KEY = "ente-content-key-51ab"
HEADER = "X-Api-Key"
PDF = b"%PDF-1.7\n" + bytes(range(256)) * 8
REMOTE = {"subject": "Avviso TARI 2027 - dettaglio",
          "markdown": "Gentile contribuente, " + "ecco il dettaglio del suo avviso. " * 4}
PRECONDITION = {"title": "Dati personali", "markdown": "Il messaggio contiene dati personali."}
ATTACHMENT = {"id": "avviso", "url": "avviso.pdf", "name": "avviso.pdf",
              "content_type": "application/pdf", "category": "DOCUMENT"}

Answer = Callable[[Request], Response]


def json_answer(body: object, status: int = 200) -> Answer:
    return lambda request: Response(orjson.dumps(body), status, media_type="application/json")


@dataclass
class EnteServer:
    """Scripted answers by path; every request's method, path and headers are kept."""

    answers: dict[str, Answer] = field(default_factory=dict)
    seen: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)
    url: str = ""

    async def handle(self, request: Request) -> Response:
        self.seen.append((request.method, request.url.path, dict(request.headers)))
        answer = self.answers.get(request.url.path)
        return answer(request) if answer else Response(status_code=404)

    def script(self, tid: str, *, details: object = None, precondition: object = None,
               attachment: bytes | Answer = PDF) -> None:
        details = details if details is not None else {"details": REMOTE,
                                                       "attachments": [ATTACHMENT]}
        self.answers[f"/io/messages/{tid}"] = json_answer(details)
        self.answers[f"/io/messages/{tid}/precondition"] = json_answer(
            precondition if precondition is not None else PRECONDITION)
        self.answers[f"/io/messages/{tid}/avviso.pdf"] = attachment if callable(
            attachment) else (lambda request: Response(attachment,
                                                       media_type="application/octet-stream"))

    def requests_for(self, tid: str) -> list[tuple[str, str, dict[str, str]]]:
        return [r for r in self.seen if r[1].startswith(f"/io/messages/{tid}")]


class _QuietServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield  # a thread cannot take signals


@contextlib.contextmanager
def serving(ente: EnteServer) -> Iterator[str]:
    app = Starlette(routes=[Route("/{path:path}", ente.handle, methods=["GET"])])
    sock = bind_socket("127.0.0.1", 0)
    server = _QuietServer(uvicorn.Config(app, lifespan="off", log_config=None,
                                         log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.005)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture(scope="module")
def ente() -> Iterator[EnteServer]:
    server = EnteServer()
    with serving(server) as url:
        server.url = url
        yield server


@pytest.fixture(scope="module")
def sim() -> Iterator[RunningSimulator]:
    config = SimulatorConfig(rate=RatePolicy(limit=0), processing_delay_s=0.0,
                             population=PopulationConfig(share_missing=0, share_blocked=0))
    with running_simulator(config) as running:
        yield running


@pytest.fixture(scope="module")
def api(sim: RunningSimulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sim.base_url,
                      headers={"Ocp-Apim-Subscription-Key": DEMO_KEY.key}) as client:
        yield client


def configuration(api: httpx.Client, ente: EnteServer, **changes: Any) -> str:
    environment = {"base_url": ente.url + "/io", "details_authentication": {
        "header_key_name": HEADER, "key": CONTENT_KEY, "type": "API-KEY"}}
    body = {"name": "TARI", "description": "TARI 2027", "has_precondition": "NEVER",
            "disable_lollipop_for": [], "is_lollipop_enabled": False,
            "prod_environment": environment, **changes}
    response = api.post("/messages-sending/remote-contents/configurations", json=body)
    assert response.status_code == 201, response.text
    conf_id: str = response.json()["configuration_id"]
    return conf_id


def send(api: httpx.Client, conf_id: str, tid: str, to: str = ALLOWED_CF,
         **flags: object) -> str:
    third_party = {"id": tid, "configuration_id": conf_id, "has_remote_content": True,
                   "has_attachments": True, **flags}
    response = api.post("/messages", json=message_body(
        to, feature_level_type="ADVANCED", content={"third_party_data": third_party}))
    assert response.status_code == 201, response.text
    message_id: str = response.json()["id"]
    return message_id


def open_(sim: RunningSimulator, message_id: str, **extra: str) -> httpx.Response:
    return httpx.post(sim.control_url + "/open", json={"message_id": message_id, **extra},
                      timeout=30)


@pytest.fixture(scope="module")
def conf_id(api: httpx.Client, ente: EnteServer) -> str:
    return configuration(api, ente)


def test_the_app_shows_the_remote_content_the_precondition_and_the_attachment(
        sim: RunningSimulator, api: httpx.Client, ente: EnteServer, conf_id: str) -> None:
    ente.script("ok-1")
    message_id = send(api, conf_id, "ok-1", has_precondition="ALWAYS")
    opened = open_(sim, message_id)
    assert opened.status_code == 200, opened.text
    view = opened.json()
    assert view["subject"] == REMOTE["subject"] and view["markdown"] == REMOTE["markdown"]
    assert view["precondition"] == PRECONDITION
    assert view["attachments"] == [{
        "id": "avviso", "name": "avviso.pdf", "content_type": "application/pdf",
        "category": "DOCUMENT", "size": len(PDF), "sha256": hashlib.sha256(PDF).hexdigest()}]
    assert view["environment"] == "prod" and view["lollipop"] is False
    calls = ente.requests_for("ok-1")
    assert [path for _, path, _ in calls] == [
        "/io/messages/ok-1", "/io/messages/ok-1/precondition", "/io/messages/ok-1/avviso.pdf"]
    for _, _, headers in calls:  # what IO's backend sends on every call
        assert headers["x-api-key"] == CONTENT_KEY and headers["fiscal_code"] == ALLOWED_CF
        assert not any(name.startswith("x-pagopa-lollipop") for name in headers)
    status = api.get(f"/messages/{ALLOWED_CF}/{message_id}").json()
    assert status["read_status"] == "READ"  # the app marked it read


def test_a_once_precondition_is_shown_only_while_the_message_is_unread(
        sim: RunningSimulator, api: httpx.Client, ente: EnteServer, conf_id: str) -> None:
    ente.script("once-1")
    message_id = send(api, conf_id, "once-1", has_precondition="ONCE")
    assert open_(sim, message_id).json()["precondition"] == PRECONDITION
    assert open_(sim, message_id).json()["precondition"] is None


def test_without_has_remote_content_the_static_text_shows_and_attachments_go_without_flag(
        sim: RunningSimulator, api: httpx.Client, ente: EnteServer, conf_id: str) -> None:
    ente.script("static-1")
    message_id = send(api, conf_id, "static-1", has_remote_content=False,
                      has_attachments=False)
    view = open_(sim, message_id).json()
    assert view["subject"] == "Promemoria scadenza TARI" and view["markdown"] == MARKDOWN
    assert view["attachments"] == [] and view["remote_content"] is False


@pytest.mark.parametrize(("tid", "script", "reason"), [
    ("no-att", {"details": {"details": REMOTE, "attachments": []}}, "ATTACHMENTS_NOT_PRESENT"),
    ("no-att-field", {"details": {"details": REMOTE}}, "ATTACHMENTS_NOT_PRESENT"),
    ("no-details", {"details": {"attachments": [ATTACHMENT]}}, "REMOTE_CONTENT_MISSING"),
    ("short-subject", {"details": {"details": {**REMOTE, "subject": "Breve"},
                                   "attachments": [ATTACHMENT]}}, "REMOTE_CONTENT_INVALID"),
    ("long-subject", {"details": {"details": {**REMOTE, "subject": "x" * 121},
                                  "attachments": [ATTACHMENT]}}, "REMOTE_CONTENT_INVALID"),
    ("short-text", {"details": {"details": {**REMOTE, "markdown": "troppo corto"},
                                "attachments": [ATTACHMENT]}}, "REMOTE_CONTENT_INVALID"),
    ("long-text", {"details": {"details": {**REMOTE, "markdown": "x" * 10001},
                               "attachments": [ATTACHMENT]}}, "REMOTE_CONTENT_INVALID"),
])
def test_ios_502_cases(sim: RunningSimulator, api: httpx.Client, ente: EnteServer,
                       conf_id: str, tid: str, script: dict[str, Any], reason: str) -> None:
    ente.script(tid, **script)
    opened = open_(sim, send(api, conf_id, tid))
    assert opened.status_code == 502, opened.text
    assert opened.json()["reason"] == reason


def test_emoji_count_twice_in_the_subject_limit(
        sim: RunningSimulator, api: httpx.Client, ente: EnteServer, conf_id: str) -> None:
    ente.script("emoji", details={"details": {**REMOTE, "subject": "🎉" * 61},
                                  "attachments": [ATTACHMENT]})
    opened = open_(sim, send(api, conf_id, "emoji"))  # 61 characters, 122 UTF-16 units
    assert opened.status_code == 502 and opened.json()["reason"] == "REMOTE_CONTENT_INVALID"


def test_attachment_bytes_that_are_not_a_pdf_are_415(
        sim: RunningSimulator, api: httpx.Client, ente: EnteServer, conf_id: str) -> None:
    ente.script("html", attachment=b"<html>not a pdf</html>")
    opened = open_(sim, send(api, conf_id, "html"))
    assert opened.status_code == 415 and opened.json()["reason"] == "NOT_A_PDF"


def test_an_attachment_not_ready_is_503_with_the_entes_retry_after(
        sim: RunningSimulator, api: httpx.Client, ente: EnteServer, conf_id: str) -> None:
    ente.script("busy", attachment=lambda request: Response(
        status_code=503, headers={"Retry-After": "7"}))
    opened = open_(sim, send(api, conf_id, "busy"))
    assert opened.status_code == 503 and opened.headers["retry-after"] == "7"


def test_a_redirect_is_not_followed(sim: RunningSimulator, api: httpx.Client,
                                    ente: EnteServer, conf_id: str) -> None:
    ente.script("moved")
    ente.answers["/io/messages/moved"] = lambda request: Response(
        status_code=302, headers={"Location": ente.url + "/io/messages/ok-1"})
    opened = open_(sim, send(api, conf_id, "moved"))
    assert opened.status_code == 502 and opened.json()["reason"] == "REDIRECT_NOT_FOLLOWED"
    assert [p for _, p, _ in ente.seen].count("/io/messages/ok-1") <= 1  # only its own open


@pytest.mark.parametrize("status", [401, 404, 500])
def test_an_ente_error_is_a_502_without_the_key_in_it(
        sim: RunningSimulator, api: httpx.Client, ente: EnteServer, conf_id: str,
        status: int) -> None:
    tid = f"err-{status}"
    ente.script(tid)
    ente.answers[f"/io/messages/{tid}"] = json_answer({"title": "no"}, status)
    opened = open_(sim, send(api, conf_id, tid))
    assert opened.status_code == 502 and opened.json()["reason"] == "REMOTE_ERROR"
    assert CONTENT_KEY not in opened.text


def test_test_users_are_served_from_the_test_environment(
        sim: RunningSimulator, api: httpx.Client, ente: EnteServer) -> None:
    test_env = {"base_url": ente.url + "/io", "test_users": [UNLISTED_CF],
                "details_authentication": {"header_key_name": "X-Test-Key", "key": "test-key",
                                           "type": "API-KEY"}}
    conf = configuration(api, ente, test_environment=test_env)
    ente.script("tester")
    opened = open_(sim, send(api, conf, "tester", to=UNLISTED_CF)).json()
    assert opened["environment"] == "test"
    assert ente.requests_for("tester")[0][2]["x-test-key"] == "test-key"


def test_lollipop_signs_every_call_with_one_device_key(
        sim: RunningSimulator, api: httpx.Client, ente: EnteServer) -> None:
    lollipop = pytest.importorskip("dispatcher.content.lollipop")
    conf = configuration(api, ente, is_lollipop_enabled=True)
    ente.script("signed")
    opened = open_(sim, send(api, conf, "signed"))
    assert opened.status_code == 200 and opened.json()["lollipop"] is True
    calls = ente.requests_for("signed")
    keys = {headers["x-pagopa-lollipop-public-key"] for _, _, headers in calls}
    assert len(calls) == 2 and len(keys) == 1  # details and attachment, the citizen's one key
    for _, path, headers in calls:
        assert headers["x-pagopa-lollipop-user-id"] == ALLOWED_CF
        verdict = lollipop.verify("GET", ente.url + path, headers)
        assert verdict.present and verdict.valid, verdict.reason


def test_lollipop_is_off_for_disable_lollipop_for(
        sim: RunningSimulator, api: httpx.Client, ente: EnteServer) -> None:
    conf = configuration(api, ente, is_lollipop_enabled=True,
                         disable_lollipop_for=[ALLOWED_CF])
    ente.script("unsigned")
    assert open_(sim, send(api, conf, "unsigned")).json()["lollipop"] is False
    assert "signature" not in ente.requests_for("unsigned")[0][2]


def test_a_configuration_without_prod_environment_cannot_be_opened(
        sim: RunningSimulator, api: httpx.Client, ente: EnteServer) -> None:
    conf = configuration(api, ente, prod_environment=None)
    opened = open_(sim, send(api, conf, "nowhere"))
    assert opened.status_code == 502 and opened.json()["reason"] == "NO_ENVIRONMENT"


def test_only_the_recipient_can_open_and_only_a_processed_message(
        sim: RunningSimulator, api: httpx.Client, conf_id: str) -> None:
    message_id = send(api, conf_id, "someone")
    assert open_(sim, message_id, fiscal_code=UNLISTED_CF).status_code == 404
    assert open_(sim, "01J00000000000000000000000").status_code == 404
    assert httpx.post(sim.control_url + "/open", json={}).status_code == 400
    sim.citizen(MISSING_CF, has_profile=False)
    rejected = api.post("/messages", json=message_body(MISSING_CF))
    opened = open_(sim, rejected.json()["id"])
    assert opened.status_code == 409 and "REJECTED" in opened.json()["error"]


def test_a_plain_message_opens_with_its_own_text_and_no_call_to_any_ente(
        sim: RunningSimulator, api: httpx.Client, ente: EnteServer) -> None:
    before = len(ente.seen)
    message_id = api.post("/messages", json=message_body(ALLOWED_CF)).json()["id"]
    view = open_(sim, message_id).json()
    assert view["subject"] == "Promemoria scadenza TARI" and len(ente.seen) == before
