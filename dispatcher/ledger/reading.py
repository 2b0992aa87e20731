"""Opening a ledger to read it only: what reports and metrics do.

:meth:`Ledger.open <dispatcher.ledger.Ledger.open>` creates the file, runs the schema script
and upgrades an older schema in place; right for ``run`` and ``status``, wrong for a report,
which must leave the ledger exactly as it found it (an older dispatcher may still use it, or
the file may be an archived copy). Here the connection is SQLite's read-only mode, and what an
older schema lacks is stood in for in memory only, so the books read every version alike:

* a missing table by an empty temporary one, so a version-1 ledger reads as "no status
  checked yet";
* a missing column by a temporary view of the same name over the real table (temporary
  objects come first in SQLite's name lookup), giving the column's stand-in value: a
  version-2 ledger's campaigns read as recorded, its rows as having no stored body.
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from dispatcher.ledger.records import LedgerError
from dispatcher.ledger.schema import (
    ADDED_COLUMNS,
    SCHEMA,
    SCHEMA_VERSION,
    UPGRADABLE_VERSIONS,
    schema_version,
)
from dispatcher.ledger.store import Ledger
from dispatcher.storage import Database, StorageError, open_database

LEDGER_TABLES = frozenset({"meta", "campaigns", "rows"})
"""Tables every dispatcher ledger has had since schema 1: how a ledger is recognised."""

_TABLE = re.compile(r"^CREATE TABLE IF NOT EXISTS (\w+) ")


def _table_statements() -> dict[str, str]:
    """Table name → its ``CREATE TABLE`` statement, from the schema script."""
    statements = (part.strip() for part in SCHEMA.split(";"))
    return {m.group(1): s for s in statements if (m := _TABLE.match(s))}


def is_blank(path: Path) -> bool:
    """A ledger a ``kill -9`` struck while it was being created: no table at all, or tables
    but neither a schema version nor a campaign yet. It is no one's ledger yet, so a run may
    take it as a new one (opening it for writing finishes the creation)."""
    path = Path(path)
    if not path.is_file():
        return False
    if path.stat().st_size == 0:
        return True
    try:
        db = open_database(path, schema=None, read_only=True)
    except StorageError:
        return False
    try:
        tables = {name for (name,) in db.execute(
            "SELECT name FROM sqlite_master WHERE type='table'")}
        if not tables:
            return True
        if not tables <= set(_table_statements()) or (
                "meta" in tables and schema_version(db) is not None):
            return False  # another program's database, or a ledger already stamped
        return "campaigns" not in tables or db.execute(
            "SELECT count(*) FROM campaigns").fetchone()[0] == 0
    except sqlite3.DatabaseError:
        return False
    finally:
        db.close()


def open_for_reading(path: Path) -> Ledger:
    """An existing ledger, opened read-only; raises :class:`LedgerError` for anything else.

    Nothing is created, upgraded or written: not the file, not its tables, not its version.
    """
    path = Path(path)
    if not path.is_file():
        raise LedgerError(f"{path}: no such ledger (run `dispatcher run` first)")
    try:
        db = open_database(path, schema=None, read_only=True)
    except StorageError as exc:
        raise LedgerError(f"{path} is not a dispatcher ledger ({exc.reason})") from None
    with db.closed_on_error():
        try:
            _stand_in_for_older_schemas(db)
        except sqlite3.DatabaseError as exc:
            raise LedgerError(f"{path} is not a dispatcher ledger ({exc})") from None
    return Ledger(db)


def _stand_in_for_older_schemas(db: Database) -> None:
    tables = {name for (name,) in db.execute(
        "SELECT name FROM sqlite_master WHERE type='table'")}
    if not tables >= LEDGER_TABLES:
        raise LedgerError(f"{db.path} is not a dispatcher ledger")
    version = schema_version(db)
    if version not in (SCHEMA_VERSION, *UPGRADABLE_VERSIONS):
        raise LedgerError(f"{db.path} has ledger schema {version}, expected {SCHEMA_VERSION}")
    for name, statement in _table_statements().items():
        if name not in tables:
            db.execute(statement.replace("CREATE TABLE", "CREATE TEMP TABLE", 1))
    missing: dict[str, list[str]] = {}
    for column in ADDED_COLUMNS:
        if column.table in tables and not column.present_in(db):
            missing.setdefault(column.table, []).append(f"{column.stand_in} AS {column.name}")
    for table, stand_ins in missing.items():
        db.execute(f"CREATE TEMP VIEW {table} AS SELECT *, {', '.join(stand_ins)} "
                   f"FROM main.{table}")
