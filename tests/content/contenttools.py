"""Helpers for the content tests: real PDFs on disk, registered content, a served store."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import anyio
import httpx
from starlette.types import ASGIApp, Message

from dispatcher.content.model import Attachment, Precondition, RemoteContent
from dispatcher.content.server import LollipopMode, ServerOptions
from dispatcher.content.serving import Listen, running_content_server
from dispatcher.content.store import ContentStore
from dispatcher.settings import Secret

KEY = "content-key-0123456789abcdef"
CITIZEN = "RSSMRA80A01H501U"
OTHER_CITIZEN = "BNCGPP75C41F205X"
SUBJECT = "Avviso TARI 2027 del Comune"
MARKDOWN = ("Gentile contribuente, in allegato trova l'avviso di pagamento della TARI 2027 "
            "con il dettaglio degli importi dovuti e delle scadenze.")
REGISTERED = datetime(2026, 1, 10, 9, 0, tzinfo=UTC)  # in the past: prune refuses the future


def write_pdf(path: Path, size: int = 4096, *, marker: bytes = b"") -> Path:
    """A file that starts like a PDF (IO checks only the magic bytes); ``size`` bytes."""
    head = b"%PDF-1.7\n%" + marker + b"\n"
    path.write_bytes(head + bytes(i % 251 for i in range(max(0, size - len(head)))))
    return path


def attachment_for(path: Path, *, id: str = "avviso", url: str | None = None) -> Attachment:
    data = path.read_bytes()
    return Attachment(id=id, name=f"{id}.pdf", sha256=hashlib.sha256(data).hexdigest(),
                      size=len(data), url=url or f"{id}.pdf", source=path)


def content(tid: str, *attachments: Attachment, precondition: bool = True,
            subject: str = SUBJECT) -> RemoteContent:
    return RemoteContent(
        third_party_id=tid, subject=subject, markdown=MARKDOWN,
        precondition=Precondition("Prima di aprire", "Il messaggio contiene dati personali.")
        if precondition else None,
        attachments=attachments)


def headers(fiscal_code: str = CITIZEN, key: str | None = KEY,
            header: str = "X-Functions-Key") -> dict[str, str]:
    found = {"fiscal_code": fiscal_code}
    if key is not None:
        found[header] = key
    return found


@contextlib.contextmanager
def served(store_path: Path, *, lollipop: LollipopMode = LollipopMode.OFF,
           header_key_name: str = "X-Functions-Key", root_path: str = "",
           max_in_flight: int = 512) -> Iterator[httpx.Client]:
    """The content server on loopback, and a client pointed at it (root path included)."""
    options = ServerOptions(store_path=store_path, key=Secret(KEY),
                            header_key_name=header_key_name, lollipop=lollipop,
                            max_in_flight=max_in_flight, root_path=root_path)
    with running_content_server(options, Listen(port=0)) as server, \
            httpx.Client(base_url=server.url + root_path, follow_redirects=False) as client:
        yield client


@contextlib.asynccontextmanager
async def lifespan(app: ASGIApp) -> AsyncIterator[None]:
    """Run ``app``'s ASGI lifespan around the block, as uvicorn does (startup, shutdown)."""
    to_app, app_inbox = anyio.create_memory_object_stream[Message](1)
    app_outbox, from_app = anyio.create_memory_object_stream[Message](1)
    scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
    async with anyio.create_task_group() as tg, to_app, from_app:
        tg.start_soon(app, scope, app_inbox.receive, app_outbox.send)
        await to_app.send({"type": "lifespan.startup"})
        assert (await from_app.receive())["type"] == "lifespan.startup.complete"
        try:
            yield
        finally:
            await to_app.send({"type": "lifespan.shutdown"})
            assert (await from_app.receive())["type"] == "lifespan.shutdown.complete"


def registered_store(path: Path, pdf: Path) -> Path:
    """A store with message M-1 (precondition, one attachment) and M-2 (neither) for
    :data:`CITIZEN`, and M-3 for :data:`OTHER_CITIZEN`."""
    with ContentStore.open(path) as store:
        store.register([
            (CITIZEN, content("M-1", attachment_for(pdf))),
            (CITIZEN, content("M-2", precondition=False)),
            (OTHER_CITIZEN, content("M-3", attachment_for(pdf))),
        ], registered_at=REGISTERED)
    return path
