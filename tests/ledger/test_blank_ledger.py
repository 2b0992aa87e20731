"""A ledger file a ``kill -9`` left half-created is no one's ledger: a run takes it as new."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from dispatcher.ledger import Ledger
from dispatcher.ledger.reading import is_blank
from dispatcher.ledger.schema import SCHEMA


def test_an_empty_file_and_unstamped_tables_are_blank(tmp_path: Path) -> None:
    empty = tmp_path / "empty.sqlite"
    empty.write_bytes(b"")
    assert is_blank(empty)
    unstamped = tmp_path / "unstamped.sqlite"
    with sqlite3.connect(unstamped) as db:  # the schema ran, its version was never written
        db.executescript(SCHEMA)
    assert is_blank(unstamped)
    with Ledger.open(unstamped) as ledger:  # opening for writing finishes the creation
        ledger.campaigns.begin(input_path="c.csv", input_sha256="f" * 64,
                               template_sha256=None, encoding=None)
    assert not is_blank(unstamped)


def test_a_real_ledger_and_a_missing_file_are_not_blank(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    assert not is_blank(path)
    with Ledger.open(path):
        pass
    assert not is_blank(path)  # stamped, even without a campaign
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as db:
        db.execute("CREATE TABLE notes (x)")
        db.execute("INSERT INTO notes VALUES (1)")
    assert not is_blank(other)  # another program's database: never taken for a new ledger
