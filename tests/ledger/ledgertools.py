"""Helpers for the ledger tests: rows to record, and ledgers as older versions left them."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from pathlib import Path

from dispatcher.ledger import Ledger, NewRow, Outcome
from dispatcher.vocabulary import RowState

V2_TABLES_ADDED = ("message_status", "status_checks", "status_runs", "test_sends")
V3_COLUMNS_ADDED = (("rows", "body"), ("campaigns", "recorded"))
V4_COLUMNS_ADDED = (("campaigns", "encoding"), ("runs", "operator"), ("runs", "version"),
                    ("runs", "command"), ("runs", "settings"))


def code(n: int) -> str:
    """A distinct fiscal-code-shaped string per ``n`` (the ledger does not validate them)."""
    return f"RSSMRA{n:010d}"


def body(n: int) -> bytes:
    return b'{"fiscal_code": "%s", "content": {"subject": "TARI"}}' % code(n).encode()


def pending(rows: range, *, hash_of: str = "h") -> list[NewRow]:
    """Pending rows with a body, content hash ``hash_of`` + row number."""
    return [NewRow(r, code(r), RowState.PENDING, f"{hash_of}{r}", body=body(r)) for r in rows]


def start(ledger: Ledger, rows: Iterable[NewRow], **options: bool) -> int:
    return ledger.campaigns.start(input_path="c.csv", input_sha256="f" * 64,
                                  template_sha256=None, rows=rows, **options)


def send(ledger: Ledger, campaign_id: int, outcomes: dict[int, RowState]) -> None:
    """Rows through intent and outcome, as a run records them (message ids ``01M<row>``)."""
    run = ledger.runs.begin(campaign_id, rate="1/s")
    ledger.rows.mark_sending(campaign_id, run, list(outcomes))
    decided = [Outcome(r, s, 201 if s is RowState.SENT else None,
                       f"01M{r}" if s is RowState.SENT else None)
               for r, s in outcomes.items() if s is not RowState.SENDING]
    ledger.rows.record_outcomes(campaign_id, run, decided)


def downgrade(path: Path, version: int) -> None:
    """Make a current ledger look like one that version ``version`` (1, 2 or 3) wrote."""
    with sqlite3.connect(path) as db:
        for table, column in V4_COLUMNS_ADDED + (V3_COLUMNS_ADDED if version < 3 else ()):
            db.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
        if version == 1:
            for table in V2_TABLES_ADDED:
                db.execute(f"DROP TABLE {table}")
    db.close()
    set_version(path, version)


def set_version(path: Path, version: int) -> None:
    with sqlite3.connect(path) as db:
        db.execute("UPDATE meta SET value=? WHERE key='schema_version'", (str(version),))
    db.close()


def schema_version(path: Path) -> int:
    """The ledger's schema version, read without writing anything."""
    db = _read_only(path)
    try:
        (found,) = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        return int(found)
    finally:
        db.close()


def _read_only(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(Path(path).resolve().as_uri() + "?mode=ro", uri=True)


def columns(path: Path, table: str) -> list[str]:
    """The table's columns, read without writing anything."""
    db = _read_only(path)
    try:
        return [info[1] for info in db.execute(f"PRAGMA table_info({table})")]
    finally:
        db.close()
