"""The dispatch pipeline: profile workers → submit workers → the session's ledger writer.

One anyio task group, bounded memory streams between the stages (a slow gateway pushes back
on the feed instead of filling memory), and the session's single
:class:`~dispatcher.writer.BatchWriter` owning the ledger. Every HTTP call goes through one
``ioapi.Client`` whose calls all wait on one ``Pacer``; every answer goes through the
session's :class:`~dispatcher.stopping.StopPolicy` (401 → fatal stop, breaker → stop).

Intent before send: a submit worker queues the row's :class:`Intent` and waits until the
writer has committed it as ``sending``; only then may its ``POST /messages`` leave.

With a profile cache (``run --profile-cache``), a profile worker asks it first: a trusted
decision skips ``POST /profiles`` (see :mod:`dispatcher.profilecache` for when that is safe),
and each real answer is queued for the cache, written in batches by one thread at a time.

The send journal: an :class:`Intent` carries the row's recipient and content hash, and the
writer's commit reserves them in the service's journal in the same step; the commit says
back whether the row may go (``taken``), was sent before (``refused``: the commit recorded
it as ``already_sent``) or is being sent by another live run (``postponed``: it stays pending).

Mistakes that hit every row: until a stage has had one good answer, its requests go one at a
time, and when its first answers are all the same refusal (:class:`FirstAnswers`), the run
stops at once as a configuration error, with every untried row still pending.

Rows whose request provably never reached IO (connection refused, DNS, pool timeout) stay
pending, never ``failed``: :attr:`Dispatch.unreached` counts them, and the next run takes them.

The send window (``run --send-window``): a :class:`~dispatcher.schedule.SendGate` is asked
before each new profile check and submit (before the intent), so no request starts while the
window is shut; the ones in flight finish and are recorded.

Stopping: once the stop policy is set, no worker takes a new row; rows cut off in
``sending`` before any byte left are listed in :attr:`Dispatch.never_sent` (the caller makes
them pending again); rows cut off while their request was on the wire stay ``sending`` and
become ``ambiguous`` on recovery.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

import anyio
import structlog
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from dispatcher.ioapi import Answer, Client, WireState
from dispatcher.ioapi.models import NOT_IO
from dispatcher.ledger import Outcome
from dispatcher.message import OutgoingMessage
from dispatcher.privacy import mask_fiscal_code
from dispatcher.profilecache import CachedProfiles
from dispatcher.schedule import SendGate
from dispatcher.stopping import FirstAnswers, StopPolicy
from dispatcher.vocabulary import (
    PROFILE_OUTCOMES,
    SUBMIT_OUTCOMES,
    ProfileKind,
    RowState,
    SubmitKind,
)
from dispatcher.writer import BatchWriter

__all__ = ["Dispatch", "Intent", "IntentVerdict", "Job", "OutcomeHook"]

A = TypeVar("A", bound=Answer)

log = structlog.get_logger("dispatcher.pipeline")

OutcomeHook = Callable[[RowState], None]


@dataclass(frozen=True, slots=True)
class Job:
    """One pending row on its way through the stages."""

    row: int
    message: OutgoingMessage

    @property
    def fiscal_code(self) -> str:
        return self.message.fiscal_code


class IntentVerdict(StrEnum):
    """What the commit of an intent decided (see the module docstring)."""

    TAKEN = "taken"
    REFUSED = "refused"
    POSTPONED = "postponed"


@dataclass(slots=True)
class Intent:
    """"This row's POST is about to leave": committed as ``sending`` before it does.

    ``verdict`` is written by the commit, before :meth:`BatchWriter.put_and_wait` returns.
    """

    row: int
    fiscal_code: str
    content_hash: str
    verdict: IntentVerdict = IntentVerdict.TAKEN


class Dispatch:
    """One run of the pipeline over a stream of pending rows."""

    def __init__(
        self,
        *,
        client: Client,
        writer: BatchWriter,
        stops: StopPolicy,
        concurrency: int = 16,
        on_outcome: OutcomeHook | None = None,
        profile_cache: CachedProfiles | None = None,
        gate: SendGate | None = None,
    ) -> None:
        self.client = client
        self.writer = writer
        self.stops = stops
        self.concurrency = max(1, concurrency)
        self.on_outcome = on_outcome or (lambda state: None)
        self.profile_cache = profile_cache
        """Asked before ``POST /profiles``; the caller flushes its last answers afterwards."""
        self._cache_thread = anyio.CapacityLimiter(1)
        self.gate = gate
        """The send window: asked before each new profile check and submit."""
        self.never_sent: set[int] = set()
        """Rows cut off in ``sending`` before any byte left: the caller makes them pending."""
        self.unreached = 0
        """Rows left pending because their request provably never reached IO."""
        self.first_profiles = FirstAnswers("profile check")
        self.first_submits = FirstAnswers("message submit")

    async def run(self, jobs: AsyncIterator[Job]) -> None:
        """Send every job; return when all are decided or the run was stopped."""
        n = self.concurrency
        to_profile_send, to_profile = anyio.create_memory_object_stream[Job](n * 2)
        to_submit_send, to_submit = anyio.create_memory_object_stream[Job](n * 2)
        async with anyio.create_task_group() as tg:
            tg.start_soon(self._feed, jobs, to_profile_send)
            self._start_workers(tg, to_profile, to_submit_send, to_submit)

    def _start_workers(
        self,
        tg: TaskGroup,
        to_profile: MemoryObjectReceiveStream[Job],
        to_submit_send: MemoryObjectSendStream[Job],
        to_submit: MemoryObjectReceiveStream[Job],
    ) -> None:
        with to_profile, to_submit_send:
            for _ in range(self.concurrency):
                tg.start_soon(self._profile_worker, to_profile.clone(), to_submit_send.clone())
        with to_submit:
            for _ in range(self.concurrency):
                tg.start_soon(self._submit_worker, to_submit.clone())

    async def _feed(self, jobs: AsyncIterator[Job], out: MemoryObjectSendStream[Job]) -> None:
        async with out:
            async for job in jobs:
                if self.stops.is_set:
                    return
                await out.send(job)

    async def _decide(self, job: Job, outcome: Outcome) -> None:
        await self.writer.put(outcome)
        self.on_outcome(outcome.state)
        log.debug(  # one line per row: --log-level debug only (80,000 rows are 20 MB of mail)
            "row_decided", row=job.row, fiscal_code=mask_fiscal_code(job.fiscal_code),
            state=outcome.state.value, http_status=outcome.http_status,
            message_id=outcome.message_id, detail=outcome.detail,
        )

    async def _profile_worker(
        self, inbox: MemoryObjectReceiveStream[Job], outbox: MemoryObjectSendStream[Job]
    ) -> None:
        async with inbox, outbox:
            async for job in inbox:
                if self.stops.is_set or not await self._admitted():
                    continue  # stays pending: the next run takes it
                cache = self.profile_cache
                cached = cache.lookup(job.fiscal_code) if cache is not None else None
                if cached is not None:  # no request: IO re-checks consent when it processes
                    if cached.kind is ProfileKind.ALLOWED:
                        await outbox.send(job)
                    else:
                        await self._decide(job, Outcome(
                            job.row, PROFILE_OUTCOMES[cached.kind], None, None, cached.detail, 0))
                    continue
                answer = await self._ask(self.first_profiles, functools.partial(
                    self.client.check_profile, job.fiscal_code))
                if answer is None:
                    continue  # stays pending
                if answer.never_left:
                    self.unreached += 1
                    continue  # IO never heard of it: stays pending for the next run
                if cache is not None:
                    await self._remember(cache, job.fiscal_code, answer.kind)
                if answer.kind is ProfileKind.ALLOWED:
                    await outbox.send(job)
                    continue
                state = PROFILE_OUTCOMES[answer.kind]
                detail = answer.detail
                if state in (RowState.REJECTED, RowState.FAILED):
                    detail = f"profile check: {detail}"
                await self._decide(job, Outcome(job.row, state, answer.http_status, None, detail,
                                                answer.attempts))

    async def _remember(self, cache: CachedProfiles, fiscal_code: str, kind: ProfileKind) -> None:
        """Queue an answer for the cache; a full batch is written by one thread at a time."""
        batch = cache.note(fiscal_code, kind)
        if batch:
            await anyio.to_thread.run_sync(cache.write, batch, limiter=self._cache_thread)

    async def _submit_worker(self, inbox: MemoryObjectReceiveStream[Job]) -> None:
        async with inbox:
            async for job in inbox:
                if self.stops.is_set or not await self._admitted():
                    continue  # before the intent: a row waiting for the window is not sending
                wire = WireState()
                intent = Intent(job.row, job.fiscal_code, job.message.content_hash)
                try:
                    await self.writer.put_and_wait(intent)  # durable: now it may leave
                    if intent.verdict is not IntentVerdict.TAKEN:
                        self._not_taken(intent)
                        continue
                    if self.stops.is_set:
                        self.never_sent.add(job.row)
                        continue
                    answer = await self._ask(self.first_submits, functools.partial(
                        self.client.submit_message, job.message, wire=wire))
                except anyio.get_cancelled_exc_class():
                    if not wire.maybe_sent:
                        self.never_sent.add(job.row)
                    raise
                if answer is None or answer.never_left:
                    # the breaker, a 401, a stop, or a request that never left: nothing stored
                    self.unreached += answer is not None
                    self.never_sent.add(job.row)
                    continue
                await self._decide(job, Outcome(
                    job.row, SUBMIT_OUTCOMES[answer.kind], answer.http_status, answer.message_id,
                    answer.detail, answer.attempts))

    async def _admitted(self) -> bool:
        """Whether a new request may start: always without a send window."""
        return self.gate is None or await self.gate.admit()

    def _not_taken(self, intent: Intent) -> None:
        """Refused: the commit recorded it already_sent. Postponed: it stays pending (the
        send guard counts those)."""
        if intent.verdict is IntentVerdict.REFUSED:
            self.on_outcome(RowState.ALREADY_SENT)

    async def _ask(self, first: FirstAnswers, call: Callable[[], Awaitable[A]]) -> A | None:
        """One call through the stop policy; one at a time until the stage proved itself.

        Until a stage has had one good answer, its calls go one by one, so a mistake that
        hits every row (a wrong base path, a missing permission, a payment cap of 0) costs a
        few requests, not sixteen in flight; its first answers being the same refusal stops
        the run as a configuration error.
        """
        if first.learning:
            async with first.lock:
                if first.learning and not self.stops.is_set:
                    answer = await self.stops.ask(call())
                    if answer is not None:
                        self._judge(first, answer)
                    return answer
        if self.stops.is_set:  # e.g. the stage's first answers just stopped the run
            return None
        return await self.stops.ask(call())

    def _judge(self, first: FirstAnswers, answer: Answer) -> None:
        kind = getattr(answer, "kind", None)
        not_io = kind is SubmitKind.AMBIGUOUS and (answer.detail or "").startswith(NOT_IO)
        if kind in (ProfileKind.REJECTED, SubmitKind.REJECTED) or not_io:
            diagnosis = first.refused(answer.http_status, answer.title, answer.detail)
            if diagnosis is not None:
                self.stops.stop(diagnosis, fatal=True)
        elif kind in (ProfileKind.ALLOWED, ProfileKind.NOT_ALLOWED, ProfileKind.NO_PROFILE,
                      SubmitKind.SENT):
            first.proven()
