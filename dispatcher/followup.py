"""``dispatcher status`` as one function: ask IO what became of each sent message.

Only rows worth a request are asked about: sent, with a message id, not final yet, older
than ``min_age`` (IO needs a moment to process) and younger than ``horizon`` (after that a
message still ACCEPTED is not going to change). A cron job can run it every hour: each run
asks only for what is still open, and a final row is never asked about again.

Reads are idempotent, so they go through the same client, Pacer and retry rules as ``run``
and are retried freely. Nothing here sends or resends a message: a REJECTED message means
the citizen has no IO profile or blocked the service, and sending it again is pointless.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import anyio
import structlog
from anyio.streams.memory import MemoryObjectReceiveStream

from dispatcher.fanout import fan_out
from dispatcher.ioapi import Client, ErrorRateExceeded, MessageAnswer, MessageKind
from dispatcher.ledger import (
    Ledger,
    LedgerError,
    RunLock,
    StatusObservation,
    StatusPlan,
    StatusQuestion,
)
from dispatcher.pacing import Pacer
from dispatcher.privacy import mask_fiscal_code
from dispatcher.settings import Settings
from dispatcher.vocabulary import ExitCode

log = structlog.get_logger("dispatcher.followup")

StatusHook = Callable[[StatusObservation], None]

DEFAULT_MIN_AGE_S = 30 * 60.0
DEFAULT_HORIZON_S = 14 * 86400.0


@dataclass(frozen=True)
class StatusOptions:
    """Which sent rows to ask about, and how hard to push."""

    min_age_s: float = DEFAULT_MIN_AGE_S
    horizon_s: float = DEFAULT_HORIZON_S
    follow_reads: bool = False
    concurrency: int = 16
    writer_batch: int = 256


@dataclass(frozen=True)
class StatusSummary:
    """One ``status`` pass: what was asked, what IO said, what stays open."""

    ledger_path: Path
    campaign_id: int
    plan: StatusPlan  # as planned before asking
    asked: int
    answered: int  # IO gave a status
    became_final: int
    counts: dict[str, int]  # IO status → sent rows, after this pass
    open_after: int  # still worth asking later (not final, not expired)
    requests: int
    throttled: int
    duration_s: float
    fatal: str | None = None
    stopped: str | None = None

    @property
    def unanswered(self) -> int:
        return self.asked - self.answered

    @property
    def exit_code(self) -> ExitCode:
        if self.fatal:
            return ExitCode.CONFIG_ERROR
        if self.stopped:
            return ExitCode.STOPPED
        # REJECTED/FAILED are IO's verdicts, shown and counted, not errors of this pass: an
        # hourly cron job must not fail forever because one citizen blocked the service.
        if self.unanswered:
            return ExitCode.INCOMPLETE
        return ExitCode.OK


def observation_from(
    question: StatusQuestion, answer: MessageAnswer, at: float
) -> StatusObservation:
    """IO's answer → what the ledger keeps. Only a FOUND answer carries a status."""
    if answer.kind is MessageKind.FOUND:
        return StatusObservation(
            question.row, question.message_id, at, answer.status, answer.read_status,
            answer.payment_status, answer.http_status, None,
        )
    detail = answer.detail or answer.kind.value
    if answer.kind is MessageKind.NOT_FOUND:
        detail = f"IO does not know this message for this fiscal code: {detail}"
    return StatusObservation(
        question.row, question.message_id, at, None, None, None, answer.http_status, detail
    )


@dataclass
class _Pass:
    """Shared state of one pass over the due rows."""

    answered: int = 0
    final: int = 0
    fatal: str | None = None
    stopped: str | None = None


async def ask_statuses(
    *,
    ledger: Ledger,
    campaign_id: int,
    client: Client,
    due: list[StatusQuestion],
    options: StatusOptions,
    on_observation: StatusHook | None = None,
) -> tuple[int, int, str | None, str | None]:
    """Ask IO about ``due`` rows; one writer commits the answers in batches.

    Returns (answered, became final, fatal reason, stop reason).
    """
    state = _Pass()
    hook = on_observation or (lambda observation: None)
    answers_in, answers = anyio.create_memory_object_stream[StatusObservation](
        options.writer_batch * 4
    )

    async def ask(question: StatusQuestion) -> bool:
        try:
            answer = await client.get_message(question.fiscal_code, question.message_id)
        except ErrorRateExceeded as exc:
            state.stopped = str(exc)
            return False
        if answer.is_auth_error:
            state.fatal = f"IO refused the API key: {answer.detail}"
            return False
        observation = observation_from(question, answer, time.time())
        await answers_in.send(observation)
        state.answered += observation.status is not None
        state.final += observation.is_final
        hook(observation)
        log.info("status_checked", row=question.row,
                 fiscal_code=mask_fiscal_code(question.fiscal_code),
                 message_id=question.message_id, status=observation.status,
                 read_status=observation.read_status,
                 payment_status=observation.payment_status, detail=observation.detail)
        return True

    async def ask_all() -> None:
        async with answers_in:
            await fan_out(due, ask, concurrency=options.concurrency)

    async with anyio.create_task_group() as tg:
        tg.start_soon(_write_statuses, ledger, campaign_id, answers, options.writer_batch)
        tg.start_soon(ask_all)
    return state.answered, state.final, state.fatal, state.stopped


async def _write_statuses(
    ledger: Ledger,
    campaign_id: int,
    answers: MemoryObjectReceiveStream[StatusObservation],
    batch_size: int,
) -> None:
    """The only writer: whatever is queued goes into one commit; flushed even on cancel."""
    limiter = anyio.CapacityLimiter(1)
    batch: list[StatusObservation] = []
    async with answers:
        try:
            async for first in answers:
                batch = [first]
                while len(batch) < batch_size:
                    try:
                        batch.append(answers.receive_nowait())
                    except (anyio.WouldBlock, anyio.EndOfStream):
                        break
                await anyio.to_thread.run_sync(
                    ledger.record_statuses, campaign_id, batch, limiter=limiter
                )
                batch = []
        finally:
            with anyio.CancelScope(shield=True):
                if batch:
                    await anyio.to_thread.run_sync(
                        ledger.record_statuses, campaign_id, batch, limiter=limiter
                    )


def check_statuses(
    *,
    settings: Settings,
    ledger_path: Path,
    campaign_id: int | None = None,
    options: StatusOptions = StatusOptions(),
    on_plan: Callable[[StatusPlan], None] | None = None,
    on_observation: StatusHook | None = None,
) -> StatusSummary:
    """One status pass over a ledger's campaign (default: the latest one)."""
    api_key = settings.require_api_key()
    if not Path(ledger_path).exists():
        raise LedgerError(f"{ledger_path}: no such ledger (run `dispatcher run` first)")
    with RunLock(ledger_path), Ledger.open(ledger_path) as ledger:
        if campaign_id is None:
            latest = ledger.latest_campaign()
            if latest is None:
                raise LedgerError(f"{ledger_path}: the ledger holds no campaign yet")
            campaign_id = latest.campaign_id
        else:
            ledger.campaign(campaign_id)  # raises if unknown
        started = time.time()
        plan = ledger.plan_status_checks(
            campaign_id, now=started, min_age_s=options.min_age_s,
            horizon_s=options.horizon_s, follow_reads=options.follow_reads,
        )
        if on_plan:
            on_plan(plan)
        status_run = ledger.begin_status_run(campaign_id)
        pacers: list[Pacer] = []

        async def go() -> tuple[int, int, str | None, str | None]:
            if not plan.due:
                return 0, 0, None, None
            pacer = Pacer(settings.rate)
            pacers.append(pacer)
            async with Client.from_settings(settings, pacer, api_key=api_key) as client:
                return await ask_statuses(
                    ledger=ledger, campaign_id=campaign_id, client=client, due=plan.due,
                    options=options, on_observation=on_observation,
                )

        answered, final, fatal, stopped = anyio.run(go, backend="asyncio")
        requests = pacers[0].statistics().requests if pacers else 0
        throttled = pacers[0].statistics().throttled if pacers else 0
        ledger.finish_status_run(status_run, asked=len(plan.due), requests=requests,
                                 throttled=throttled)
        after = ledger.plan_status_checks(
            campaign_id, now=time.time(), min_age_s=options.min_age_s,
            horizon_s=options.horizon_s, follow_reads=options.follow_reads,
        )
        summary = StatusSummary(
            ledger_path=Path(ledger_path), campaign_id=campaign_id, plan=plan,
            asked=len(plan.due), answered=answered, became_final=final,
            counts=ledger.status_counts(campaign_id), open_after=after.open,
            requests=requests, throttled=throttled, duration_s=time.time() - started,
            fatal=fatal, stopped=stopped,
        )
        log.info("status_finished", campaign_id=campaign_id, asked=summary.asked,
                 answered=answered, became_final=final, open_after=summary.open_after,
                 requests=requests, throttled=throttled, **summary.counts)
        return summary
