"""The content server: what IO's backend calls when a citizen opens a remote-content message.

A Starlette app implementing ``io-backend.remote-content.openapi.yaml``:

* ``GET /messages/{id}``: the details (subject, markdown) and the attachment list;
* ``GET /messages/{id}/precondition``: what the citizen must accept first;
* ``GET /messages/{id}/{attachment_url}``: the PDF's bytes, ``application/octet-stream``.

Each call is judged in an order that tells a stranger nothing: the key header first (401
missing, 403 wrong, no body), then the ``fiscal_code`` header's shape (400), the Lollipop
signature when the mode asks for it (403), then the store. An unknown id and an id that
belongs to another citizen get the *same* 404, so nobody learns which ids exist. Errors are
ProblemJson; an unexpected fault is a 500 ProblemJson (the traceback goes to the log, never
to IO); a server with too many calls in flight answers 429 without a body; attachment bytes
the store cannot read right now are a 503 with ``Retry-After``. Nothing redirects (IO does
not follow redirects), not even a trailing slash. ``GET /ready`` sits outside IO's paths.

Every successful answer is an open, recorded in the store by a background writer
(:class:`~dispatcher.content.recorder.OpenRecorder`): a commit per request would put a disk
flush in every answer.

Why the details call bypasses Starlette: it is what every opening of a message in the app
costs, and Starlette's layers (its error and exception middleware, the route table, a
``Request`` and a ``Response`` per call) cost more than the whole answer (a keyed hash and
one SQLite row). :class:`DetailsRoute` answers ``GET /messages/{id}`` as a plain ASGI
callable with the same checks, in the same order, and the same bytes; everything else (HEAD,
the other paths, the lifespan) goes on to the Starlette app. ``bench/bench_content.py``
measures the difference.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

import orjson
import structlog
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from dispatcher.content import lollipop
from dispatcher.content.auth import DEFAULT_HEADER_KEY_NAME, KeyCheck
from dispatcher.content.documents import precondition_document
from dispatcher.content.recorder import OpenRecorder
from dispatcher.content.store import BlobUnavailable, ContentStore, OpenKind, StoredMessage
from dispatcher.settings import Secret

__all__ = ["DetailsRoute", "InFlightLimit", "LollipopMode", "OpenRecorder", "ServerOptions",
           "StripPrefix", "create_app"]

log = structlog.get_logger("dispatcher.content")

# The spec's pattern for the ``fiscal_code`` header, whole (the spec leaves it unanchored);
# on the raw header bytes, as the ASGI server hands them over.
FISCAL_CODE = re.compile(
    rb"[A-Z]{6}[0-9LMNPQRSTUV]{2}[ABCDEHLMPRST][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z]")
WHOLE_IN_MEMORY = 1024 * 1024  # attachments up to this size are sent in one piece


class LollipopMode(StrEnum):
    """``off``: ignore the headers; ``accept``: verify them when present; ``required``:
    refuse unsigned requests too."""

    OFF = "off"
    ACCEPT = "accept"
    REQUIRED = "required"


@dataclass(frozen=True)
class ServerOptions:
    """How one content server runs; the key is a :class:`Secret`, never printed."""

    store_path: Path
    key: Secret
    header_key_name: str = DEFAULT_HEADER_KEY_NAME
    lollipop: LollipopMode = LollipopMode.OFF
    max_in_flight: int = 512
    retry_after_s: int = 30  # the Retry-After of a 503 on attachment bytes
    root_path: str = ""  # the reverse proxy's prefix, e.g. /io: served with and without it
    clock: Callable[[], float] = field(default=time.time, compare=False)  # unix seconds


# -- answers -----------------------------------------------------------------------------------


def _json(body: object, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status, headers, media_type="application/json")


def problem(status: int, title: str, detail: str, headers: dict[str, str] | None = None
            ) -> Response:
    """A ProblemJson answer (RFC 7807, as the spec's ``ProblemJson``)."""
    return _json({"title": title, "status": status, "detail": detail}, status, headers)


def _empty(status: int) -> Response:
    return Response(b"", status)


NOT_FOUND_DETAIL = "no message with this id for this fiscal code"

# The refusals are the same bytes every time: made once, sent as often as needed (a plain
# Starlette Response keeps no per-request state).
_REFUSED = {401: _empty(401), 403: _empty(403)}
_BAD_FISCAL_CODE = problem(400, "Bad Request", "the fiscal_code header must be a fiscal code "
                           "in upper case (16 characters)")
_NOT_FOUND = problem(404, "Not Found", NOT_FOUND_DETAIL)
_INTERNAL_ERROR = problem(500, "Internal Server Error", "the content server failed to answer")
_JSON_TYPE = (b"content-type", b"application/json")


# -- the guard: in-flight limit ----------------------------------------------------------------


class InFlightLimit:
    """ASGI middleware: beyond ``limit`` requests in flight, answer 429 without a body.

    IO retries a 429; queueing without bound would instead make every answer late.
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit
        self.in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.limit:
            await _empty(429)(scope, receive, send)
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1


class StripPrefix:
    """ASGI middleware: a path under the proxy's prefix is served as the path without it.

    A proxy that strips the prefix (nginx ``proxy_pass http://app/;``) and one that keeps it
    (``proxy_pass http://app;``) then both work; uvicorn's own ``root_path`` serves only the
    first kind.
    """

    def __init__(self, app: ASGIApp, prefix: str) -> None:
        self.app = app
        self.prefix = prefix.rstrip("/")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self.prefix:
            path: str = scope["path"]
            if path.startswith(self.prefix + "/"):
                raw: bytes = scope.get("raw_path") or path.encode()
                prefix = self.prefix.encode()
                scope = {**scope, "path": path[len(self.prefix):],
                         "raw_path": raw[len(prefix):] if raw.startswith(prefix) else
                         path[len(self.prefix):].encode(),
                         ORIGINAL_RAW_PATH: raw}
        await self.app(scope, receive, send)


ORIGINAL_RAW_PATH = "dispatcher.original_raw_path"
"""The scope key where :class:`StripPrefix` keeps the path as the request carried it."""


def signed_url(scope: Scope) -> str:
    """The URL as IO sent (and signed) it: the path still percent-encoded, the proxy's prefix
    kept. ``Request.url`` would give the decoded path, which no longer matches the signature
    of an id with a space or an accented letter."""
    request = Request(scope)
    raw: bytes = scope.get(ORIGINAL_RAW_PATH) or scope.get("raw_path") or scope["path"].encode()
    query = scope.get("query_string") or b""
    base = f"{request.url.scheme}://{request.url.netloc}"
    return base + raw.decode("latin-1") + (f"?{query.decode('latin-1')}" if query else "")


# -- the app -----------------------------------------------------------------------------------


class _Handlers:
    def __init__(self, options: ServerOptions, store: ContentStore,
                 recorder: OpenRecorder) -> None:
        self.options = options
        self.store = store
        self.recorder = recorder
        self.keys = KeyCheck(options.header_key_name, options.key)
        self.refused = 0  # key refusals so far: the first and every 100th are logged

    def admit(self, scope: Scope) -> Response | str:
        """The refusal for this request, or the citizen's fiscal code it may read as.

        One pass over the raw headers (the first of a repeated header counts, as in
        Starlette's ``Headers.get``); names are lower case, as ASGI servers deliver them.
        """
        key_header = self.keys.raw_header
        key = fiscal_code = None
        for name, value in scope["headers"]:
            if name == key_header:
                if key is None:
                    key = value
            elif name == b"fiscal_code" and fiscal_code is None:
                fiscal_code = value
        refused = self.keys.refusal(key)
        if refused is not None:
            self._key_refused(refused)
            return _REFUSED[refused]
        if fiscal_code is None or not FISCAL_CODE.fullmatch(fiscal_code):
            return _BAD_FISCAL_CODE
        if self.options.lollipop is not LollipopMode.OFF:
            request = Request(scope)
            verdict = lollipop.verify(request.method, signed_url(scope), request.headers)
            if (verdict.present and not verdict.valid) or (
                    not verdict.present and self.options.lollipop is LollipopMode.REQUIRED):
                log.warning("content_lollipop_refused", path=request.url.path,
                            reason=verdict.reason)
                return _REFUSED[403]
        return fiscal_code.decode("ascii")

    def _key_refused(self, status: int) -> None:
        """Say on the ente's side why IO (or someone) is refused, without flooding the log:
        a wrong key or header name at IO's configuration makes every open fail."""
        self.refused += 1
        if self.refused == 1 or self.refused % 100 == 0:
            log.warning("content_key_refused", status=status, refusals=self.refused,
                        header=self.keys.header,
                        reason="no key header" if status == 401 else "wrong key",
                        advice="the configuration's header_key_name and key must match "
                        "--header-key-name and IO_CONTENT_KEY")

    def details_answer(self, scope: Scope, third_party_id: str) -> Response | bytes:
        """The refusal, or the details document IO receives (the store made it once)."""
        admitted = self.admit(scope)
        if isinstance(admitted, Response):
            return admitted
        document = self.store.details_document(third_party_id, admitted)
        return _NOT_FOUND if document is None else document

    def _message(self, request: Request) -> Response | StoredMessage:
        admitted = self.admit(request.scope)
        if isinstance(admitted, Response):
            return admitted
        found = self.store.lookup(request.path_params["id"], admitted)
        return _NOT_FOUND if found is None else found

    def opened(self, method: str, third_party_id: str, attachment_id: str | None,
               kind: OpenKind) -> None:
        """Record an open; a HEAD (Starlette answers it on every GET route) reads nothing."""
        if method == "GET":
            self.recorder.add(third_party_id, attachment_id, kind, self.options.clock())

    async def details(self, request: Request) -> Response:
        """The details route inside Starlette: what :class:`DetailsRoute` leaves to it
        (HEAD, a scope with a ``root_path``); the same answer from the same code."""
        tid = request.path_params["id"]
        answer = self.details_answer(request.scope, tid)
        if isinstance(answer, Response):
            return answer
        self.opened(request.method, tid, None, OpenKind.DETAILS)
        return Response(answer, 200, media_type="application/json")

    async def precondition(self, request: Request) -> Response:
        found = self._message(request)
        if isinstance(found, Response):
            return found
        precondition = found.content.precondition
        if precondition is None:
            return problem(404, "Not Found", "this message has no precondition")
        self.opened(request.method, found.content.third_party_id, None, OpenKind.PRECONDITION)
        return Response(precondition_document(precondition), 200,
                        media_type="application/json")

    async def attachment(self, request: Request) -> Response:
        found = self._message(request)
        if isinstance(found, Response):
            return found
        attachment = found.attachment(request.path_params["attachment_url"])
        if attachment is None:
            return problem(404, "Not Found", "this message has no attachment at this url")
        try:
            chunks = self.store.attachment_chunks(attachment.sha256)
        except BlobUnavailable as exc:
            log.warning("content_attachment_unavailable", error=str(exc))
            return problem(503, "Service Unavailable", "the attachment cannot be read right "
                           "now; retry later", {"Retry-After": str(self.options.retry_after_s)})
        self.opened(request.method, found.content.third_party_id, attachment.id,
                    OpenKind.ATTACHMENT)
        headers = {"Content-Length": str(attachment.size)}
        if attachment.size <= WHOLE_IN_MEMORY:
            return Response(b"".join(chunks), 200, headers,
                            media_type="application/octet-stream")
        return StreamingResponse(_guarded(chunks), 200, headers,
                                 media_type="application/octet-stream")

    async def ready(self, request: Request) -> Response:
        try:
            messages = self.store.count()
        except Exception as exc:
            log.error("content_store_not_ready", error=str(exc))
            return problem(503, "Service Unavailable", "the content store cannot be read")
        return _json({"status": "ready", "messages": messages})


def _guarded(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """A failure mid-stream ends the connection (IO sees a short body and retries)."""
    try:
        yield from chunks
    except BlobUnavailable as exc:
        log.warning("content_attachment_interrupted", error=str(exc))
        raise


async def _not_found(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 404
    if status == 404:
        return problem(404, "Not Found", "no such path")
    return _empty(status)


async def _internal_error(request: Request, exc: Exception) -> Response:
    log.error("content_server_error", path=request.url.path, error=type(exc).__name__,
              exc_info=exc)
    return _INTERNAL_ERROR


class DetailsRoute:
    """ASGI: answers ``GET /messages/{id}`` itself; anything else goes on to ``app``.

    The path is matched as Starlette matches ``/messages/{id}`` (one non-empty segment), and
    only in a scope without a ``root_path`` (ours never has one: :class:`StripPrefix` serves
    the proxy's prefix), so the route table's answer cannot differ from this one. A fault is
    the same 500 ProblemJson as Starlette's handler gives, logged the same way.
    """

    PREFIX = "/messages/"

    def __init__(self, app: ASGIApp, handlers: _Handlers) -> None:
        self.app = app
        self.handlers = handlers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET" or scope.get("root_path"):
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        tid = path[len(self.PREFIX):]
        if not path.startswith(self.PREFIX) or not tid or "/" in tid:
            await self.app(scope, receive, send)
            return
        try:
            answer = self.handlers.details_answer(scope, tid)
        except Exception as exc:
            log.error("content_server_error", path=path, error=type(exc).__name__,
                      exc_info=exc)
            answer = _INTERNAL_ERROR
        if isinstance(answer, Response):
            await answer(scope, receive, send)
            return
        self.handlers.opened("GET", tid, None, OpenKind.DETAILS)
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", b"%d" % len(answer)), _JSON_TYPE]})
        await send({"type": "http.response.body", "body": answer})


def create_app(options: ServerOptions) -> ASGIApp:
    """The content server's ASGI app, its store open and its open recorder started.

    Raises :class:`~dispatcher.content.store.ContentStoreError` when the store cannot be
    opened and ``ConfigError`` for a bad key or header name, before anything is served.
    Served with the lifespan on, its shutdown writes the queued opens and closes the store.
    From the outside in: the proxy prefix, the in-flight limit, the details route, Starlette.
    """
    store = ContentStore.open(options.store_path)
    try:
        handlers = _Handlers(options, store, OpenRecorder(options.store_path))
    except BaseException:
        store.close()
        raise
    handlers.recorder.start()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            handlers.recorder.stop()
            store.close()

    routed = Starlette(
        routes=[
            Route("/ready", handlers.ready, methods=["GET"]),
            Route("/messages/{id}", handlers.details, methods=["GET"]),
            Route("/messages/{id}/precondition", handlers.precondition, methods=["GET"]),
            Route("/messages/{id}/{attachment_url:path}", handlers.attachment, methods=["GET"]),
        ],
        exception_handlers={HTTPException: _not_found, Exception: _internal_error},
        lifespan=lifespan,
    )
    routed.router.redirect_slashes = False  # IO does not follow redirects
    app: ASGIApp = InFlightLimit(DetailsRoute(routed, handlers), limit=options.max_in_flight)
    if options.root_path:
        app = StripPrefix(app, prefix=options.root_path)
    return app
