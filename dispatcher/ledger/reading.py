"""Opening a ledger to read it only: what reports and metrics do.

:meth:`Ledger.open <dispatcher.ledger.Ledger.open>` creates the file, runs the schema script
and upgrades an older schema in place; right for ``run`` and ``status``, wrong for a report,
which must leave the ledger exactly as it found it (an older dispatcher may still use it, or
the file may be an archived copy). Here the connection is SQLite's read-only mode, and a
table that an older schema lacks is stood in for by an empty temporary one, so a version-1
ledger reads as "no status checked yet".
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from dispatcher.ledger.records import LedgerError
from dispatcher.ledger.schema import SCHEMA, SCHEMA_VERSION, UPGRADABLE_VERSIONS
from dispatcher.ledger.store import Ledger

LEDGER_TABLES = frozenset({"meta", "campaigns", "rows"})
"""Tables every dispatcher ledger has had since schema 1: how a ledger is recognised."""

_TABLE = re.compile(r"^CREATE TABLE IF NOT EXISTS (\w+) ")


def _table_statements() -> dict[str, str]:
    """Table name → its ``CREATE TABLE`` statement, from the schema script."""
    statements = (part.strip() for part in SCHEMA.split(";"))
    return {m.group(1): s for s in statements if (m := _TABLE.match(s))}


def open_for_reading(path: Path) -> Ledger:
    """An existing ledger, opened read-only; raises :class:`LedgerError` for anything else.

    Nothing is created, upgraded or written: not the file, not its tables, not its version.
    """
    path = Path(path)
    if not path.is_file():
        raise LedgerError(f"{path}: no such ledger (run `dispatcher run` first)")
    try:
        db = sqlite3.connect(path.resolve().as_uri() + "?mode=ro", uri=True,
                             isolation_level=None, check_same_thread=False)
    except sqlite3.Error as exc:
        raise LedgerError(f"{path}: cannot open the ledger ({exc})") from None
    try:
        db.execute("PRAGMA busy_timeout=5000")
        tables = {name for (name,) in db.execute(
            "SELECT name FROM sqlite_master WHERE type='table'")}
        if not tables >= LEDGER_TABLES:
            raise LedgerError(f"{path} is not a dispatcher ledger")
        found = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        version = int(found[0]) if found else None
        if version not in (SCHEMA_VERSION, *UPGRADABLE_VERSIONS):
            raise LedgerError(f"{path} has ledger schema {version}, expected {SCHEMA_VERSION}")
        for name, statement in _table_statements().items():
            if name not in tables:  # an older schema: an empty stand-in, in memory only
                db.execute(statement.replace("CREATE TABLE", "CREATE TEMP TABLE", 1))
    except sqlite3.DatabaseError as exc:
        db.close()
        raise LedgerError(f"{path} is not a dispatcher ledger ({exc})") from None
    except LedgerError:
        db.close()
        raise
    return Ledger(path, db)
