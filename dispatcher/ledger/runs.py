"""Runs: each ``dispatcher run`` of a campaign, its totals and its per-second timeline.

The timeline (``run_seconds``) is written while the run goes on, every few seconds, so a run
killed with ``kill -9`` keeps its requests, 429s and rates up to then; its totals, which only
a run that finishes writes, are then summed from those seconds.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from dispatcher.ledger.records import RunRecord, TimelineSample
from dispatcher.storage import Database

if TYPE_CHECKING:
    from dispatcher.audit import RunAudit

_RUN_QUERY = (
    "SELECT r.run_id, r.campaign_id, r.started_at, r.finished_at, r.rate, "
    "coalesce(r.requests, (SELECT sum(requests) FROM run_seconds s WHERE s.run_id=r.run_id)), "
    "coalesce(r.throttled, (SELECT sum(throttled) FROM run_seconds s WHERE s.run_id=r.run_id)), "
    "r.stopped_reason, r.exit_code, "
    "(SELECT max(second) FROM run_seconds s WHERE s.run_id=r.run_id), "
    "r.operator, r.host, r.version, r.command, r.settings "
    "FROM runs r"
)


def _run(found: tuple[Any, ...]) -> RunRecord:
    (run_id, campaign_id, started, finished, rate, requests, throttled, stopped, code, last,
     *audit) = found
    return RunRecord(run_id, campaign_id, started, finished, rate, int(requests or 0),
                     int(throttled or 0), stopped, code, last, *audit)


class RunBook:
    """The runs of every campaign in one ledger."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def begin(self, campaign_id: int, *, rate: str, audit: RunAudit | None = None) -> int:
        """A new run; ``audit`` says who ran it, how, with which version and settings."""
        who = (audit.operator, audit.version, audit.command, audit.settings) if audit else (
            None, None, None, None)
        with self._db.transaction() as db:
            cursor = db.execute(
                "INSERT INTO runs (campaign_id, pid, host, started_at, rate, operator, version, "
                "command, settings) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (campaign_id, os.getpid(), socket.gethostname(), time.time(), rate, *who),
            )
        return int(cursor.lastrowid or 0)

    def finish(
        self,
        run_id: int,
        *,
        requests: int,
        throttled: int,
        stopped_reason: str | None,
        exit_code: int,
        timeline: Iterable[TimelineSample] = (),
    ) -> None:
        with self._db.transaction() as db:
            db.execute(
                "UPDATE runs SET finished_at=?, requests=?, throttled=?, stopped_reason=?, "
                "exit_code=? WHERE run_id=?",
                (time.time(), requests, throttled, stopped_reason, exit_code, run_id),
            )
            self._write_timeline(db, run_id, timeline)

    def record_timeline(self, run_id: int, samples: Iterable[TimelineSample]) -> None:
        """Per-second counters written while the run goes on: a killed run keeps them too.

        A second saved before is replaced: the last second of a checkpoint may have grown.
        """
        with self._db.transaction() as db:
            self._write_timeline(db, run_id, samples)

    @staticmethod
    def _write_timeline(db: Database, run_id: int, samples: Iterable[TimelineSample]) -> None:
        db.executemany(
            "INSERT OR REPLACE INTO run_seconds VALUES (?, ?, ?, ?, ?, ?)",
            [(run_id, s.second, s.requests, s.throttled, s.target_rate, s.current_rate)
             for s in samples],
        )

    def get(self, run_id: int) -> RunRecord | None:
        found = self._db.execute(f"{_RUN_QUERY} WHERE r.run_id=?", (run_id,)).fetchone()
        return None if found is None else _run(found)

    def of_campaign(self, campaign_id: int) -> list[RunRecord]:
        """Each run of a campaign, oldest first."""
        return [_run(found) for found in self._db.execute(
            f"{_RUN_QUERY} WHERE r.campaign_id=? ORDER BY r.run_id", (campaign_id,))]

    def timeline(self, run_id: int) -> list[TimelineSample]:
        """The run's seconds, oldest first."""
        return [
            TimelineSample(*found)
            for found in self._db.execute(
                "SELECT second, requests, throttled, target_rate, current_rate FROM run_seconds "
                "WHERE run_id=? ORDER BY second",
                (run_id,),
            )
        ]
