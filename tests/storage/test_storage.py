"""Private files and folders, and SQLite opened the project's way (dispatcher.storage)."""

from __future__ import annotations

import os
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from dispatcher.storage import (
    StorageError,
    open_database,
    private_file,
    private_folder,
    write_atomically,
)

SCHEMA = "CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, text TEXT NOT NULL);"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The worst a cron job can do: every file it creates readable and writable by all."""
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


def test_created_folders_are_0700_and_an_existing_parent_keeps_its_mode(
    tmp_path: Path, open_umask: None
) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o775)
    made = private_folder(shared / "tari.dispatcher" / "reports")
    assert made == shared / "tari.dispatcher" / "reports" and made.is_dir()
    assert mode(shared / "tari.dispatcher") == 0o700
    assert mode(made) == 0o700
    assert mode(shared) == 0o775  # not ours to tighten
    private_folder(made)  # already there: nothing to do, nothing changed
    assert mode(made) == 0o700


def test_private_file_is_created_0600_and_an_open_file_is_tightened(
    tmp_path: Path, open_umask: None
) -> None:
    created = private_file(tmp_path / "new" / "ledger.sqlite.lock")
    assert mode(created) == 0o600 and mode(created.parent) == 0o700
    loose = tmp_path / "loose.csv"
    loose.write_text("data")
    os.chmod(loose, 0o664)
    private_file(loose)
    assert mode(loose) == 0o600 and loose.read_text() == "data"  # never truncated


def test_a_database_and_its_sidecars_are_0600(tmp_path: Path, open_umask: None) -> None:
    path = tmp_path / "c.dispatcher" / "ledger.sqlite"
    with open_database(path, schema=SCHEMA) as db:
        db.execute("INSERT INTO notes (text) VALUES ('RSSMRA85T10A562S')")
        sidecars = [path.with_name(path.name + s) for s in ("-wal", "-shm")]
        assert all(s.exists() for s in sidecars)  # WAL: both are there while it is open
        for file in (path, *sidecars):
            assert mode(file) == 0o600, file.name
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert db.execute("PRAGMA busy_timeout").fetchone() == (5000,)
        assert db.execute("PRAGMA synchronous").fetchone() == (2,)  # FULL
    assert mode(path.parent) == 0o700


def test_a_transaction_rolls_back_on_any_exception(tmp_path: Path) -> None:
    with open_database(tmp_path / "n.sqlite", schema=SCHEMA) as db:
        with pytest.raises(RuntimeError), db.transaction():
            db.execute("INSERT INTO notes (text) VALUES ('lost')")
            raise RuntimeError("boom")
        with pytest.raises(KeyboardInterrupt), db.transaction():  # cancellation too
            db.execute("INSERT INTO notes (text) VALUES ('lost too')")
            raise KeyboardInterrupt
        with db.transaction():
            db.execute("INSERT INTO notes (text) VALUES ('kept')")
        assert db.execute("SELECT text FROM notes").fetchall() == [("kept",)]


def test_reading_a_missing_database_creates_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such.sqlite"
    with pytest.raises(StorageError, match=str(missing)):
        open_database(missing, schema=None, read_only=True)
    assert list(tmp_path.iterdir()) == []


def test_a_read_only_database_is_never_written(tmp_path: Path) -> None:
    path = tmp_path / "archive.sqlite"
    with sqlite3.connect(path) as plain:  # another program's file, rollback journal
        plain.executescript(SCHEMA + "INSERT INTO notes (text) VALUES ('old');")
    plain.close()
    before = path.read_bytes()
    with open_database(path, schema=None, read_only=True) as db:
        assert db.read_only and db.execute("SELECT text FROM notes").fetchall() == [("old",)]
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            db.execute("INSERT INTO notes (text) VALUES ('new')")
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["archive.sqlite"]


def test_a_file_that_is_not_a_database_is_a_storage_error_naming_it(tmp_path: Path) -> None:
    junk = tmp_path / "tari.csv"
    junk.write_text("codice_fiscale;importo\n" * 200)
    for read_only in (False, True):
        with pytest.raises(StorageError) as raised:
            open_database(junk, schema=None if read_only else SCHEMA, read_only=read_only)
        assert str(junk) in str(raised.value) and raised.value.path == junk
        assert "not a usable SQLite database" in raised.value.reason
    assert junk.read_text().startswith("codice_fiscale")


def test_a_database_that_cannot_be_created_is_a_storage_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with pytest.raises(StorageError, match="cannot create the database"):
        open_database(blocker / "ledger.sqlite", schema=SCHEMA)


def test_an_atomic_write_is_private_and_replaces_the_whole_file(
    tmp_path: Path, open_umask: None
) -> None:
    target = tmp_path / "reports" / "summary.json"
    write_atomically(target, "{}\n")
    write_atomically(target, '{"rows": 3}\n')
    assert target.read_text() == '{"rows": 3}\n'
    assert mode(target) == 0o600 and mode(target.parent) == 0o700
    assert [p.name for p in target.parent.iterdir()] == ["summary.json"]  # no temporary left
    public = tmp_path / "textfile" / "dispatcher.prom"
    write_atomically(public, "dispatcher_rows 1\n", mode=0o644)
    assert mode(public) == 0o644  # node_exporter runs as another user: so is its folder
    assert mode(public.parent) & 0o055 == 0o055
