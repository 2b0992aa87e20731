"""The run's per-second counters reach the ledger as the run goes, not only at its end.

A run killed with ``kill -9`` then still has its requests, 429s and timeline in the report.
The Pacer counts on the event loop, so the samples are read there and written through the
session's writer thread, in turn with the row commits.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import anyio

from dispatcher.ledger import Ledger, TimelineSample
from dispatcher.operations.session import Live
from dispatcher.pacing import SecondSample

__all__ = ["CHECKPOINT_S", "checkpoint_timeline", "samples"]

CHECKPOINT_S = 2.0


def samples(seconds: Iterable[SecondSample]) -> list[TimelineSample]:
    return [TimelineSample(s.second, s.requests, s.throttled, s.target_rate, s.current_rate)
            for s in seconds]


async def checkpoint_timeline(live: Live, ledger: Ledger, run_id: int,
                              every_s: float = CHECKPOINT_S) -> None:
    """Save the seconds counted since the last save: at the first request, then every
    ``every_s``; until cancelled. The last saved second may have grown: it is saved again.
    """
    saved_from = 0
    saved_at = -math.inf
    while True:
        await anyio.sleep(0.2)
        if anyio.current_time() - saved_at < every_s:
            continue
        fresh = [s for s in live.pacer.timeline() if s.second >= saved_from]
        if fresh:
            saved_from, saved_at = fresh[-1].second, anyio.current_time()
            await live.writer.call(ledger.runs.record_timeline, run_id, samples(fresh))
