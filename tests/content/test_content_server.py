"""The content server over loopback, as IO's backend calls it; every answer checked against
the official remote-content spec when the spec files are available."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from content_spec import assert_matches_spec, requires_spec
from contenttools import (
    CITIZEN,
    KEY,
    MARKDOWN,
    OTHER_CITIZEN,
    SUBJECT,
    headers,
    lifespan,
    registered_store,
    served,
    write_pdf,
)
from starlette.responses import Response
from starlette.types import ASGIApp

from dispatcher.content.server import InFlightLimit, ServerOptions, create_app
from dispatcher.content.store import ContentStore
from dispatcher.settings import Secret

DETAILS = "/messages/{id}"
PRECONDITION = "/messages/{id}/precondition"
ATTACHMENT = "/messages/{id}/{attachment_url}"


@pytest.fixture
def pdf(tmp_path: Path) -> Path:
    return write_pdf(tmp_path / "avviso.pdf", 300_000)


@pytest.fixture
def store_path(tmp_path: Path, pdf: Path) -> Path:
    return registered_store(tmp_path / "state" / "content.sqlite", pdf)


@pytest.fixture
def client(store_path: Path) -> httpx.Client:
    with served(store_path) as client:
        yield client


@requires_spec
def test_details_precondition_and_attachment_answer_as_the_spec_says(
        client: httpx.Client, pdf: Path) -> None:
    details = client.get("/messages/M-1", headers=headers())
    assert details.status_code == 200
    assert_matches_spec(DETAILS, details)
    assert details.json() == {
        "details": {"subject": SUBJECT, "markdown": MARKDOWN},
        "attachments": [{"id": "avviso", "url": "avviso.pdf", "name": "avviso.pdf",
                         "content_type": "application/pdf", "category": "DOCUMENT"}]}

    precondition = client.get("/messages/M-1/precondition", headers=headers())
    assert precondition.status_code == 200
    assert_matches_spec(PRECONDITION, precondition)
    assert precondition.json()["title"] == "Prima di aprire"

    attachment = client.get("/messages/M-1/avviso.pdf", headers=headers())
    assert attachment.status_code == 200
    assert_matches_spec(ATTACHMENT, attachment)
    assert attachment.headers["content-type"] == "application/octet-stream"
    assert attachment.content == pdf.read_bytes()


@requires_spec
def test_a_missing_key_is_401_and_a_wrong_key_403_without_body(client: httpx.Client) -> None:
    for template, path in ((DETAILS, "/messages/M-1"), (PRECONDITION, "/messages/M-1/precondition"),
                           (ATTACHMENT, "/messages/M-1/avviso.pdf")):
        missing = client.get(path, headers=headers(key=None))
        wrong = client.get(path, headers=headers(key=KEY[:-1] + "X"))
        assert (missing.status_code, wrong.status_code) == (401, 403)
        assert_matches_spec(template, missing)
        assert_matches_spec(template, wrong)
    # the key is judged first: a stranger learns nothing about ids or fiscal codes
    assert client.get("/messages/M-404", headers=headers("bad", key=None)).status_code == 401


@requires_spec
def test_another_citizen_gets_the_same_404_as_an_unknown_id(client: httpx.Client) -> None:
    foreign = client.get("/messages/M-3", headers=headers(CITIZEN))  # OTHER_CITIZEN's message
    unknown = client.get("/messages/M-404", headers=headers(CITIZEN))
    assert foreign.status_code == unknown.status_code == 404
    assert foreign.content == unknown.content
    assert_matches_spec(DETAILS, foreign)
    for path in ("/messages/M-3/precondition", "/messages/M-3/avviso.pdf"):
        assert client.get(path, headers=headers(CITIZEN)).content == unknown.content
    assert client.get("/messages/M-3", headers=headers(OTHER_CITIZEN)).status_code == 200


@requires_spec
def test_a_malformed_fiscal_code_header_is_400(client: httpx.Client) -> None:
    for bad in (CITIZEN.lower(), CITIZEN[:-1], "RSSMRA80A01H501U1", "12345678901"):
        answer = client.get("/messages/M-1", headers=headers(bad))
        assert answer.status_code == 400, bad
        assert_matches_spec(DETAILS, answer)
    missing = client.get("/messages/M-1", headers={"X-Functions-Key": KEY})
    assert missing.status_code == 400


@requires_spec
def test_no_precondition_and_an_unknown_attachment_are_404(client: httpx.Client) -> None:
    absent = client.get("/messages/M-2/precondition", headers=headers())
    assert absent.status_code == 404
    assert_matches_spec(PRECONDITION, absent)
    unknown = client.get("/messages/M-1/other.pdf", headers=headers())
    assert unknown.status_code == 404
    assert_matches_spec(ATTACHMENT, unknown)


def test_nothing_redirects_not_even_a_trailing_slash(client: httpx.Client) -> None:
    for path in ("/messages/M-1/", "/messages/", "/ready/", "/messages//M-1"):
        answer = client.get(path, headers=headers())
        assert not answer.is_redirect, path
        assert answer.status_code == 404, path
        assert answer.headers["content-type"] == "application/json"


def test_readiness_sits_outside_the_io_paths(client: httpx.Client) -> None:
    answer = client.get("/ready")  # a reverse proxy's health check has no key
    assert answer.status_code == 200
    assert answer.json() == {"status": "ready", "messages": 3}


def test_every_open_is_recorded_with_its_attachment(store_path: Path) -> None:
    with served(store_path) as client:
        for path in ("/messages/M-1", "/messages/M-1/precondition", "/messages/M-1/avviso.pdf",
                     "/messages/M-1", "/messages/M-2"):
            assert client.get(path, headers=headers()).status_code == 200
        assert client.get("/messages/M-3", headers=headers()).status_code == 404
        assert client.get("/messages/M-1", headers=headers(key="nope")).status_code == 403
        assert client.head("/messages/M-2", headers=headers()).status_code == 200  # no read
    # the server's shutdown writes what its recorder still holds
    with ContentStore.open(store_path) as store:
        opens = store.opens()
    assert set(opens) == {"M-1", "M-2"}  # refusals are not opens
    m1 = opens["M-1"]
    assert (m1.opens, m1.precondition_reads, m1.attachment_downloads,
            m1.attachments_downloaded) == (2, 1, 1, 1)
    assert opens["M-2"].opens == 1


@requires_spec
def test_unreadable_attachment_bytes_are_503_with_retry_after(store_path: Path,
                                                              pdf: Path) -> None:
    with served(store_path) as client:
        with sqlite3.connect(store_path) as db:  # the bytes vanish under the server
            db.execute("DELETE FROM blobs")
        answer = client.get("/messages/M-1/avviso.pdf", headers=headers())
    assert answer.status_code == 503
    assert int(answer.headers["retry-after"]) > 0
    assert_matches_spec(ATTACHMENT, answer)


@requires_spec
def test_an_internal_fault_is_a_500_problem_without_traceback(store_path: Path) -> None:
    with served(store_path) as client:
        with sqlite3.connect(store_path) as db:
            db.execute("PRAGMA foreign_keys = OFF")
            db.execute("DROP TABLE attachments")
            db.execute("DROP TABLE messages")
        answer = client.get("/messages/M-1", headers=headers())
    assert answer.status_code == 500
    assert_matches_spec(DETAILS, answer)
    assert "Traceback" not in answer.text and "sqlite" not in answer.text.lower()


def test_the_key_header_name_follows_the_configuration(store_path: Path) -> None:
    with served(store_path, header_key_name="Ocp-Apim-Subscription-Key") as client:
        ok = client.get("/messages/M-1", headers=headers(header="ocp-apim-subscription-key"))
        default_name = client.get("/messages/M-1", headers=headers())
    assert ok.status_code == 200
    assert default_name.status_code == 401


def test_behind_a_proxy_the_prefix_may_be_kept_or_stripped(store_path: Path) -> None:
    with served(store_path, root_path="/io/content") as kept:
        assert kept.get("/messages/M-1", headers=headers()).status_code == 200
        stripped = httpx.Client(base_url=str(kept.base_url).removesuffix("/io/content/"))
        with stripped:
            assert stripped.get("/messages/M-1", headers=headers()).status_code == 200
            assert stripped.get("/io/contentx/messages/M-1",
                                headers=headers()).status_code == 404


@pytest.mark.anyio
async def test_beyond_the_in_flight_limit_the_answer_is_429_without_body() -> None:
    release = anyio.Event()
    started = anyio.Event()

    async def slow(scope: object, receive: object, send: object) -> None:
        started.set()
        await release.wait()
        await Response(b"done")(scope, receive, send)  # type: ignore[arg-type]

    limited = InFlightLimit(slow, limit=1)
    transport = httpx.ASGITransport(app=limited)
    async with httpx.AsyncClient(transport=transport, base_url="http://content") as client:
        answers: list[httpx.Response] = []

        async def first() -> None:
            answers.append(await client.get("/messages/M-1"))

        async with anyio.create_task_group() as tg:
            tg.start_soon(first)
            await started.wait()
            refused = await client.get("/messages/M-1")
            release.set()
    assert (refused.status_code, refused.content) == (429, b"")
    assert answers[0].status_code == 200
    assert limited.in_flight == 0


_ANSWERS = {  # every kind of details answer: (headers, expected status)
    "opened": (headers(), 200),
    "no key": (headers(key=None), 401),
    "wrong key": (headers(key=KEY[:-1] + "X"), 403),
    "key not ascii": ([("x-functions-key", "chiavé".encode("latin-1")),
                       ("fiscal_code", CITIZEN)], 403),
    "first of two keys counts": ([("x-functions-key", "nope"), ("x-functions-key", KEY),
                                  ("fiscal_code", CITIZEN)], 403),
    "bad fiscal code": (headers(CITIZEN.lower()), 400),
    "foreign id": (headers(OTHER_CITIZEN), 404),
}


@pytest.mark.anyio
@pytest.mark.parametrize("case", list(_ANSWERS))
async def test_the_details_fast_route_answers_exactly_as_starlettes_route(
        store_path: Path, case: str) -> None:
    """A scope with a root path is left to Starlette's own details route: both answers,
    status, headers and bytes, are one answer, and both record the open."""
    sent, status = _ANSWERS[case]
    app = create_app(ServerOptions(store_path=store_path, key=Secret(KEY)))
    async with lifespan(app):
        fast, routed = await _details_both_ways(app, sent)
    assert fast.status_code == routed.status_code == status
    assert fast.content == routed.content
    assert fast.headers.multi_items() == routed.headers.multi_items()
    with ContentStore.open(store_path) as store:
        opens = store.opens()
    assert (opens["M-1"].opens if opens else 0) == (2 if status == 200 else 0)


@pytest.mark.anyio
async def test_a_fault_is_the_same_500_on_both_details_routes(store_path: Path) -> None:
    app = create_app(ServerOptions(store_path=store_path, key=Secret(KEY)))
    async with lifespan(app):
        with sqlite3.connect(store_path) as db:  # the table vanishes under the server
            db.execute("DROP TABLE messages")
        fast, routed = await _details_both_ways(app, headers())
    assert fast.status_code == routed.status_code == 500
    assert (fast.content, fast.headers.multi_items()) == (
        routed.content, routed.headers.multi_items())


async def _details_both_ways(app: ASGIApp, sent: Any) -> tuple[httpx.Response, httpx.Response]:
    answers = []
    for root_path in ("", "/elsewhere"):  # our serving never sets one: the fast route first
        # Starlette re-raises a fault after its 500 (for the server's log): not the test's
        transport = httpx.ASGITransport(app=app, root_path=root_path,
                                        raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://content") as client:
            answers.append(await client.get("/messages/M-1", headers=sent))
    return answers[0], answers[1]


def test_key_refusals_are_logged_on_the_entes_side_without_flooding(store_path: Path) -> None:
    from structlog.testing import capture_logs

    with capture_logs() as logs, served(store_path) as client:
        for _ in range(150):
            assert client.get("/messages/M-1", headers=headers(key="nope")).status_code == 403
        assert client.get("/messages/M-1", headers=headers(key=None)).status_code == 401
    refused = [e for e in logs if e["event"] == "content_key_refused"]
    assert [e["refusals"] for e in refused] == [1, 100]  # the first, then every 100th
    assert all("nope" not in str(e) for e in refused)  # the key sent is never logged
