"""Test sends: real messages of a campaign, rendered from its rows, sent to test recipients.

They are kept apart from the campaign's rows (a test send never counts as a delivery) and
tied to the exact campaign file and template they were rendered from, so ``run
--require-test`` can ask "was *this* content seen by a person before the real send?".
"""

from __future__ import annotations

import builtins
import time
from dataclasses import dataclass

from dispatcher.privacy import without_secrets
from dispatcher.storage import Database
from dispatcher.vocabulary import RowState

INTERRUPTED_DETAIL = (
    "the test run stopped while this message was being sent: it may have reached IO; "
    "look in the test recipient's inbox before trusting it"
)


@dataclass(frozen=True)
class TestSend:
    """One message sent to one test recipient, rendered from one campaign row."""

    __test__ = False  # not a pytest test class

    source_row: int
    recipient: str
    content_hash: str | None
    outcome: str  # a RowState value: sending (in flight), sent, rejected, failed, ambiguous
    message_id: str | None = None
    http_status: int | None = None
    detail: str | None = None
    at: float = 0.0
    test_id: int | None = None


class TestSendBook:
    """The test sends of one ledger, recorded like campaign rows: intent first, then outcome.

    A test send is a real message to a real inbox, and IO has no idempotency: it is committed
    as ``sending`` before its ``POST /messages`` leaves, so one cut short by a kill is found
    afterwards (:meth:`recover`) and reported as possibly delivered, never forgotten.
    """

    __test__ = False

    def __init__(self, db: Database) -> None:
        self._db = db

    def begin(
        self,
        *,
        input_path: str,
        input_sha256: str,
        template_sha256: str | None,
        source_row: int,
        recipient: str,
        content_hash: str | None,
    ) -> int:
        """Commit the intent to send one test message; returns its id for :meth:`finish`."""
        with self._db.transaction() as db:
            cursor = db.execute(
                "INSERT INTO test_sends (at, input_path, input_sha256, template_sha256, "
                "source_row, recipient, content_hash, outcome) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (time.time(), input_path, input_sha256, template_sha256, source_row, recipient,
                 content_hash, RowState.SENDING),
            )
        return int(cursor.lastrowid or 0)

    def finish(
        self,
        test_id: int,
        *,
        outcome: RowState,
        message_id: str | None,
        http_status: int | None,
        detail: str | None,
    ) -> None:
        """What IO answered the test send begun as ``test_id``."""
        with self._db.transaction() as db:
            db.execute(
                "UPDATE test_sends SET outcome=?, message_id=?, http_status=?, detail=? "
                "WHERE test_id=?",
                (outcome, message_id, http_status, without_secrets(detail), test_id),
            )

    def recover(self) -> int:
        """Test sends left ``sending`` by a killed process become ``ambiguous``; how many."""
        with self._db.transaction() as db:
            cursor = db.execute(
                "UPDATE test_sends SET outcome=?, detail=? WHERE outcome=?",
                (RowState.AMBIGUOUS, INTERRUPTED_DETAIL, RowState.SENDING),
            )
        return cursor.rowcount

    def has_successful(self, input_sha256: str, template_sha256: str | None) -> bool:
        """Was at least one message of exactly this file + template accepted by IO?"""
        found = self._db.execute(
            "SELECT 1 FROM test_sends WHERE input_sha256=? AND template_sha256 IS ? "
            "AND outcome=? LIMIT 1",
            (input_sha256, template_sha256, RowState.SENT),
        ).fetchone()
        return found is not None

    def list(
        self, input_sha256: str | None = None, template_sha256: str | None = None
    ) -> builtins.list[TestSend]:
        """Test sends, newest first; only those of this file and template when given."""
        query = (
            "SELECT source_row, recipient, content_hash, outcome, message_id, http_status, "
            "detail, at, test_id FROM test_sends"
        )
        params: tuple[object, ...] = ()
        if input_sha256 is not None:
            query += " WHERE input_sha256=? AND template_sha256 IS ?"
            params = (input_sha256, template_sha256)
        query += " ORDER BY at DESC, test_id DESC"
        return [TestSend(*found) for found in self._db.execute(query, params)]
