"""Campaigns: one per campaign file and template, with every one of its rows recorded.

Recording is chunked: :meth:`CampaignBook.begin` inserts the campaign with ``recorded`` false,
each :meth:`~CampaignBook.record_rows` commits one chunk, and
:meth:`~CampaignBook.finish_recording` sets ``recorded``. A million rows are then never one
transaction (memory, and a WAL the size of the ledger), and a crash halfway leaves a campaign
that says so: ``recorded`` false, :meth:`~CampaignBook.recorded_through` the last row kept.

Whether a row was sent before by another campaign is not the ledger's question: the
service's send journal (:mod:`dispatcher.journal`) answers it for every ledger at once.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from typing import Any

from dispatcher.ledger.records import CampaignRecord, LedgerError, NewRow
from dispatcher.ledger.rows import move_rows
from dispatcher.storage import Database
from dispatcher.vocabulary import RowState

CHUNK_ROWS = 10_000
"""Rows recorded per transaction by :meth:`CampaignBook.start`."""

_CAMPAIGN_COLUMNS = (
    "campaign_id, input_path, input_sha256, template_sha256, created_at, completed_at, recorded, "
    "encoding"
)

def _campaign(found: tuple[Any, ...]) -> CampaignRecord:
    *values, recorded, encoding = found
    return CampaignRecord(*values, recorded=bool(recorded), encoding=encoding)


def _chunks(rows: Iterable[NewRow], size: int) -> Iterator[list[NewRow]]:
    it = iter(rows)
    while chunk := list(islice(it, size)):
        yield chunk


class CampaignBook:
    """The campaigns of one ledger, and the recording of their rows."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def latest(self) -> CampaignRecord | None:
        found = self._db.execute(
            f"SELECT {_CAMPAIGN_COLUMNS} FROM campaigns ORDER BY campaign_id DESC LIMIT 1"
        ).fetchone()
        return _campaign(found) if found else None

    def get(self, campaign_id: int) -> CampaignRecord:
        found = self._db.execute(
            f"SELECT {_CAMPAIGN_COLUMNS} FROM campaigns WHERE campaign_id=?", (campaign_id,)
        ).fetchone()
        if found is None:
            raise LedgerError(f"{self._db.path}: no campaign {campaign_id}")
        return _campaign(found)

    # -- recording -----------------------------------------------------------------------

    def start(
        self,
        *,
        input_path: str,
        input_sha256: str,
        template_sha256: str | None,
        rows: Iterable[NewRow],
    ) -> int:
        """Record a new campaign and every one of its rows (in chunks); returns its id."""
        campaign_id = self.begin(input_path=input_path, input_sha256=input_sha256,
                                 template_sha256=template_sha256)
        for chunk in _chunks(rows, CHUNK_ROWS):
            self.record_rows(campaign_id, chunk)
        self.finish_recording(campaign_id)
        return campaign_id

    def begin(self, *, input_path: str, input_sha256: str, template_sha256: str | None,
              encoding: str | None = None) -> int:
        """A new campaign with no rows yet, not ``recorded`` until :meth:`finish_recording`."""
        with self._db.transaction() as db:
            cursor = db.execute(
                "INSERT INTO campaigns (input_path, input_sha256, template_sha256, created_at, "
                "recorded, encoding) VALUES (?, ?, ?, ?, 0, ?)",
                (input_path, input_sha256, template_sha256, time.time(), encoding),
            )
        return int(cursor.lastrowid or 0)

    def record_rows(self, campaign_id: int, rows: Sequence[NewRow]) -> None:
        """Record one chunk of rows and their first event in one transaction."""
        now = time.time()
        recorded = list(rows)
        with self._db.transaction() as db:
            db.executemany(
                "INSERT INTO rows (campaign_id, row, fiscal_code, state, content_hash, detail, "
                "decided_at, body, send_after) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(campaign_id, r.row, r.fiscal_code, r.state, r.content_hash, r.detail,
                  now if r.state.is_terminal else None, r.body, r.send_after)
                 for r in recorded],
            )
            db.executemany(
                "INSERT INTO events (campaign_id, row, at, state, detail) VALUES (?, ?, ?, ?, ?)",
                [(campaign_id, r.row, now, r.state, r.detail) for r in recorded],
            )

    def finish_recording(self, campaign_id: int) -> None:
        with self._db.transaction() as db:
            db.execute("UPDATE campaigns SET recorded=1 WHERE campaign_id=?", (campaign_id,))

    def recorded_through(self, campaign_id: int) -> int:
        """The highest row recorded so far (0 if none): where an interrupted recording resumes."""
        (last,) = self._db.execute(
            "SELECT coalesce(max(row), 0) FROM rows WHERE campaign_id=?", (campaign_id,)
        ).fetchone()
        return int(last)

    # -- closing -------------------------------------------------------------------------

    def complete(self, campaign_id: int) -> None:
        with self._db.transaction() as db:
            db.execute(
                "UPDATE campaigns SET completed_at=? WHERE campaign_id=? AND completed_at IS NULL",
                (time.time(), campaign_id),
            )

    def reopen(self, campaign_id: int) -> None:
        """A completed campaign got work again (requeued rows): it is open until decided."""
        with self._db.transaction() as db:
            db.execute("UPDATE campaigns SET completed_at=NULL WHERE campaign_id=?", (campaign_id,))

    def abandon(self, campaign_id: int, run_id: int | None) -> int:
        """Close an unfinished campaign: pending rows fail, rows in flight become ambiguous."""
        now = time.time()
        with self._db.transaction() as db:
            changed = move_rows(db, campaign_id, RowState.SENDING, RowState.AMBIGUOUS, now=now,
                                run_id=run_id,
                                detail="run interrupted while sending; campaign abandoned")
            changed += move_rows(db, campaign_id, RowState.PENDING, RowState.FAILED, now=now,
                                 run_id=run_id,
                                 detail="campaign abandoned before this row was sent")
            db.execute("UPDATE campaigns SET completed_at=? WHERE campaign_id=?",
                       (now, campaign_id))
        return changed
