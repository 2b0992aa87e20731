"""IO statuses of sent messages, as ``dispatcher status`` observes them.

A sent row has an IO message id; IO decides the message later (ACCEPTED → PROCESSED,
REJECTED or FAILED). Each observation is kept (``status_checks``) and the latest one per row
is kept apart (``message_status``) so "what is still open?" is one indexed query: a cron job
asks IO only about rows that are not final, old enough, and not past the horizon.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

from dispatcher.storage import Database
from dispatcher.vocabulary import FINAL_STATUSES, MessageStatus, RowState

NOT_CHECKED = "NOT_CHECKED"
"""What :meth:`StatusBook.counts` calls a sent message nobody asked IO about yet."""


@dataclass(frozen=True)
class StatusObservation:
    """One answer of ``GET /messages/{fiscal_code}/{id}`` for one row."""

    row: int
    message_id: str
    at: float
    status: str | None  # None: IO gave no status (404, error): see detail
    read_status: str | None = None
    payment_status: str | None = None
    http_status: int | None = None
    detail: str | None = None

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES


@dataclass(frozen=True)
class LatestStatus:
    """The latest IO status known for one sent row."""

    row: int
    message_id: str
    status: str | None
    read_status: str | None
    payment_status: str | None
    http_status: int | None
    detail: str | None
    first_checked_at: float
    checked_at: float
    status_since: float | None
    checks: int
    final: bool


@dataclass(frozen=True)
class StatusCheck:
    """One observation of one row, as ``status_checks`` keeps it."""

    at: float
    status: str | None
    read_status: str | None
    payment_status: str | None
    http_status: int | None
    detail: str | None


@dataclass(frozen=True)
class StatusPassTotals:
    """The ``dispatcher status`` passes over a campaign (they spend the run's budget too)."""

    passes: int = 0
    requests: int = 0
    throttled: int = 0
    last_at: float | None = None  # when the last one ended (or started, if it never ended)


@dataclass(frozen=True)
class StatusQuestion:
    """A sent row whose IO status is still worth asking for."""

    row: int
    fiscal_code: str
    message_id: str


@dataclass(frozen=True)
class StatusPlan:
    """Which sent rows to ask about now, and why the others are left alone."""

    due: list[StatusQuestion]
    final: int  # already final: never asked again
    too_young: int  # sent less than the minimum age ago: IO is likely still processing
    expired: int  # past the horizon and still not final: given up
    without_id: int  # sent rows with no message id (should not happen; reported)

    @property
    def open(self) -> int:
        return len(self.due) + self.too_young


_LATEST_COLUMNS = (
    "row, message_id, status, read_status, payment_status, http_status, detail, "
    "first_checked_at, checked_at, status_since, checks, final"
)


def _may_still_change(status: str | None, read: str | None, payment: str | None) -> bool:
    """A PROCESSED Premium message can still be read or paid."""
    return status == MessageStatus.PROCESSED and (read == "UNREAD" or payment == "NOT_PAID")


class StatusBook:
    """The IO statuses of one ledger's sent rows, and the passes that asked for them."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def plan(
        self,
        campaign_id: int,
        *,
        now: float,
        min_age_s: float,
        horizon_s: float,
        follow_reads: bool = False,
    ) -> StatusPlan:
        """Split the campaign's sent rows into due / final / too young / expired.

        ``follow_reads`` keeps PROCESSED messages with an unread or unpaid status open until
        the horizon (Premium senders following read and payment status).
        """
        due: list[StatusQuestion] = []
        final = too_young = expired = without_id = 0
        query = (
            "SELECT r.row, r.fiscal_code, r.message_id, r.decided_at, s.status, "
            "s.read_status, s.payment_status FROM rows r LEFT JOIN message_status s "
            "ON s.campaign_id=r.campaign_id AND s.row=r.row "
            "WHERE r.campaign_id=? AND r.state=? ORDER BY r.row"
        )
        for row, fiscal_code, message_id, sent_at, status, read, payment in self._db.execute(
            query, (campaign_id, RowState.SENT)
        ):
            if not message_id:
                without_id += 1
            elif status in FINAL_STATUSES and not (
                follow_reads and _may_still_change(status, read, payment)
            ):
                final += 1
            elif sent_at is not None and now - sent_at > horizon_s:
                expired += 1
            elif sent_at is not None and now - sent_at < min_age_s:
                too_young += 1
            else:
                due.append(StatusQuestion(row, fiscal_code, message_id))
        return StatusPlan(due, final, too_young, expired, without_id)

    def record(self, campaign_id: int, observations: Iterable[StatusObservation]) -> None:
        """Keep every observation and update the latest status of each row, in one commit."""
        items = list(observations)
        if not items:
            return
        with self._db.transaction() as db:
            db.executemany(
                "INSERT INTO status_checks VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(campaign_id, o.row, o.at, o.status, o.read_status, o.payment_status,
                  o.http_status, o.detail) for o in items],
            )
            # A failed check (no status) must not erase a status learned earlier.
            db.executemany(
                "INSERT INTO message_status VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?) "
                "ON CONFLICT (campaign_id, row) DO UPDATE SET "
                "message_id=excluded.message_id, "
                "status_since=CASE WHEN excluded.status IS NOT NULL "
                "AND excluded.status IS NOT status "
                "THEN excluded.checked_at ELSE status_since END, "
                "status=coalesce(excluded.status, status), "
                "read_status=coalesce(excluded.read_status, read_status), "
                "payment_status=coalesce(excluded.payment_status, payment_status), "
                "http_status=excluded.http_status, detail=excluded.detail, "
                "checked_at=excluded.checked_at, checks=checks+1, "
                "final=max(final, excluded.final)",
                [(campaign_id, o.row, o.message_id, o.status, o.read_status, o.payment_status,
                  o.http_status, o.detail, o.at, o.at, o.at if o.status else None,
                  int(o.is_final)) for o in items],
            )

    def latest(self, campaign_id: int) -> dict[int, LatestStatus]:
        """Row → latest IO status, for every row that was asked about at least once."""
        return {
            found[0]: LatestStatus(*found[:-1], bool(found[-1]))
            for found in self._db.execute(
                f"SELECT {_LATEST_COLUMNS} FROM message_status WHERE campaign_id=? ORDER BY row",
                (campaign_id,),
            )
        }

    def counts(self, campaign_id: int) -> dict[str, int]:
        """IO status → number of sent rows; :data:`NOT_CHECKED` for those never asked about."""
        return dict(self._db.execute(
            "SELECT coalesce(s.status, ?), count(*) FROM rows r "
            "LEFT JOIN message_status s ON s.campaign_id=r.campaign_id AND s.row=r.row "
            "WHERE r.campaign_id=? AND r.state=? GROUP BY 1 ORDER BY 1",
            (NOT_CHECKED, campaign_id, RowState.SENT),
        ).fetchall())

    def checks(self, campaign_id: int, row: int) -> list[StatusCheck]:
        """Every observation of one row, oldest first."""
        return [
            StatusCheck(*found)
            for found in self._db.execute(
                "SELECT at, status, read_status, payment_status, http_status, detail "
                "FROM status_checks WHERE campaign_id=? AND row=? ORDER BY at, rowid",
                (campaign_id, row),
            )
        ]

    def pass_totals(self, campaign_id: int) -> StatusPassTotals:
        count, requests, throttled, last_at = self._db.execute(
            "SELECT count(*), sum(requests), sum(throttled), "
            "max(coalesce(finished_at, started_at)) FROM status_runs WHERE campaign_id=?",
            (campaign_id,),
        ).fetchone()
        return StatusPassTotals(int(count), int(requests or 0), int(throttled or 0), last_at)

    def begin_pass(self, campaign_id: int) -> int:
        with self._db.transaction() as db:
            cursor = db.execute(
                "INSERT INTO status_runs (campaign_id, started_at) VALUES (?, ?)",
                (campaign_id, time.time()),
            )
        return int(cursor.lastrowid or 0)

    def finish_pass(self, pass_id: int, *, asked: int, requests: int, throttled: int) -> None:
        with self._db.transaction() as db:
            db.execute(
                "UPDATE status_runs SET finished_at=?, asked=?, requests=?, throttled=? "
                "WHERE status_run_id=?",
                (time.time(), asked, requests, throttled, pass_id),
            )
