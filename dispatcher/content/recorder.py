"""Every open the content server answers, written to the store in batches by one thread.

Why a thread and batches: an open is a row in the store, and a commit per answer would put a
disk flush (and SQLite's write lock) in every request IO makes. The handlers only append to
a deque (atomic under the GIL: no lock, no wake-up, well under a microsecond); the thread
wakes every ``interval_s``, takes what is there and writes it in one transaction on its own
connection. An open lost to a crash is a missed read signal, never a missed answer.

Why once a second: each commit rewrites every index page its opens touched (opens are keyed
by message, so they land all over the index), and a longer interval lets one page carry more
of them. A second is nothing to the report (it reads opens hours later) and, with a crash,
loses at most a second of read signals.
"""

from __future__ import annotations

import collections
import threading
from pathlib import Path

import structlog

from dispatcher.content.store import ContentStore, OpenKind

__all__ = ["OpenRecorder"]

log = structlog.get_logger("dispatcher.content")


class OpenRecorder:
    """Opens collected by the handlers and written by one thread, in batches."""

    def __init__(self, store_path: Path, *, interval_s: float = 1.0) -> None:
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
