"""The content store: what the content server answers IO, kept per service for months.

Why its own database, beside the send journal: ``run`` registers a row's remote content
*before* its submit (the citizen may open the message seconds later), and the server must
answer every open for as long as the message lives in the app, long after the campaign's
ledger was archived. One SQLite file per service, opened through :mod:`dispatcher.storage`
(WAL, 0600), so the server reads while a run registers.

What it keeps, per third-party id:

* the recipient, as HMAC-SHA256 of the fiscal code under a random secret made when the store
  was created and kept in it. The store never needs the plain code: IO sends it with every
  call and the server compares keyed hashes. The secret defeats precomputed tables and makes
  two stores unlinkable; someone holding a copy of the whole file can still try every code
  against its secret (the file also holds the texts themselves: guard it as you guard them);
* the remote subject and markdown, the precondition, the attachments' metadata;
* attachment bytes once per SHA-256 (one PDF sent to 80,000 citizens is one row), read from
  :attr:`Attachment.source` and checked against the hash the campaign room computed;
* every open (time, message, which attachment), the read signal the report shows.

A third-party id names one message for one recipient: registering it again with the same
recipient and content is a no-op (a resumed run), anything else is :class:`ContentConflict`.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import secrets
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path

from dispatcher.content.documents import details_document
from dispatcher.content.model import Attachment, Precondition, RemoteContent
from dispatcher.content.records import (
    BlobUnavailable,
    ContentConflict,
    ContentStoreError,
    OpenKind,
    OpenSummary,
    PruneResult,
    StoredMessage,
    check_item,
    content_hash,
)
from dispatcher.storage import Database, StorageError, open_database, private_folder

__all__ = [
    "BlobUnavailable",
    "ContentConflict",
    "ContentStore",
    "ContentStoreError",
    "OpenKind",
    "OpenSummary",
    "PruneResult",
    "StoredMessage",
]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS messages (
    third_party_id TEXT PRIMARY KEY,
    recipient BLOB NOT NULL,           -- HMAC-SHA256(meta.recipient_secret, fiscal code)
    content_hash TEXT NOT NULL,        -- sha256 of the canonical content: detects a change
    subject TEXT,
    markdown TEXT,
    precondition_title TEXT,
    precondition_markdown TEXT,
    details_json BLOB NOT NULL,        -- the details answer, made once (documents.py)
    registered_at REAL NOT NULL        -- unix seconds, UTC
);
CREATE INDEX IF NOT EXISTS messages_by_age ON messages (registered_at);
CREATE TABLE IF NOT EXISTS blobs (
    sha256 TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    data BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS attachments (
    third_party_id TEXT NOT NULL REFERENCES messages ON DELETE CASCADE,
    position INTEGER NOT NULL,
    id TEXT NOT NULL,
    name TEXT NOT NULL,
    url TEXT NOT NULL,
    content_type TEXT NOT NULL,
    category TEXT NOT NULL,
    sha256 TEXT NOT NULL REFERENCES blobs,
    size INTEGER NOT NULL,
    PRIMARY KEY (third_party_id, position)
);
CREATE INDEX IF NOT EXISTS attachments_by_blob ON attachments (sha256);
CREATE TABLE IF NOT EXISTS opens (
    third_party_id TEXT NOT NULL,      -- kept after a prune: the report may still ask
    attachment_id TEXT,
    kind TEXT NOT NULL,                -- details | precondition | attachment
    at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS opens_by_id ON opens (third_party_id, at);
"""

_CHUNK = 256 * 1024
_IDS_PER_QUERY = 500  # well under SQLite's bound-parameter limit
_OPENS_PER_STATEMENT = 240  # 4 values each: under the oldest SQLite's limit of 999
_INSERT_OPENS = "INSERT INTO opens (third_party_id, attachment_id, kind, at) VALUES "
_KIND_VALUES = {kind: kind.value for kind in OpenKind}  # finds a member or its plain value


def _epoch(moment: datetime, what: str) -> float:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware (got {moment!r})")
    return moment.timestamp()


def _moment(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


class ContentStore:
    """The content store of one service. Thread-safe: one connection behind a lock.

    The server opens one store for its lookups (on the event loop) and another for writing
    opens (on a background thread), so a slow commit never delays an answer.
    """

    def __init__(self, db: Database) -> None:
        self._db = db
        self._lock = threading.Lock()
        self._reader = db.connection.cursor()  # the details lookup's, reused (under the lock)
        self.path = db.path
        self._secret = self._recipient_secret()

    @classmethod
    def open(cls, path: Path) -> ContentStore:
        """Open (creating if needed, 0600 in a 0700 folder) the store at ``path``."""
        path = Path(path)
        try:
            private_folder(path.parent)
            db = open_database(path, schema=_SCHEMA)
        except (StorageError, OSError) as exc:
            raise ContentStoreError(f"content store {path}: {exc}") from None
        with db.closed_on_error():
            db.execute("PRAGMA foreign_keys = ON")
            # every open is a random row: keep up to 64 MiB of pages rather than SQLite's 2
            db.execute("PRAGMA cache_size = -65536")
            if db.execute("SELECT count(*) FROM meta").fetchone()[0] == 0:
                # a new file: let a prune give freed pages back to the disk (months of PDFs)
                db.execute("PRAGMA auto_vacuum = INCREMENTAL")
                db.execute("VACUUM")
            return cls(db)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> ContentStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _recipient_secret(self) -> bytes:
        with self._lock, self._db.transaction() as db:
            db.execute("INSERT OR IGNORE INTO meta (name, value) VALUES ('recipient_secret', ?)",
                       (secrets.token_bytes(32),))
            (value,) = db.execute(
                "SELECT value FROM meta WHERE name = 'recipient_secret'").fetchone()
        return bytes(value)

    def recipient_key(self, fiscal_code: str) -> bytes:
        """The keyed hash the store keeps instead of ``fiscal_code`` (upper-cased first)."""
        return hmac.digest(self._secret, fiscal_code.strip().upper().encode(), "sha256")

    # -- registering -------------------------------------------------------------------

    def register(self, items: Iterable[tuple[str, RemoteContent]], *,
                 registered_at: datetime) -> None:
        """Store each (fiscal code, content) pair, all or nothing, in one transaction.

        Attachment bytes the store lacks are read from their ``source`` first (outside the
        write lock) and must match the attachment's SHA-256 and size: a file changed after
        validation is refused, never stored in place of the one that was checked.
        """
        at = _epoch(registered_at, "registered_at")
        batch = [(fiscal_code, content) for fiscal_code, content in items]
        for fiscal_code, content in batch:
            check_item(fiscal_code, content)
        blobs = self._read_missing_blobs([a for _, c in batch for a in c.attachments])
        with self._lock, self._db.transaction() as db:
            db.executemany("INSERT OR IGNORE INTO blobs (sha256, size, data) VALUES (?, ?, ?)",
                           [(sha, len(data), data) for sha, data in blobs.items()])
            for fiscal_code, content in batch:
                self._register_one(db, self.recipient_key(fiscal_code), content, at)

    def _register_one(self, db: Database, recipient: bytes, content: RemoteContent,
                      at: float) -> None:
        digest = content_hash(content)
        found = db.execute("SELECT recipient, content_hash FROM messages "
                           "WHERE third_party_id = ?", (content.third_party_id,)).fetchone()
        if found is not None:
            if not hmac.compare_digest(bytes(found[0]), recipient):
                raise ContentConflict(
                    f"third_party_id {content.third_party_id!r} is already registered for "
                    "another recipient: an id identifies one message for one citizen")
            if found[1] != digest:
                raise ContentConflict(
                    f"third_party_id {content.third_party_id!r} is already registered with "
                    "other content: give changed content a new id")
            return
        precondition = content.precondition
        db.execute(
            "INSERT INTO messages (third_party_id, recipient, content_hash, subject, markdown, "
            "precondition_title, precondition_markdown, details_json, registered_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (content.third_party_id, recipient, digest, content.subject, content.markdown,
             None if precondition is None else precondition.title,
             None if precondition is None else precondition.markdown,
             details_document(content), at))
        try:
            db.executemany(
                "INSERT INTO attachments (third_party_id, position, id, name, url, "
                "content_type, category, sha256, size) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(content.third_party_id, position, a.id, a.name, a.url, a.content_type,
                  a.category, a.sha256, a.size)
                 for position, a in enumerate(content.attachments)])
        except sqlite3.IntegrityError:  # the blob is not there: no source to read it from
            missing = [a.name for a in content.attachments if a.source is None]
            raise ContentStoreError(
                f"third_party_id {content.third_party_id!r}: the bytes of "
                f"{', '.join(missing) or 'an attachment'} are not in the store and the "
                "attachment names no file to read them from") from None

    def _read_missing_blobs(self, attachments: Sequence[Attachment]) -> dict[str, bytes]:
        wanted = {a.sha256: a for a in attachments}
        with self._lock:
            present = {sha for chunk in _chunks(list(wanted)) for (sha,) in self._db.execute(
                f"SELECT sha256 FROM blobs WHERE sha256 IN ({_marks(chunk)})", chunk)}
        found: dict[str, bytes] = {}
        for sha, attachment in wanted.items():
            if sha in present or attachment.source is None:
                continue
            try:
                data = Path(attachment.source).read_bytes()
            except OSError as exc:
                raise ContentStoreError(
                    f"attachment {attachment.name} ({attachment.source}): cannot be read "
                    f"({exc.strerror})") from None
            if hashlib.sha256(data).hexdigest() != sha or len(data) != attachment.size:
                raise ContentStoreError(
                    f"attachment {attachment.name} ({attachment.source}) changed since it was "
                    "validated (its SHA-256 or size differs): validate the campaign again")
            found[sha] = data
        return found

    # -- reading -----------------------------------------------------------------------

    def lookup(self, third_party_id: str, fiscal_code: str) -> StoredMessage | None:
        """The message, or None when the id is unknown *or* belongs to someone else.

        The two are one answer on purpose: the server must not tell a caller which ids exist.
        """
        recipient = self.recipient_key(fiscal_code)
        with self._lock:  # one statement: this is every answer's cost
            rows = self._db.execute(
                "SELECT m.recipient, m.subject, m.markdown, m.precondition_title, "
                "m.precondition_markdown, m.registered_at, a.id, a.name, a.url, "
                "a.content_type, a.category, a.sha256, a.size FROM messages m "
                "LEFT JOIN attachments a ON a.third_party_id = m.third_party_id "
                "WHERE m.third_party_id = ? ORDER BY a.position", (third_party_id,)).fetchall()
        if not rows or not hmac.compare_digest(bytes(rows[0][0]), recipient):
            return None
        _, subject, markdown, p_title, p_markdown, at = rows[0][:6]
        attachments = tuple(
            Attachment(id=a_id, name=name, sha256=sha, size=size, url=url,
                       content_type=content_type, category=category)
            for a_id, name, url, content_type, category, sha, size in (r[6:] for r in rows)
            if a_id is not None)
        precondition = None if p_title is None else Precondition(p_title, p_markdown)
        content = RemoteContent(third_party_id, subject, markdown, precondition, attachments)
        return StoredMessage(content, _moment(at))

    def details_document(self, third_party_id: str, fiscal_code: str) -> bytes | None:
        """The details answer as IO receives it, or None exactly when :meth:`lookup` is.

        One row read and no rebuild: this is what every open of a message costs.
        """
        recipient = self.recipient_key(fiscal_code)
        with self._lock:
            row = self._reader.execute(
                "SELECT recipient, details_json FROM messages WHERE third_party_id = ?",
                (third_party_id,)).fetchone()
        if row is None or not hmac.compare_digest(bytes(row[0]), recipient):
            return None
        return bytes(row[1])

    def attachment_chunks(self, sha256: str, *, chunk_size: int = _CHUNK) -> Iterator[bytes]:
        """The bytes of one attachment, in chunks, straight from SQLite's blob handle.

        The first chunk is read before this returns, so a busy or failing store raises
        :class:`BlobUnavailable` while the server can still answer 503.
        """
        try:
            with self._lock:
                row = self._db.execute("SELECT rowid FROM blobs WHERE sha256 = ?",
                                       (sha256,)).fetchone()
                if row is None:
                    raise BlobUnavailable(f"attachment {sha256[:12]}… is not in the store")
                blob = self._db.connection.blobopen("blobs", "data", row[0], readonly=True)
                first = blob.read(chunk_size)
        except sqlite3.Error as exc:
            raise BlobUnavailable(f"attachment {sha256[:12]}…: {exc}") from None
        return self._rest(blob, first, chunk_size)

    def _rest(self, blob: sqlite3.Blob, first: bytes, chunk_size: int) -> Iterator[bytes]:
        try:
            chunk = first
            while chunk:
                yield chunk
                with self._lock:
                    chunk = blob.read(chunk_size)
        finally:
            with self._lock:
                blob.close()

    # -- opens -------------------------------------------------------------------------

    def record_open(self, third_party_id: str, attachment_id: str | None, kind: OpenKind,
                    at: datetime) -> None:
        """Record one open (the server batches them: :meth:`record_opens`)."""
        self.record_opens([(third_party_id, attachment_id, kind, at)])

    def record_opens(self, opens: Sequence[tuple[str, str | None, OpenKind, datetime | float]]
                     ) -> None:
        """Record many opens in one transaction; a time is a datetime or unix seconds (what
        the server's clock gives: no datetime made per request).

        Many rows per statement rather than ``executemany``: the sqlite3 module lets go of
        the GIL around every step, ``executemany`` steps once per row, and the server's
        event loop and its recorder thread then passed the GIL to each other thousands of
        times a second (``bench/bench_content.py``: some 5 µs of server CPU per details
        request).
        """
        rows = [(tid, aid, _KIND_VALUES.get(kind) or OpenKind(kind).value,
                 at if isinstance(at, float) else _epoch(at, "at"))
                for tid, aid, kind, at in opens]
        if not rows:
            return
        with self._lock, self._db.transaction() as db:
            for start in range(0, len(rows), _OPENS_PER_STATEMENT):
                chunk = rows[start:start + _OPENS_PER_STATEMENT]
                db.execute(_INSERT_OPENS + ", ".join(["(?, ?, ?, ?)"] * len(chunk)),
                           list(itertools.chain.from_iterable(chunk)))

    def opens(self, ids: Iterable[str] | None = None) -> dict[str, OpenSummary]:
        """Per opened id, its :class:`OpenSummary`; an id never opened is absent."""
        select = (
            "SELECT third_party_id, min(at), max(at), "
            "sum(kind = 'details'), sum(kind = 'precondition'), sum(kind = 'attachment'), "
            "count(DISTINCT attachment_id) FROM opens {where} GROUP BY third_party_id")
        with self._lock:
            if ids is None:
                rows = self._db.execute(select.format(where="")).fetchall()
            else:
                rows = [row for chunk in _chunks(list(dict.fromkeys(ids)))
                        for row in self._db.execute(select.format(
                            where=f"WHERE third_party_id IN ({_marks(chunk)})"), chunk)]
        return {tid: OpenSummary(_moment(first), _moment(last), details, preconditions,
                                 downloads, distinct)
                for tid, first, last, details, preconditions, downloads, distinct in rows}

    # -- pruning -----------------------------------------------------------------------

    def prune(self, before: datetime) -> PruneResult:
        """Remove messages registered before ``before`` and the bytes no message uses any more.

        Each message removed can no longer be opened in the app (IO gets a 404): the count is
        what the operator must be told. Opens are kept for the reports.
        """
        cutoff = _epoch(before, "before")
        with self._lock, self._db.transaction() as db:
            messages = db.execute("DELETE FROM messages WHERE registered_at < ?",
                                  (cutoff,)).rowcount
            orphans = "FROM blobs WHERE sha256 NOT IN (SELECT sha256 FROM attachments)"
            blobs, freed = db.execute(f"SELECT count(*), coalesce(sum(size), 0) {orphans}"
                                      ).fetchone()
            db.execute(f"DELETE {orphans}")
        with self._lock:
            self._db.execute("PRAGMA incremental_vacuum")
        return PruneResult(messages, blobs, freed)

    def count(self) -> int:
        """How many messages the store can serve."""
        with self._lock:
            (n,) = self._db.execute("SELECT count(*) FROM messages").fetchone()
        return int(n)


def _chunks(values: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(values), _IDS_PER_QUERY):
        yield values[start:start + _IDS_PER_QUERY]


def _marks(values: Sequence[object]) -> str:
    return ", ".join("?" * len(values))
