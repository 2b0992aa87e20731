"""The rows of a campaign: their state, the moves between states, and their history.

The rule that prevents duplicate messages lives here: a row is committed as ``sending``
*before* its ``POST /messages`` leaves (:meth:`RowBook.mark_sending`), and the outcome is
committed after. A row found in ``sending`` when a run starts was interrupted with its request
possibly delivered: it becomes ``ambiguous`` and is never resent unless the operator asks.

Every change of state also writes an ``events`` row, so "what happened to row 4,812?" can be
told step by step months later. States are bound as parameters (``RowState`` values), never
spelt in the SQL text: one spelling, the vocabulary's.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from typing import Any

from dispatcher.ledger.records import LedgerRow, Outcome, PendingRow, RowEvent, ScheduledRows
from dispatcher.privacy import without_secrets
from dispatcher.storage import Database
from dispatcher.vocabulary import RowState

_ROW_COLUMNS = (
    "campaign_id, row, fiscal_code, state, content_hash, message_id, http_status, detail, "
    "attempts, sending_at, decided_at, send_after"
)

RECOVERED_DETAIL = (
    "an earlier run stopped while this message was being sent: it may have been delivered; "
    "check before resending (--resend-ambiguous)"
)


def move_rows(
    db: Database,
    campaign_id: int,
    source: RowState,
    target: RowState,
    *,
    now: float,
    run_id: int | None,
    detail: str,
) -> int:
    """Move every row of the campaign in ``source`` to ``target``, with an event each.

    Call inside a transaction; returns how many rows moved.
    """
    db.execute(
        "INSERT INTO events (campaign_id, row, at, run_id, state, detail) "
        "SELECT campaign_id, row, ?, ?, ?, ? FROM rows WHERE campaign_id=? AND state=?",
        (now, run_id, target, detail, campaign_id, source),
    )
    cursor = db.execute(
        "UPDATE rows SET state=?, detail=?, decided_at=?, run_id=? "
        "WHERE campaign_id=? AND state=?",
        (target, detail, now if target.is_terminal else None, run_id, campaign_id, source),
    )
    return cursor.rowcount


def _ledger_row(found: tuple[Any, ...]) -> LedgerRow:
    campaign_id, row, fiscal_code, state, *rest = found
    return LedgerRow(campaign_id, row, fiscal_code, RowState(state), *rest)


class RowBook:
    """Rows of every campaign in one ledger; the pipeline's single writer calls the moves."""

    def __init__(self, db: Database) -> None:
        self._db = db

    # -- moves ---------------------------------------------------------------------------

    def mark_sending(self, campaign_id: int, run_id: int, rows: Iterable[int]) -> None:
        """Durably record the intent to send, before any of these POSTs leaves.

        Only pending rows move (and get an event): an invalid or decided row is never sent.
        """
        now = time.time()
        wanted = list(rows)
        with self._db.transaction() as db:
            db.executemany(
                "UPDATE rows SET state=?, sending_at=?, run_id=? "
                "WHERE campaign_id=? AND row=? AND state=?",
                [(RowState.SENDING, now, run_id, campaign_id, r, RowState.PENDING)
                 for r in wanted],
            )
            db.executemany(
                "INSERT INTO events (campaign_id, row, at, run_id, state) "
                "SELECT campaign_id, row, ?, ?, state FROM rows "
                "WHERE campaign_id=? AND row=? AND state=? AND sending_at=?",
                [(now, run_id, campaign_id, r, RowState.SENDING, now) for r in wanted],
            )

    def release_unsent(self, campaign_id: int, run_id: int, rows: Iterable[int]) -> int:
        """Rows whose intent was recorded but whose request provably never left: pending again."""
        now = time.time()
        wanted = list(rows)
        with self._db.transaction() as db:
            before = db.total_changes
            db.executemany(
                "UPDATE rows SET state=?, sending_at=NULL "
                "WHERE campaign_id=? AND row=? AND state=?",
                [(RowState.PENDING, campaign_id, r, RowState.SENDING) for r in wanted],
            )
            released = db.total_changes - before
            db.executemany(
                "INSERT INTO events (campaign_id, row, at, run_id, state, detail) "
                "SELECT campaign_id, row, ?, ?, state, 'not sent: the run stopped first' "
                "FROM rows WHERE campaign_id=? AND row=? AND state=? AND sending_at IS NULL",
                [(now, run_id, campaign_id, r, RowState.PENDING) for r in wanted],
            )
        return released

    def record_outcomes(self, campaign_id: int, run_id: int, outcomes: Iterable[Outcome]) -> None:
        """Commit decided rows in one transaction."""
        now = time.time()
        items = list(outcomes)
        with self._db.transaction() as db:
            db.executemany(
                "UPDATE rows SET state=?, http_status=?, message_id=?, detail=?, "
                "attempts=attempts+?, decided_at=?, run_id=? WHERE campaign_id=? AND row=?",
                [(o.state, o.http_status, o.message_id, without_secrets(o.detail), o.attempts,
                  now if o.state.is_terminal else None, run_id, campaign_id, o.row)
                 for o in items],
            )
            db.executemany(
                "INSERT INTO events (campaign_id, row, at, run_id, state, http_status, detail) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(campaign_id, o.row, now, run_id, o.state, o.http_status,
                  without_secrets(o.detail) if o.message_id is None
                  else f"message id {o.message_id}")
                 for o in items],
            )

    def recover_interrupted(self, campaign_id: int, run_id: int) -> int:
        """Rows left ``sending`` by a crashed run may have reached IO: make them ambiguous."""
        with self._db.transaction() as db:
            return move_rows(db, campaign_id, RowState.SENDING, RowState.AMBIGUOUS,
                             now=time.time(), run_id=run_id, detail=RECOVERED_DETAIL)

    def requeue_ambiguous(self, campaign_id: int, run_id: int) -> int:
        """The operator's explicit choice: send ambiguous rows again."""
        with self._db.transaction() as db:
            return move_rows(db, campaign_id, RowState.AMBIGUOUS, RowState.PENDING,
                             now=time.time(), run_id=run_id,
                             detail="requeued by --resend-ambiguous")

    def requeue_failed(self, campaign_id: int, run_id: int) -> int:
        """Failed and rejected rows were provably never stored by IO: they may be tried again."""
        now = time.time()
        with self._db.transaction() as db:
            return sum(
                move_rows(db, campaign_id, source, RowState.PENDING, now=now, run_id=run_id,
                          detail="requeued by --retry-failed")
                for source in RowState if source.is_retryable
            )

    # -- questions -----------------------------------------------------------------------

    def states(self, campaign_id: int) -> dict[int, RowState]:
        """Row number → state, for every row of the campaign."""
        return {
            r: RowState(s)
            for r, s in self._db.execute(
                "SELECT row, state FROM rows WHERE campaign_id=?", (campaign_id,)
            )
        }

    def third_party_ids(self, campaign_id: int) -> dict[int, str]:
        """Row → the remote-content id of the message recorded for it (from the stored body,
        so an id the template gave is found as well as one from a column)."""
        return dict(self._db.execute(
            "SELECT row, id FROM (SELECT row, json_extract(CAST(body AS TEXT), "
            "'$.content.third_party_data.id') AS id FROM rows "
            "WHERE campaign_id=? AND body IS NOT NULL) WHERE id IS NOT NULL",
            (campaign_id,)))

    def pending(self, campaign_id: int) -> set[int]:
        return {
            r for (r,) in self._db.execute(
                "SELECT row FROM rows WHERE campaign_id=? AND state=?",
                (campaign_id, RowState.PENDING),
            )
        }

    def pending_page(self, campaign_id: int, *, after_row: int, limit: int,
                     due_by: float | None = None) -> list[PendingRow]:
        """Up to ``limit`` pending rows after ``after_row``, by row, with their bodies.

        Keyset pagination: the next page starts after the last row of this one, so a caller
        can page while another thread commits outcomes (no row is skipped or seen twice).
        With ``due_by`` (Unix time), rows whose send-after time is later are left out: they
        stay pending for a later run (:meth:`scheduled`).
        """
        due = "" if due_by is None else " AND (send_after IS NULL OR send_after<=?)"
        return [
            PendingRow(row, fiscal_code, content_hash, body)
            for row, fiscal_code, content_hash, body in self._db.execute(
                "SELECT row, fiscal_code, content_hash, body FROM rows "
                f"WHERE campaign_id=? AND state=? AND row>?{due} ORDER BY row LIMIT ?",
                (campaign_id, RowState.PENDING, after_row,
                 *(() if due_by is None else (due_by,)), limit),
            )
        ]

    def scheduled(self, campaign_id: int, *, now: float) -> ScheduledRows:
        """Pending rows not due yet at ``now``: how many, and when the first falls due."""
        count, first = self._db.execute(
            "SELECT count(*), min(send_after) FROM rows "
            "WHERE campaign_id=? AND state=? AND send_after>?",
            (campaign_id, RowState.PENDING, now),
        ).fetchone()
        return ScheduledRows(int(count), None if first is None else float(first))

    def counts(self, campaign_id: int) -> dict[RowState, int]:
        """How many rows are in each state (every state listed, zeros included)."""
        counts = dict.fromkeys(RowState, 0)
        for state, n in self._db.execute(
            "SELECT state, count(*) FROM rows WHERE campaign_id=? GROUP BY state", (campaign_id,)
        ):
            counts[RowState(state)] = n
        return counts

    def unfinished(self, campaign_id: int) -> int:
        """Rows without a terminal state: pending, or sending (in flight or interrupted)."""
        (n,) = self._db.execute(
            "SELECT count(*) FROM rows WHERE campaign_id=? AND state IN (?, ?)",
            (campaign_id, RowState.PENDING, RowState.SENDING),
        ).fetchone()
        return int(n)

    def get(self, campaign_id: int, row: int) -> LedgerRow | None:
        found = self._db.execute(
            f"SELECT {_ROW_COLUMNS} FROM rows WHERE campaign_id=? AND row=?", (campaign_id, row)
        ).fetchone()
        return None if found is None else _ledger_row(found)

    def all(self, campaign_id: int) -> Iterator[LedgerRow]:
        """Every row of the campaign, by row number."""
        for found in self._db.execute(
            f"SELECT {_ROW_COLUMNS} FROM rows WHERE campaign_id=? ORDER BY row", (campaign_id,)
        ):
            yield _ledger_row(found)

    def history(self, campaign_id: int, row: int) -> list[RowEvent]:
        """Every state a row went through, oldest first."""
        return [
            RowEvent(at, RowState(state), http_status, detail)
            for at, state, http_status, detail in self._db.execute(
                "SELECT at, state, http_status, detail FROM events WHERE campaign_id=? AND row=? "
                "ORDER BY at, rowid",
                (campaign_id, row),
            )
        ]
