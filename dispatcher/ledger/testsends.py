"""Test sends: real messages of a campaign, rendered from its rows, sent to test recipients.

They are kept apart from the campaign's rows (a test send never counts as a delivery) and
tied to the exact campaign file and template they were rendered from, so ``run
--require-test`` can ask "was *this* content seen by a person before the real send?".
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass


@dataclass(frozen=True)
class TestSend:
    """One message sent to one test recipient, rendered from one campaign row."""

    __test__ = False  # not a pytest test class

    source_row: int
    recipient: str
    content_hash: str | None
    outcome: str  # a RowState value: sent, rejected, failed, ambiguous
    message_id: str | None = None
    http_status: int | None = None
    detail: str | None = None
    at: float = 0.0


class TestSendBook:
    """Ledger methods for test sends; mixed into :class:`dispatcher.ledger.Ledger`."""

    __test__ = False

    _db: sqlite3.Connection
    _transaction: Callable[[], AbstractContextManager[sqlite3.Connection]]  # Ledger's

    def record_test_sends(
        self,
        *,
        input_path: str,
        input_sha256: str,
        template_sha256: str | None,
        sends: Iterable[TestSend],
    ) -> None:
        now = time.time()
        with self._transaction() as db:
            db.executemany(
                "INSERT INTO test_sends (at, input_path, input_sha256, template_sha256, "
                "source_row, recipient, content_hash, outcome, message_id, http_status, detail) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(s.at or now, input_path, input_sha256, template_sha256, s.source_row,
                  s.recipient, s.content_hash, s.outcome, s.message_id, s.http_status, s.detail)
                 for s in sends],
            )

    def test_sends(
        self, input_sha256: str | None = None, template_sha256: str | None = None
    ) -> list[TestSend]:
        """Test sends, newest first; only those of this file and template when given."""
        query = (
            "SELECT source_row, recipient, content_hash, outcome, message_id, http_status, "
            "detail, at FROM test_sends"
        )
        params: tuple[object, ...] = ()
        if input_sha256 is not None:
            query += " WHERE input_sha256=? AND template_sha256 IS ?"
            params = (input_sha256, template_sha256)
        query += " ORDER BY at DESC, test_id DESC"
        return [TestSend(*found) for found in self._db.execute(query, params)]

    def has_successful_test(self, input_sha256: str, template_sha256: str | None) -> bool:
        """Was at least one message of exactly this file + template accepted by IO?"""
        found = self._db.execute(
            "SELECT 1 FROM test_sends WHERE input_sha256=? AND template_sha256 IS ? "
            "AND outcome='sent' LIMIT 1",
            (input_sha256, template_sha256),
        ).fetchone()
        return found is not None
