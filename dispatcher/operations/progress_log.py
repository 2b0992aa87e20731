"""The run's story for a log collector: a start line, a progress line every few seconds, an end.

Off a terminal nobody watches a progress bar, and a line per row is 20 MB of cron mail for
80,000 rows. So the default (INFO) log of a run is its start, one ``run_progress`` line every
:data:`PROGRESS_EVERY_S` seconds (rows decided, sent, requests, 429s, rows per second, ETA)
and ``run_finished``; the line per row (``row_decided``) is DEBUG.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field

import anyio
import structlog

from dispatcher.operations.session import Live
from dispatcher.pipeline import OutcomeHook
from dispatcher.vocabulary import RowState

__all__ = ["PROGRESS_EVERY_S", "Tally", "log_progress"]

log = structlog.get_logger("dispatcher.run")

PROGRESS_EVERY_S = 10.0


@dataclass
class Tally:
    """Rows decided by this run, by state; passes each on to the run's own hook."""

    then: OutcomeHook | None = None
    states: Counter[RowState] = field(default_factory=Counter)

    def __call__(self, state: RowState) -> None:
        self.states[state] += 1
        if self.then is not None:
            self.then(state)

    @property
    def decided(self) -> int:
        return sum(self.states.values())


async def log_progress(live: Live, tally: Tally, to_decide: int,
                       every_s: float = PROGRESS_EVERY_S) -> None:
    """Log one ``run_progress`` line every ``every_s`` seconds until cancelled."""
    started = time.monotonic()
    while True:
        await anyio.sleep(every_s)
        elapsed = time.monotonic() - started
        decided = tally.decided
        per_s = decided / elapsed if elapsed > 0 else 0.0
        left = max(0, to_decide - decided)
        stats = live.pacer.statistics()
        log.info("run_progress", decided=decided, of=to_decide,
                 sent=tally.states[RowState.SENT], requests=stats.requests,
                 throttled=stats.throttled, rows_per_s=round(per_s, 1),
                 eta_s=round(left / per_s) if per_s > 0 and left else None)
