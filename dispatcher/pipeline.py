"""The dispatch pipeline: profile workers → submit workers → one ledger writer.

One anyio task group, bounded memory streams between the stages (a slow gateway pushes back
on the reader instead of filling memory), and a single task that owns the ledger. Every HTTP
call goes through one ``ioapi.Client`` whose calls all wait on one ``Pacer``.

Why a writer that acknowledges intents: a submit worker may not let its ``POST /messages``
leave before the row is committed as ``sending``. The writer batches whatever is queued into
one transaction, so sixteen workers cost one fsync, not sixteen.

With a profile cache (``run --profile-cache``), a profile worker asks it first: a trusted
decision skips ``POST /profiles`` (see :mod:`dispatcher.profilecache` for when that is safe),
and each real answer is queued for the cache, written in batches by one thread at a time.

Stopping: the first SIGINT/SIGTERM, the stop file or the deadline stops the feeding of new
rows; requests in flight finish (or are cancelled after ``grace_seconds``); the ledger is
flushed; a second signal cancels at once. Rows cut off while ``sending`` become ``ambiguous``.
"""

from __future__ import annotations

import math
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import structlog
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from dispatcher.ioapi import Client, ErrorRateExceeded, WireState
from dispatcher.ledger import Ledger, Outcome
from dispatcher.privacy import mask_fiscal_code
from dispatcher.profilecache import CachedProfiles
from dispatcher.vocabulary import PROFILE_OUTCOMES, SUBMIT_OUTCOMES, ProfileKind, RowState

if TYPE_CHECKING:
    from dispatcher.pacing import SecondSample

log = structlog.get_logger("dispatcher.pipeline")

OutcomeHook = Callable[[RowState], None]

@dataclass(frozen=True)
class Job:
    """One pending row on its way through the stages."""

    row: int
    fiscal_code: str
    payload: dict[str, Any]


@dataclass(frozen=True)
class PipelineOptions:
    """How hard and how long to push; the Pacer sets the actual pace."""

    concurrency: int = 16
    grace_seconds: float = 30.0
    deadline: datetime | None = None
    stop_file: Path | None = None
    handle_signals: bool = True
    writer_batch: int = 512


@dataclass
class StopControl:
    """Why and when the run stopped taking rows; shared by every stage."""

    event: anyio.Event = field(default_factory=anyio.Event)
    reason: str | None = None
    fatal: str | None = None

    def stop(self, reason: str, *, fatal: bool = False) -> None:
        if self.reason is None:
            self.reason = reason
            log.warning("run_stopping", reason=reason)
        if fatal and self.fatal is None:
            self.fatal = reason
        self.event.set()

    @property
    def is_set(self) -> bool:
        return self.event.is_set()


TimelineSource = Callable[[], "list[SecondSample]"]
"""The Pacer's per-second counters (:meth:`dispatcher.pacing.Pacer.timeline`)."""


class LedgerWriter:
    """The only task that writes the ledger: batched commits, acknowledged intents.

    With a ``timeline``, a commit also saves the seconds counted since the last save (at
    most every ``checkpoint_s``), so the report of a run killed with ``kill -9`` still has
    its requests, 429s and timeline up to then.
    """

    def __init__(self, ledger: Ledger, campaign_id: int, run_id: int, batch: int,
                 timeline: TimelineSource | None = None, checkpoint_s: float = 2.0) -> None:
        self.ledger = ledger
        self.campaign_id = campaign_id
        self.run_id = run_id
        self.batch = batch
        self._timeline = timeline
        self._checkpoint_s = checkpoint_s
        self._saved_at = -math.inf
        self._saved_from = 0  # the last saved second may have grown since: saved again
        self._send, self._receive = anyio.create_memory_object_stream[
            tuple[int, anyio.Event] | Outcome
        ](max_buffer_size=batch * 4)
        self._thread = anyio.CapacityLimiter(1)

    def sender(self) -> MemoryObjectSendStream[tuple[int, anyio.Event] | Outcome]:
        return self._send.clone()

    def close_original(self) -> None:
        self._send.close()

    async def run(self) -> None:
        async with self._receive:
            try:
                while True:
                    try:
                        first = await self._receive.receive()
                    except anyio.EndOfStream:
                        return
                    await self._commit(self._drain([first]))
            except anyio.get_cancelled_exc_class():
                with anyio.CancelScope(shield=True):
                    while batch := self._drain([]):
                        await self._commit(batch)
                raise

    def _drain(self, items: list[tuple[int, anyio.Event] | Outcome]) -> list[Any]:
        while len(items) < self.batch:
            try:
                items.append(self._receive.receive_nowait())
            except (anyio.WouldBlock, anyio.EndOfStream, anyio.ClosedResourceError):
                break
        return items

    async def _commit(self, items: list[tuple[int, anyio.Event] | Outcome]) -> None:
        if not items:
            return
        intents = [item for item in items if isinstance(item, tuple)]
        outcomes = [item for item in items if isinstance(item, Outcome)]
        seconds = self._seconds_to_save()

        def commit() -> None:
            if outcomes:
                self.ledger.record_outcomes(self.campaign_id, self.run_id, outcomes)
            if intents:
                self.ledger.mark_sending(self.campaign_id, self.run_id, [r for r, _ in intents])
            if seconds:
                self.ledger.record_timeline(self.run_id, seconds)

        await anyio.to_thread.run_sync(commit, limiter=self._thread)
        for _, committed in intents:
            committed.set()

    def _seconds_to_save(self) -> list[tuple[int, int, int, float | None, float | None]]:
        """Read on the event loop, where the Pacer counts; written by the commit thread."""
        now = time.monotonic()
        if self._timeline is None or now - self._saved_at < self._checkpoint_s:
            return []
        self._saved_at = now
        seconds = [(s.second, s.requests, s.throttled, s.target_rate, s.current_rate)
                   for s in self._timeline() if s.second >= self._saved_from]
        if seconds:
            self._saved_from = seconds[-1][0]
        return seconds


class Dispatch:
    """One run of the pipeline over the pending rows of one campaign."""

    def __init__(
        self,
        *,
        client: Client,
        writer: LedgerWriter,
        options: PipelineOptions,
        on_outcome: OutcomeHook | None = None,
        profile_cache: CachedProfiles | None = None,
    ) -> None:
        self.client = client
        self.writer = writer
        self.options = options
        self.on_outcome = on_outcome or (lambda state: None)
        self.profile_cache = profile_cache
        """Asked before ``POST /profiles``; the runner flushes its last answers after the run."""
        self._cache_thread = anyio.CapacityLimiter(1)
        self.stop = StopControl()
        self.late_outcomes: list[Outcome] = []
        """Decided while the run was being cancelled: the runner commits them afterwards."""
        self.never_sent: set[int] = set()
        """Rows cut off in ``sending`` before any byte left: the runner makes them pending."""
        self._signals = 0

    async def run(self, jobs: Iterator[Job]) -> None:
        """Send every job; return when all are decided or the run was stopped."""
        n = max(1, self.options.concurrency)
        to_profile_send, to_profile = anyio.create_memory_object_stream[Job](n * 2)
        to_submit_send, to_submit = anyio.create_memory_object_stream[Job](n * 2)
        async with anyio.create_task_group() as outer:
            outer.start_soon(self._watch_stop_sources, outer.cancel_scope)
            with anyio.CancelScope() as pipeline_scope:
                self._pipeline_scope = pipeline_scope
                async with anyio.create_task_group() as tg:
                    tg.start_soon(self.writer.run)
                    tg.start_soon(self._feed, jobs, to_profile_send)
                    self._start_workers(tg, n, to_profile, to_submit_send, to_submit)
                    self.writer.close_original()
            outer.cancel_scope.cancel()

    def _start_workers(
        self,
        tg: TaskGroup,
        n: int,
        to_profile: MemoryObjectReceiveStream[Job],
        to_submit_send: MemoryObjectSendStream[Job],
        to_submit: MemoryObjectReceiveStream[Job],
    ) -> None:
        with to_profile, to_submit_send:
            for _ in range(n):
                tg.start_soon(self._profile_worker, to_profile.clone(), to_submit_send.clone(),
                              self.writer.sender())
        with to_submit:
            for _ in range(n):
                tg.start_soon(self._submit_worker, to_submit.clone(), self.writer.sender())

    async def _feed(self, jobs: Iterator[Job], out: MemoryObjectSendStream[Job]) -> None:
        async with out:
            while not self.stop.is_set:
                chunk = await anyio.to_thread.run_sync(lambda: list(islice(jobs, 256)))
                if not chunk:
                    return
                for job in chunk:
                    if self.stop.is_set:
                        return
                    await out.send(job)

    async def _decide(
        self, ledger_out: MemoryObjectSendStream[Any], job: Job, outcome: Outcome
    ) -> None:
        try:
            await ledger_out.send(outcome)
        except (anyio.get_cancelled_exc_class(), anyio.BrokenResourceError):
            self.late_outcomes.append(outcome)  # committing twice is harmless
            raise
        self.on_outcome(outcome.state)
        log.info(
            "row_decided",
            row=job.row,
            fiscal_code=mask_fiscal_code(job.fiscal_code),
            state=outcome.state.value,
            http_status=outcome.http_status,
            message_id=outcome.message_id,
            detail=outcome.detail,
        )

    async def _profile_worker(
        self,
        inbox: MemoryObjectReceiveStream[Job],
        outbox: MemoryObjectSendStream[Job],
        ledger_out: MemoryObjectSendStream[Any],
    ) -> None:
        async with inbox, outbox, ledger_out:
            async for job in inbox:
                if self.stop.is_set:
                    continue  # stays pending: the next run takes it
                cache = self.profile_cache
                cached = cache.lookup(job.fiscal_code) if cache is not None else None
                if cached is not None:  # no request: IO re-checks consent when it processes
                    if cached.kind is ProfileKind.ALLOWED:
                        await outbox.send(job)
                    else:
                        await self._decide(ledger_out, job, Outcome(
                            job.row, PROFILE_OUTCOMES[cached.kind], None, None, cached.detail, 0))
                    continue
                try:
                    answer = await self.client.check_profile(job.fiscal_code)
                except ErrorRateExceeded as exc:
                    self.stop.stop(str(exc))
                    continue
                if cache is not None:
                    await self._remember(cache, job.fiscal_code, answer.kind)
                if answer.kind is ProfileKind.ALLOWED:
                    await outbox.send(job)
                    continue
                if answer.is_auth_error:
                    self.stop.stop(f"IO refused the API key: {answer.detail}", fatal=True)
                    continue
                state = PROFILE_OUTCOMES[answer.kind]
                detail = answer.detail
                if state in (RowState.REJECTED, RowState.FAILED):
                    detail = f"profile check: {detail}"
                await self._decide(
                    ledger_out,
                    job,
                    Outcome(job.row, state, answer.http_status, None, detail, answer.attempts),
                )

    async def _remember(self, cache: CachedProfiles, fiscal_code: str, kind: ProfileKind) -> None:
        """Queue an answer for the cache; a full batch is written by one thread at a time."""
        batch = cache.note(fiscal_code, kind)
        if batch:
            await anyio.to_thread.run_sync(cache.write, batch, limiter=self._cache_thread)

    async def _submit_worker(
        self,
        inbox: MemoryObjectReceiveStream[Job],
        ledger_out: MemoryObjectSendStream[Any],
    ) -> None:
        async with inbox, ledger_out:
            async for job in inbox:
                if self.stop.is_set:
                    continue
                wire = WireState()
                try:
                    committed = anyio.Event()
                    await ledger_out.send((job.row, committed))
                    await committed.wait()  # intent is durable: now the POST may leave
                    if self.stop.is_set:
                        self.never_sent.add(job.row)
                        continue
                    answer = await self.client.submit_message(job.payload, wire=wire)
                except anyio.get_cancelled_exc_class():
                    if not wire.maybe_sent:
                        self.never_sent.add(job.row)
                    raise
                except ErrorRateExceeded as exc:
                    # The breaker trips before an attempt leaves: nothing was sent.
                    self.stop.stop(str(exc))
                    self.never_sent.add(job.row)
                    continue
                if answer.is_auth_error:  # APIM refused it: nothing was stored
                    self.stop.stop(f"IO refused the API key: {answer.detail}", fatal=True)
                    self.never_sent.add(job.row)
                    continue
                state = SUBMIT_OUTCOMES[answer.kind]
                await self._decide(
                    ledger_out,
                    job,
                    Outcome(job.row, state, answer.http_status, answer.message_id, answer.detail,
                            answer.attempts),
                )

    async def _watch_stop_sources(self, cancel_everything: anyio.CancelScope) -> None:
        """Signals, stop file and deadline; after the grace period, cancel what is in flight."""
        async with anyio.create_task_group() as tg:
            if self.options.handle_signals:
                tg.start_soon(self._watch_signals, cancel_everything)
            tg.start_soon(self._watch_file_and_deadline)
            await self.stop.event.wait()
            with anyio.move_on_after(self.options.grace_seconds):
                await anyio.sleep_forever()
            log.warning("grace_period_over", seconds=self.options.grace_seconds)
            self._pipeline_scope.cancel()

    async def _watch_signals(self, cancel_everything: anyio.CancelScope) -> None:
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for signum in signals:
                name = signal.Signals(signum).name
                self._signals += 1
                if self._signals > 1:
                    log.warning("second_signal_cancelling", signal=name)
                    self._pipeline_scope.cancel()
                    return
                self.stop.stop(f"received {name}")

    async def _watch_file_and_deadline(self) -> None:
        deadline = self.options.deadline.timestamp() if self.options.deadline else None
        stop_file = self.options.stop_file
        while not self.stop.is_set:
            if stop_file is not None and stop_file.exists():
                self.stop.stop(f"stop file {stop_file} found")
            elif deadline is not None and time.time() >= deadline:
                self.stop.stop(f"deadline {self.options.deadline:%Y-%m-%d %H:%M} reached")
            await anyio.sleep(0.5)
