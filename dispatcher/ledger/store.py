"""The results ledger: one SQLite database (WAL) that remembers every input row.

Why SQLite: a commit is durable against a crash (``kill -9``) at the last transaction, a
per-row primary key makes resume and "was this sent before?" a query, and an office can open
the file months later to answer "what happened to row 4,812?".

A :class:`Ledger` is a thin holder of five books on one :class:`~dispatcher.storage.Database`,
each a small repository with one job: ``campaigns`` (and the recording of their rows),
``rows`` (states, moves, history), ``runs`` (totals and timelines), ``statuses`` (what IO
later said about sent messages) and ``test_sends``. They share the connection and nothing else.

The ledger is synchronous on purpose; the pipeline calls it from one writer task through
``anyio.to_thread``. It never talks to the network and never sees the API key.
"""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

from dispatcher.ledger.campaigns import CampaignBook
from dispatcher.ledger.records import LedgerError
from dispatcher.ledger.rows import RowBook
from dispatcher.ledger.runs import RunBook
from dispatcher.ledger.schema import SCHEMA, upgrade
from dispatcher.ledger.statuses import StatusBook
from dispatcher.ledger.testsends import TestSendBook
from dispatcher.storage import Database, StorageError, open_database


class Ledger:
    """One ledger file and its books; open it with :meth:`open` or ``open_for_reading``."""

    def __init__(self, db: Database) -> None:
        self.path = db.path
        self.campaigns = CampaignBook(db)
        self.rows = RowBook(db)
        self.runs = RunBook(db)
        self.statuses = StatusBook(db)
        self.test_sends = TestSendBook(db)
        self._db = db

    @classmethod
    def open(cls, path: Path) -> Ledger:
        """Open (creating if needed) a ledger and bring an older schema up to date."""
        path = Path(path)
        try:
            db = open_database(path, schema=SCHEMA)
        except StorageError as exc:
            raise LedgerError(f"{path} is not a dispatcher ledger ({exc.reason})") from None
        with db.closed_on_error():
            try:
                upgrade(db)
            except ValueError as exc:
                raise LedgerError(f"{path} has {exc}") from None
            except sqlite3.DatabaseError as exc:
                raise LedgerError(f"{path} is not a dispatcher ledger ({exc})") from None
        return cls(db)

    def identity(self) -> str:
        """This ledger's own random id, made the first time it is asked for and kept.

        A path names a file, not a ledger: delete ``tari.dispatcher/`` and run again, and a
        new ledger sits at the old path. The send journal tells its owners apart by this id.
        """
        with self._db.transaction() as db:
            found = db.execute("SELECT value FROM meta WHERE key='ledger_id'").fetchone()
            if found is not None:
                return str(found[0])
            made = uuid.uuid4().hex
            db.execute("INSERT INTO meta VALUES ('ledger_id', ?)", (made,))
        return made

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
