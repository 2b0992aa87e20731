"""``dispatcher status``: ask IO what became of each sent message that is not final yet.

Only rows worth a request are asked about: sent, with a message id, not final yet, older
than ``min_age`` (IO needs a moment to process) and younger than ``horizon`` (after that a
message still ACCEPTED is not going to change). A cron job can run it every hour: each pass
asks only for what is still open, and a final row is never asked about again.

Reads are idempotent, so they go through the same session as ``run`` (one Pacer, the retry
rules, the stop policy) and are retried freely. Nothing here sends or resends a message: a
REJECTED message means the citizen has no IO profile or blocked the service.

A row without a message id cannot be asked about: an ``ambiguous`` row (the answer was lost,
or was not IO's), or a ``sent`` row of an older ledger that kept none. Those are counted as
needing attention (``unfollowable``, exit 3), never as settled.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import structlog

from dispatcher.fanout import fan_out
from dispatcher.ioapi import MessageAnswer, MessageKind
from dispatcher.ledger import LedgerError, StatusObservation, StatusPlan, StatusQuestion
from dispatcher.operations.errors import refusals
from dispatcher.operations.session import Live, Session
from dispatcher.privacy import mask_fiscal_code
from dispatcher.settings import Settings
from dispatcher.stopping import StopOptions, stop_exit_code
from dispatcher.vocabulary import ExitCode, RowState

__all__ = ["StatusHook", "StatusOptions", "StatusResult", "check_statuses", "observation_from"]

log = structlog.get_logger("dispatcher.status")

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
    stops: StopOptions = field(default_factory=lambda: StopOptions(grace_seconds=10.0))


@dataclass(frozen=True)
class StatusResult:
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
    unfollowable: int = 0  # rows without a message id to follow: ambiguous, or sent without one

    @property
    def unanswered(self) -> int:
        return self.asked - self.answered

    @property
    def exit_code(self) -> ExitCode:
        stop = stop_exit_code(self.fatal, self.stopped)
        if stop is not None:
            return stop
        # REJECTED/FAILED are IO's verdicts, shown and counted, not errors of this pass: an
        # hourly cron job must not fail forever because one citizen blocked the service.
        if self.unanswered or self.unfollowable:
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
class _Tally:
    answered: int = 0
    final: int = 0


def check_statuses(
    *,
    settings: Settings,
    ledger_path: Path,
    campaign_id: int | None = None,
    options: StatusOptions = StatusOptions(),
    on_plan: Callable[[StatusPlan], None] | None = None,
    on_observation: StatusHook | None = None,
) -> StatusResult:
    """One status pass over a ledger's campaign (default: the latest one).

    Raises :class:`~dispatcher.operations.errors.OperationRefused` (no key, no such ledger
    or campaign, ledger locked by a run).
    """
    with refusals():
        settings.require_api_key()
        if not Path(ledger_path).exists():
            raise LedgerError(f"{ledger_path}: no such ledger (run `dispatcher run` first)")
        with Session.open(settings, ledger_path) as session:
            return _check(session, campaign_id, options, on_plan, on_observation)


def _check(session: Session, campaign_id: int | None, options: StatusOptions,
           on_plan: Callable[[StatusPlan], None] | None,
           on_observation: StatusHook | None) -> StatusResult:
    ledger = session.ledger
    cid = _campaign_id(session, campaign_id)
    started = time.time()
    plan = _plan(session, cid, options, started)
    if on_plan:
        on_plan(plan)
    pass_id = ledger.statuses.begin_pass(cid)
    tally = _Tally()
    hook = on_observation or (lambda observation: None)

    async def ask(live: Live, question: StatusQuestion) -> bool:
        answer = await live.stops.ask(
            live.client.get_message(question.fiscal_code, question.message_id))
        if answer is None:
            return False
        observation = observation_from(question, answer, time.time())
        await live.writer.put(observation)
        tally.answered += observation.status is not None
        tally.final += observation.is_final
        hook(observation)
        log.debug("status_checked", row=question.row,
                 fiscal_code=mask_fiscal_code(question.fiscal_code),
                 message_id=question.message_id, status=observation.status,
                 read_status=observation.read_status,
                 payment_status=observation.payment_status, detail=observation.detail)
        return True

    async def work(live: Live) -> None:
        await fan_out(plan.due, lambda q: ask(live, q), concurrency=options.concurrency)

    requests = throttled = 0
    fatal = stopped = None
    if plan.due:
        ran = session.run(work, stops=options.stops, batch=options.writer_batch,
                          commits={StatusObservation: lambda items: ledger.statuses.record(
                              cid, items)})
        requests, throttled = ran.statistics.requests, ran.statistics.throttled
        fatal = ran.fatal
        stopped = None if fatal else ran.stopped
    ledger.statuses.finish_pass(pass_id, asked=len(plan.due), requests=requests,
                                throttled=throttled)
    result = StatusResult(
        ledger_path=ledger.path, campaign_id=cid, plan=plan, asked=len(plan.due),
        answered=tally.answered, became_final=tally.final,
        counts=ledger.statuses.counts(cid), open_after=_plan(session, cid, options).open,
        requests=requests, throttled=throttled, duration_s=time.time() - started,
        fatal=fatal, stopped=stopped,
        unfollowable=plan.without_id + ledger.rows.counts(cid)[RowState.AMBIGUOUS],
    )
    log.info("status_finished", campaign_id=cid, asked=result.asked, answered=tally.answered,
             became_final=tally.final, open_after=result.open_after, requests=requests,
             throttled=throttled, **result.counts)
    return result


def _campaign_id(session: Session, campaign_id: int | None) -> int:
    campaigns = session.ledger.campaigns
    if campaign_id is not None:
        return campaigns.get(campaign_id).campaign_id  # raises if unknown
    latest = campaigns.latest()
    if latest is None:
        raise LedgerError(f"{session.ledger.path}: the ledger holds no campaign yet")
    return latest.campaign_id


def _plan(session: Session, cid: int, options: StatusOptions,
          now: float | None = None) -> StatusPlan:
    return session.ledger.statuses.plan(
        cid, now=time.time() if now is None else now, min_age_s=options.min_age_s,
        horizon_s=options.horizon_s, follow_reads=options.follow_reads)
