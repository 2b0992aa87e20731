"""The project's way to keep private files and SQLite databases, written once.

Everything we write holds personal data or points at it (fiscal codes, names, amounts), so a
file is created with mode 0600 and a folder we create with 0700, whatever the umask: a cron
job's ``umask 000`` must not make a ledger world-readable. A folder that already exists (``/tmp``,
the office's share) is never touched: it is not ours to tighten.

A database is SQLite in WAL mode, so a report can read while a run writes; with a busy timeout,
so a second process waits for a commit instead of failing at once; in autocommit mode, so every
transaction is an explicit ``BEGIN IMMEDIATE`` that takes the write lock up front (a deferred
transaction that upgrades later can fail with "database is locked" halfway through).

A file another program reads while we may be rewriting it (the HTML page open in a browser, the
JSON summary a monitor polls, the Prometheus textfile node_exporter scrapes) is written to a
temporary file in the same folder and renamed over the old one: a reader sees the old file or
the new one, never half of one.

Errors on opening become :class:`StorageError` with the path in the message, so a command can
print one line instead of a ``sqlite3`` traceback.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import BinaryIO, Literal

__all__ = [
    "Database",
    "StorageError",
    "atomic_writer",
    "open_database",
    "private_file",
    "private_folder",
    "write_atomically",
]

BUSY_TIMEOUT_MS = 5000
"""How long a statement waits for another connection's write lock before it gives up."""

SIDECARS = ("-wal", "-shm")
"""The files SQLite keeps next to a WAL database; they hold the same data, so the same mode."""

Synchronous = Literal["OFF", "NORMAL", "FULL", "EXTRA"]


class StorageError(Exception):
    """A file or database cannot be opened or created; the message names the path.

    ``reason`` is the message without the path, for a caller that words its own.
    """

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


# -- private files and folders -----------------------------------------------------------------


def private_folder(path: Path) -> Path:
    """``path`` as a folder, creating each missing folder with mode 0700.

    Only the folders created here get that mode (set explicitly, so the umask cannot loosen
    it); an existing folder keeps its own.
    """
    return _folders(Path(path), 0o700)


def _folders(path: Path, mode: int) -> Path:
    """Create each missing folder of ``path`` with exactly ``mode`` (never the umask's)."""
    missing: list[Path] = []
    for folder in (path, *path.parents):
        if folder.is_dir():
            break
        missing.append(folder)
    for folder in reversed(missing):
        try:
            os.mkdir(folder, mode)
        except FileExistsError:
            if not folder.is_dir():
                raise
            continue  # created by someone else meanwhile: theirs, left as it is
        os.chmod(folder, mode)
    return path


def private_file(path: Path) -> Path:
    """``path`` as a file with no access for group and others; created 0600 if missing.

    An existing file is tightened (group and other bits cleared), never loosened.

    An existing file is never opened here: on POSIX, closing *any* descriptor of a file drops
    every lock the process holds on it, SQLite's included. A second open of a database this
    process already uses (the content server's reader and its open recorder) would then leave
    the first connection unlocked, and another process closing the database would checkpoint
    and delete the WAL under it.
    """
    path = Path(path)
    private_folder(path.parent)
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        mode = stat.S_IMODE(os.stat(path).st_mode)
        if mode != mode & 0o700:
            os.chmod(path, mode & 0o700)
        return path
    try:
        os.fchmod(fd, 0o600)  # whatever the umask
    finally:
        os.close(fd)
    return path


@contextlib.contextmanager
def atomic_writer(path: Path, *, mode: int = 0o600) -> Iterator[BinaryIO]:
    """A binary stream to a temporary file next to ``path``, renamed over it on success.

    The temporary file is created 0600 (``mkstemp``), so personal data is never readable by
    others, even for a moment; ``mode`` is applied just before the rename. A missing folder is
    created private unless ``mode`` lets others read the file (the Prometheus textfile).
    """
    path = Path(path)
    # a file others may read (a Prometheus textfile) gets folders they may enter: 0755
    _folders(path.parent, 0o755 if mode & 0o077 else 0o700)
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as stream:
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def write_atomically(path: Path, data: str | bytes, *, mode: int = 0o600) -> Path:
    """Write ``data`` (text as UTF-8) atomically; see :func:`atomic_writer`."""
    with atomic_writer(path, mode=mode) as stream:
        stream.write(data.encode("utf-8") if isinstance(data, str) else data)
    return Path(path)


# -- SQLite ---------------------------------------------------------------------------------


class Database:
    """One SQLite connection and the file it belongs to.

    Statements run in autocommit mode; :meth:`transaction` groups them. The connection may be
    used from another thread than the one that opened it, one thread at a time: the caller
    serialises (the ledger has one writer task, the profile cache a lock).
    """

    def __init__(self, path: Path, connection: sqlite3.Connection, *, read_only: bool) -> None:
        self.path = path
        self.connection = connection
        self.read_only = read_only

    def execute(self, sql: str, parameters: Sequence[object] = ()) -> sqlite3.Cursor:
        return self.connection.execute(sql, parameters)

    def executemany(self, sql: str, parameters: Iterable[Sequence[object]]) -> sqlite3.Cursor:
        return self.connection.executemany(sql, parameters)

    @property
    def total_changes(self) -> int:
        """Rows changed since the connection opened: how ``executemany`` counts its effect."""
        return self.connection.total_changes

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Database]:
        """``BEGIN IMMEDIATE`` … ``COMMIT``; any exception (cancellation too) rolls back."""
        self.connection.execute("BEGIN IMMEDIATE")
        try:
            yield self
        except BaseException:
            self.connection.execute("ROLLBACK")
            raise
        self.connection.execute("COMMIT")

    @contextlib.contextmanager
    def closed_on_error(self) -> Iterator[Database]:
        """For set-up after opening: a failure closes the connection before it propagates."""
        try:
            yield self
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_database(
    path: Path,
    *,
    schema: str | None,
    read_only: bool = False,
    synchronous: Synchronous = "FULL",
) -> Database:
    """Open (creating if needed) a private WAL database and run ``schema`` on it.

    ``read_only`` opens an existing file through SQLite's ``mode=ro`` and creates nothing: no
    file, no folder, no table (``schema`` must then be None). Reading a database in WAL mode
    does need its ``-wal``/``-shm`` files; SQLite makes them if missing, with the database's
    own mode, and they hold nothing new. ``synchronous="NORMAL"`` suits a cache, where a commit
    lost to a power cut costs a repeated request, not a fact.
    """
    path = Path(path)
    if read_only:
        if schema is not None:
            raise ValueError("a read-only database cannot be given a schema")
        if not path.is_file():
            raise StorageError(path, "no such database file")
    else:
        try:
            private_file(path)
        except OSError as exc:
            raise StorageError(path, f"cannot create the database ({exc.strerror})") from None
    try:
        connection = _connect(path, read_only=read_only)
    except sqlite3.Error as exc:
        raise StorageError(path, f"cannot open the database ({exc})") from None
    try:
        connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        if read_only:
            connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
        else:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute(f"PRAGMA synchronous={synchronous}")
            if schema is not None:
                connection.executescript(schema)
    except sqlite3.Error as exc:
        connection.close()
        raise StorageError(path, f"not a usable SQLite database ({exc})") from None
    _tighten_sidecars(path)
    return Database(path, connection, read_only=read_only)


def _connect(path: Path, *, read_only: bool) -> sqlite3.Connection:
    target = path.resolve().as_uri() + "?mode=ro" if read_only else str(path)
    return sqlite3.connect(target, uri=read_only, isolation_level=None, check_same_thread=False)


def _tighten_sidecars(path: Path) -> None:
    """SQLite creates them with the database's mode; this makes sure, and never fails."""
    for sidecar in SIDECARS:
        with contextlib.suppress(OSError):
            os.chmod(path.with_name(path.name + sidecar), 0o600)
