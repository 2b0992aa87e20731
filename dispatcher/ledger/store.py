"""The results ledger: one SQLite database (WAL) that remembers every input row.

Why SQLite: a commit is durable against a crash (``kill -9``) at the last transaction, a
per-row primary key makes resume and "was this sent before?" a query, and an office can open
the file months later to answer "what happened to row 4,812?".

The rule that prevents duplicate messages: a row is committed as ``sending`` *before* its
``POST /messages`` leaves (``mark_sending``), and the outcome is committed after. A row
found in ``sending`` when a run starts was interrupted with its request possibly delivered:
it becomes ``ambiguous`` and is never resent unless the operator asks for it.

The ledger is synchronous on purpose; the pipeline calls it from one writer task through
``anyio.to_thread``. It never talks to the network and never sees the API key.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sqlite3
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from dispatcher.ledger.lock import create_private_file
from dispatcher.ledger.records import (
    CampaignRecord,
    LedgerError,
    LedgerRow,
    NewRow,
    Outcome,
    RowState,
)
from dispatcher.ledger.schema import SCHEMA, SCHEMA_VERSION, UPGRADABLE_VERSIONS
from dispatcher.ledger.statuses import StatusBook
from dispatcher.ledger.testsends import TestSendBook


class Ledger(StatusBook, TestSendBook):
    """One ledger file: campaigns, their rows and states, runs, and per-row event history.

    IO statuses of sent messages (:class:`StatusBook`) and test sends (:class:`TestSendBook`)
    live in their own modules; they share this connection.
    """

    def __init__(self, path: Path, connection: sqlite3.Connection) -> None:
        self.path = path
        self._db = connection

    # -- opening -----------------------------------------------------------------------

    @classmethod
    def open(cls, path: Path) -> Ledger:
        """Open (creating if needed) a ledger; WAL journal, full sync on commit."""
        path = Path(path)
        create_private_file(path)
        try:
            db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")
            db.execute("PRAGMA busy_timeout=5000")
            db.executescript(SCHEMA)
            version = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        except sqlite3.DatabaseError as exc:
            raise LedgerError(f"{path} is not a dispatcher ledger ({exc})") from None
        if version is None:
            db.execute("INSERT INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        elif int(version[0]) in UPGRADABLE_VERSIONS:  # the schema script added the tables
            db.execute("UPDATE meta SET value=? WHERE key='schema_version'", (str(SCHEMA_VERSION),))
        elif int(version[0]) != SCHEMA_VERSION:
            raise LedgerError(f"{path} has ledger schema {version[0]}, expected {SCHEMA_VERSION}")
        for sidecar in ("-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.chmod(path.with_name(path.name + sidecar), 0o600)
        return cls(path, db)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield self._db
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # -- campaigns -----------------------------------------------------------------------

    def latest_campaign(self) -> CampaignRecord | None:
        row = self._db.execute(
            "SELECT campaign_id, input_path, input_sha256, template_sha256, created_at, "
            "completed_at FROM campaigns ORDER BY campaign_id DESC LIMIT 1"
        ).fetchone()
        return CampaignRecord(*row) if row else None

    def campaign(self, campaign_id: int) -> CampaignRecord:
        row = self._db.execute(
            "SELECT campaign_id, input_path, input_sha256, template_sha256, created_at, "
            "completed_at FROM campaigns WHERE campaign_id=?",
            (campaign_id,),
        ).fetchone()
        if row is None:
            raise LedgerError(f"{self.path}: no campaign {campaign_id}")
        return CampaignRecord(*row)

    def start_campaign(
        self,
        *,
        input_path: str,
        input_sha256: str,
        template_sha256: str | None,
        rows: Iterable[NewRow],
        allow_resend: bool = False,
    ) -> int:
        """Record a new campaign and every one of its rows in one transaction.

        Unless ``allow_resend``, a pending row whose (fiscal code, content hash) was sent
        (or possibly sent: ambiguous) by an earlier campaign becomes ``duplicate`` here.
        """
        now = time.time()
        with self._transaction() as db:
            cursor = db.execute(
                "INSERT INTO campaigns (input_path, input_sha256, template_sha256, created_at) "
                "VALUES (?, ?, ?, ?)",
                (input_path, input_sha256, template_sha256, now),
            )
            campaign_id = int(cursor.lastrowid or 0)
            batch: list[tuple[object, ...]] = []
            for new in rows:
                state, detail = new.state, new.detail
                if state is RowState.PENDING and not allow_resend:
                    earlier = self._earlier_delivery(campaign_id, new.fiscal_code, new.content_hash)
                    if earlier:
                        state, detail = RowState.DUPLICATE, earlier
                decided = now if state.is_terminal else None
                batch.append(
                    (campaign_id, new.row, new.fiscal_code, state.value, new.content_hash,
                     detail, decided)
                )
                if len(batch) >= 10_000:
                    self._insert_rows(db, batch)
                    batch.clear()
            self._insert_rows(db, batch)
        return campaign_id

    @staticmethod
    def _insert_rows(db: sqlite3.Connection, batch: list[tuple[object, ...]]) -> None:
        db.executemany(
            "INSERT INTO rows (campaign_id, row, fiscal_code, state, content_hash, detail, "
            "decided_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            batch,
        )
        db.executemany(
            "INSERT INTO events (campaign_id, row, at, state, detail) VALUES (?, ?, ?, ?, ?)",
            [(b[0], b[1], b[6] or time.time(), b[3], b[5]) for b in batch],
        )

    def _earlier_delivery(
        self, campaign_id: int, fiscal_code: str, content_hash: str | None
    ) -> str | None:
        if content_hash is None:
            return None
        hit = self._db.execute(
            "SELECT campaign_id, row, state, message_id FROM rows WHERE fiscal_code=? "
            "AND content_hash=? AND state IN ('sent', 'ambiguous', 'sending') "
            "AND campaign_id<>? ORDER BY campaign_id DESC LIMIT 1",
            (fiscal_code, content_hash, campaign_id),
        ).fetchone()
        if hit is None:
            return None
        earlier_campaign, earlier_row, earlier_state, message_id = hit
        verb = "already sent" if earlier_state == "sent" else "possibly sent (ambiguous)"
        ident = f", message id {message_id}" if message_id else ""
        return (
            f"{verb} by campaign {earlier_campaign} row {earlier_row}{ident}; "
            "pass --allow-resend to send it again"
        )

    def mark_campaign_complete(self, campaign_id: int) -> None:
        with self._transaction() as db:
            db.execute(
                "UPDATE campaigns SET completed_at=? WHERE campaign_id=? AND completed_at IS NULL",
                (time.time(), campaign_id),
            )

    def reopen_campaign(self, campaign_id: int) -> None:
        """A completed campaign got work again (requeued rows): it is open until decided."""
        with self._transaction() as db:
            db.execute("UPDATE campaigns SET completed_at=NULL WHERE campaign_id=?", (campaign_id,))

    def abandon_campaign(self, campaign_id: int, run_id: int | None) -> int:
        """Close an unfinished campaign: pending rows fail, rows in flight become ambiguous."""
        now = time.time()
        with self._transaction() as db:
            changed = self._move(db, campaign_id, RowState.SENDING, RowState.AMBIGUOUS, now,
                                 run_id, "run interrupted while sending; campaign abandoned")
            changed += self._move(db, campaign_id, RowState.PENDING, RowState.FAILED, now,
                                  run_id, "campaign abandoned before this row was sent")
            db.execute("UPDATE campaigns SET completed_at=? WHERE campaign_id=?",
                       (now, campaign_id))
        return changed

    # -- runs ----------------------------------------------------------------------------

    def begin_run(self, campaign_id: int, *, rate: str) -> int:
        with self._transaction() as db:
            cursor = db.execute(
                "INSERT INTO runs (campaign_id, pid, host, started_at, rate) "
                "VALUES (?, ?, ?, ?, ?)",
                (campaign_id, os.getpid(), socket.gethostname(), time.time(), rate),
            )
        return int(cursor.lastrowid or 0)

    def finish_run(
        self,
        run_id: int,
        *,
        requests: int,
        throttled: int,
        stopped_reason: str | None,
        exit_code: int,
        timeline: Iterable[tuple[int, int, int, float | None, float | None]] = (),
    ) -> None:
        with self._transaction() as db:
            db.execute(
                "UPDATE runs SET finished_at=?, requests=?, throttled=?, stopped_reason=?, "
                "exit_code=? WHERE run_id=?",
                (time.time(), requests, throttled, stopped_reason, exit_code, run_id),
            )
            self._write_timeline(db, run_id, timeline)

    def record_timeline(
        self, run_id: int, seconds: Iterable[tuple[int, int, int, float | None, float | None]]
    ) -> None:
        """Per-second counters written while the run goes on: a killed run keeps them too."""
        with self._transaction() as db:
            self._write_timeline(db, run_id, seconds)

    @staticmethod
    def _write_timeline(
        db: sqlite3.Connection,
        run_id: int,
        seconds: Iterable[tuple[int, int, int, float | None, float | None]],
    ) -> None:
        db.executemany("INSERT OR REPLACE INTO run_seconds VALUES (?, ?, ?, ?, ?, ?)",
                       [(run_id, *sample) for sample in seconds])

    def recover_interrupted(self, campaign_id: int, run_id: int) -> int:
        """Rows left ``sending`` by a crashed run may have reached IO: make them ambiguous."""
        with self._transaction() as db:
            return self._move(
                db, campaign_id, RowState.SENDING, RowState.AMBIGUOUS, time.time(), run_id,
                "an earlier run stopped while this message was being sent: it may have been "
                "delivered; check before resending (--resend-ambiguous)",
            )

    def requeue_ambiguous(self, campaign_id: int, run_id: int) -> int:
        """The operator's explicit choice: send ambiguous rows again."""
        with self._transaction() as db:
            return self._move(db, campaign_id, RowState.AMBIGUOUS, RowState.PENDING, time.time(),
                              run_id, "requeued by --resend-ambiguous")

    def requeue_failed(self, campaign_id: int, run_id: int) -> int:
        """Failed and rejected rows were provably never stored by IO: they may be tried again."""
        with self._transaction() as db:
            return sum(
                self._move(db, campaign_id, source, RowState.PENDING, time.time(), run_id,
                           "requeued by --retry-failed")
                for source in (RowState.FAILED, RowState.REJECTED)
            )

    @staticmethod
    def _move(
        db: sqlite3.Connection,
        campaign_id: int,
        source: RowState,
        target: RowState,
        now: float,
        run_id: int | None,
        detail: str,
    ) -> int:
        db.execute(
            "INSERT INTO events (campaign_id, row, at, run_id, state, detail) "
            "SELECT campaign_id, row, ?, ?, ?, ? FROM rows WHERE campaign_id=? AND state=?",
            (now, run_id, target.value, detail, campaign_id, source.value),
        )
        decided = now if target.is_terminal else None
        cursor = db.execute(
            "UPDATE rows SET state=?, detail=?, decided_at=?, run_id=? "
            "WHERE campaign_id=? AND state=?",
            (target.value, detail, decided, run_id, campaign_id, source.value),
        )
        return cursor.rowcount

    # -- row transitions (called by the single writer) -------------------------------------

    def mark_sending(self, campaign_id: int, run_id: int, rows: Iterable[int]) -> None:
        """Durably record the intent to send, before any of these POSTs leaves."""
        now = time.time()
        batch = [(now, run_id, campaign_id, r) for r in rows]
        with self._transaction() as db:
            db.executemany(
                "UPDATE rows SET state='sending', sending_at=?, run_id=? "
                "WHERE campaign_id=? AND row=? AND state='pending'",
                batch,
            )
            db.executemany(
                "INSERT INTO events (campaign_id, row, at, run_id, state) "
                "VALUES (?, ?, ?, ?, 'sending')",
                [(campaign_id, r, now, run_id) for (_, _, _, r) in batch],
            )

    def release_unsent(self, campaign_id: int, run_id: int, rows: Iterable[int]) -> int:
        """Rows whose intent was recorded but whose request provably never left: pending again."""
        now = time.time()
        batch = [(campaign_id, r) for r in rows]
        with self._transaction() as db:
            before = db.total_changes
            db.executemany(
                "UPDATE rows SET state='pending', sending_at=NULL "
                "WHERE campaign_id=? AND row=? AND state='sending'",
                batch,
            )
            released = db.total_changes - before
            db.executemany(
                "INSERT INTO events (campaign_id, row, at, run_id, state, detail) "
                "SELECT campaign_id, row, ?, ?, 'pending', 'not sent: the run stopped first' "
                "FROM rows WHERE campaign_id=? AND row=? AND state='pending' "
                "AND sending_at IS NULL",
                [(now, run_id, c, r) for c, r in batch],
            )
        return released

    def record_outcomes(self, campaign_id: int, run_id: int, outcomes: Iterable[Outcome]) -> None:
        """Commit decided rows in one transaction."""
        now = time.time()
        items = list(outcomes)
        with self._transaction() as db:
            db.executemany(
                "UPDATE rows SET state=?, http_status=?, message_id=?, detail=?, "
                "attempts=attempts+?, decided_at=?, run_id=? WHERE campaign_id=? AND row=?",
                [
                    (o.state.value, o.http_status, o.message_id, o.detail, o.attempts,
                     now if o.state.is_terminal else None, run_id, campaign_id, o.row)
                    for o in items
                ],
            )
            db.executemany(
                "INSERT INTO events (campaign_id, row, at, run_id, state, http_status, detail) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (campaign_id, o.row, now, run_id, o.state.value, o.http_status,
                     o.detail if o.message_id is None else f"message id {o.message_id}")
                    for o in items
                ],
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

    def pending_rows(self, campaign_id: int) -> set[int]:
        return {
            r
            for (r,) in self._db.execute(
                "SELECT row FROM rows WHERE campaign_id=? AND state='pending'", (campaign_id,)
            )
        }

    def counts(self, campaign_id: int) -> dict[RowState, int]:
        """How many rows are in each state (every state listed, zeros included)."""
        counts = dict.fromkeys(RowState, 0)
        for state, n in self._db.execute(
            "SELECT state, count(*) FROM rows WHERE campaign_id=? GROUP BY state", (campaign_id,)
        ):
            counts[RowState(state)] = n
        return counts

    def unfinished(self, campaign_id: int) -> int:
        (n,) = self._db.execute(
            "SELECT count(*) FROM rows WHERE campaign_id=? AND state IN ('pending', 'sending')",
            (campaign_id,),
        ).fetchone()
        return int(n)

    def row(self, campaign_id: int, row: int) -> LedgerRow | None:
        found = self._db.execute(
            "SELECT campaign_id, row, fiscal_code, state, content_hash, message_id, http_status, "
            "detail, attempts, sending_at, decided_at FROM rows WHERE campaign_id=? AND row=?",
            (campaign_id, row),
        ).fetchone()
        if found is None:
            return None
        values = list(found)
        values[3] = RowState(values[3])
        return LedgerRow(*values)

    def rows(self, campaign_id: int) -> Iterator[LedgerRow]:
        for found in self._db.execute(
            "SELECT campaign_id, row, fiscal_code, state, content_hash, message_id, http_status, "
            "detail, attempts, sending_at, decided_at FROM rows WHERE campaign_id=? ORDER BY row",
            (campaign_id,),
        ):
            values = list(found)
            values[3] = RowState(values[3])
            yield LedgerRow(*values)

    def history(
        self, campaign_id: int, row: int
    ) -> list[tuple[float, str, int | None, str | None]]:
        """Every state a row went through: (time, state, HTTP status, detail)."""
        return list(
            self._db.execute(
                "SELECT at, state, http_status, detail FROM events WHERE campaign_id=? AND row=? "
                "ORDER BY at, rowid",
                (campaign_id, row),
            )
        )

    def run_totals(self, run_id: int) -> dict[str, object]:
        names = ("run_id", "campaign_id", "started_at", "finished_at", "requests", "throttled",
                 "stopped_reason", "exit_code")
        found = self._db.execute(
            f"SELECT {', '.join(names)} FROM runs WHERE run_id=?", (run_id,)
        ).fetchone()
        return dict(zip(names, found, strict=True)) if found else {}

    def campaign_runs(self, campaign_id: int) -> list[tuple[
        int, float, float | None, str | None, int, int, str | None, int | None, int | None
    ]]:
        """Each run of a campaign, oldest first: (run id, started, finished, rate, requests,
        429s, stop reason, exit code, last second with activity). A run killed before it
        finished has no totals: they are summed from its timeline."""
        return [
            (run_id, started, finished, rate, int(requests or 0), int(throttled or 0), stopped,
             code, last)
            for run_id, started, finished, rate, requests, throttled, stopped, code, last
            in self._db.execute(
                "SELECT r.run_id, r.started_at, r.finished_at, r.rate, "
                "coalesce(r.requests, (SELECT sum(requests) FROM run_seconds s "
                "WHERE s.run_id=r.run_id)), "
                "coalesce(r.throttled, (SELECT sum(throttled) FROM run_seconds s "
                "WHERE s.run_id=r.run_id)), "
                "r.stopped_reason, r.exit_code, "
                "(SELECT max(second) FROM run_seconds s WHERE s.run_id=r.run_id) "
                "FROM runs r WHERE r.campaign_id=? ORDER BY r.run_id",
                (campaign_id,),
            )
        ]

    def timeline(self, run_id: int) -> list[tuple[int, int, int, float | None, float | None]]:
        return list(
            self._db.execute(
                "SELECT second, requests, throttled, target_rate, current_rate FROM run_seconds "
                "WHERE run_id=? ORDER BY second",
                (run_id,),
            )
        )
