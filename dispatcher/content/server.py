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
(:class:`OpenRecorder`): a commit per request would put a disk flush in every answer.
"""

from __future__ import annotations

import collections
import contextlib
import re
import threading
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
from dispatcher.content.store import BlobUnavailable, ContentStore, OpenKind, StoredMessage
from dispatcher.settings import Secret

__all__ = ["LollipopMode", "OpenRecorder", "ServerOptions", "create_app"]

log = structlog.get_logger("dispatcher.content")

# The spec's pattern for the ``fiscal_code`` header, whole (the spec leaves it unanchored).
FISCAL_CODE = re.compile(
    r"[A-Z]{6}[0-9LMNPQRSTUV]{2}[ABCDEHLMPRST][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z]")
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


# -- the open recorder -------------------------------------------------------------------------


class OpenRecorder:
    """Opens collected by the handlers and written by one thread, in batches, on its own
    connection. An open lost to a crash is a missed read signal, never a missed answer.

    The handlers only append to a deque (atomic, no lock, no wake-up); the thread wakes
    every ``interval_s``, takes what is there and writes it in one transaction.
    """

    def __init__(self, store_path: Path, *, interval_s: float = 0.25) -> None:
        self._store_path = store_path
        self._pending: collections.deque[tuple[str, str | None, OpenKind, float]] = (
            collections.deque())
        self._interval = interval_s
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, third_party_id: str, attachment_id: str | None, kind: OpenKind,
            at: float) -> None:
        self._pending.append((third_party_id, attachment_id, kind, at))

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="content-opens", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Write what is pending and end the thread."""
        if self._thread is not None:
            self._stopping.set()
            self._thread.join(timeout=30)
            self._thread = None

    def _run(self) -> None:
        with ContentStore.open(self._store_path) as store:
            while not self._stopping.wait(self._interval):
                self._write(store)
            self._write(store)

    def _write(self, store: ContentStore) -> None:
        batch = []
        while self._pending:
            batch.append(self._pending.popleft())
        if not batch:
            return
        try:
            store.record_opens(batch)
        except Exception as exc:  # the log says so; serving goes on
            log.error("content_opens_not_recorded", opens=len(batch), error=str(exc))


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
                scope = {**scope, "path": path[len(self.prefix):],
                         "raw_path": path[len(self.prefix):].encode()}
        await self.app(scope, receive, send)


# -- the app -----------------------------------------------------------------------------------


class _Handlers:
    def __init__(self, options: ServerOptions, store: ContentStore,
                 recorder: OpenRecorder) -> None:
        self.options = options
        self.store = store
        self.recorder = recorder
        self.keys = KeyCheck(options.header_key_name, options.key)

    def _admit(self, request: Request) -> Response | str:
        """The refusal for this request, or the citizen's fiscal code it may read as."""
        headers = request.headers
        refused = self.keys.refusal(headers)
        if refused is not None:
            return _empty(refused)
        fiscal_code = headers.get("fiscal_code")
        if fiscal_code is None or not FISCAL_CODE.fullmatch(fiscal_code):
            return problem(400, "Bad Request", "the fiscal_code header must be a fiscal code "
                           "in upper case (16 characters)")
        if self.options.lollipop is not LollipopMode.OFF:
            verdict = lollipop.verify(request.method, str(request.url), headers)
            if (verdict.present and not verdict.valid) or (
                    not verdict.present and self.options.lollipop is LollipopMode.REQUIRED):
                log.warning("content_lollipop_refused", path=request.url.path,
                            reason=verdict.reason)
                return _empty(403)
        return fiscal_code

    def _message(self, request: Request) -> Response | StoredMessage:
        admitted = self._admit(request)
        if isinstance(admitted, Response):
            return admitted
        found = self.store.lookup(request.path_params["id"], admitted)
        if found is None:
            return problem(404, "Not Found", NOT_FOUND_DETAIL)
        return found

    def _opened(self, request: Request, third_party_id: str, attachment_id: str | None,
                kind: OpenKind) -> None:
        """Record an open; a HEAD (Starlette answers it on every GET route) reads nothing."""
        if request.method == "GET":
            self.recorder.add(third_party_id, attachment_id, kind, self.options.clock())

    async def details(self, request: Request) -> Response:
        admitted = self._admit(request)
        if isinstance(admitted, Response):
            return admitted
        tid = request.path_params["id"]
        document = self.store.details_document(tid, admitted)
        if document is None:
            return problem(404, "Not Found", NOT_FOUND_DETAIL)
        self._opened(request, tid, None, OpenKind.DETAILS)
        return Response(document, 200, media_type="application/json")

    async def precondition(self, request: Request) -> Response:
        found = self._message(request)
        if isinstance(found, Response):
            return found
        precondition = found.content.precondition
        if precondition is None:
            return problem(404, "Not Found", "this message has no precondition")
        self._opened(request, found.content.third_party_id, None, OpenKind.PRECONDITION)
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
        self._opened(request, found.content.third_party_id, attachment.id,
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
    return problem(500, "Internal Server Error", "the content server failed to answer")


def create_app(options: ServerOptions) -> Starlette:
    """The content server's ASGI app, its store open and its open recorder started.

    Raises :class:`~dispatcher.content.store.ContentStoreError` when the store cannot be
    opened and ``ConfigError`` for a bad key or header name, before anything is served.
    Served with the lifespan on, its shutdown writes the queued opens and closes the store.
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

    app = Starlette(
        routes=[
            Route("/ready", handlers.ready, methods=["GET"]),
            Route("/messages/{id}", handlers.details, methods=["GET"]),
            Route("/messages/{id}/precondition", handlers.precondition, methods=["GET"]),
            Route("/messages/{id}/{attachment_url:path}", handlers.attachment, methods=["GET"]),
        ],
        exception_handlers={HTTPException: _not_found, Exception: _internal_error},
        lifespan=lifespan,
    )
    app.router.redirect_slashes = False  # IO does not follow redirects
    app.add_middleware(InFlightLimit, limit=options.max_in_flight)
    if options.root_path:
        app.add_middleware(StripPrefix, prefix=options.root_path)
    app.state.recorder = handlers.recorder
    return app
