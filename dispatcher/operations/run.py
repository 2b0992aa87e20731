"""``dispatcher run``: one campaign file → every row decided in the ledger, and the exports.

The order of things: hash the input (and validate a new one: an invalid file costs no
request); take the ledger's lock; the pre-flight (base URL, key, one probe request, before
any citizen); continue the campaign of this input or begin a new one
(:mod:`~dispatcher.operations.starting`); insist on a test send when asked; the operator's
last look (on a terminal); recover what an earlier run left in flight and reconcile the
service's send journal (:mod:`~dispatcher.operations.send_guard`); then one session runs the
recorder, the pipeline and the timeline checkpoints together; afterwards the rows cut off
before they left go back to pending, the run is closed, and ``results.csv``/``.parquet`` are
written in the format ``dispatcher report`` writes.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import httpx
import structlog

from dispatcher.audit import run_audit
from dispatcher.campaign import CampaignSource, Fingerprint
from dispatcher.ledger import Ledger, Outcome, TimelineSample, open_for_reading
from dispatcher.operations.errors import OperationRefused, refusals
from dispatcher.operations.exports import ExportPaths, export_results
from dispatcher.operations.preflight import announce, preflight
from dispatcher.operations.progress_log import Tally, log_progress
from dispatcher.operations.send_guard import SendGuard, open_guard
from dispatcher.operations.session import Live, Ran, Session, open_profile_cache
from dispatcher.operations.starting import (
    Feeder,
    Start,
    expected_counts,
    start_campaign,
    validate_first,
)
from dispatcher.operations.timeline import checkpoint_timeline, samples
from dispatcher.pacing import PacerStatistics
from dispatcher.pipeline import Dispatch, Intent, OutcomeHook
from dispatcher.profilecache import (
    CachedProfiles,
    ProfileCacheStats,
    ProfileCacheUse,
    service_fingerprint,
)
from dispatcher.settings import Settings
from dispatcher.stopping import StopOptions
from dispatcher.vocabulary import ExitCode, RowState
from dispatcher.writer import Commit

if TYPE_CHECKING:
    import polars as pl

__all__ = ["RunHooks", "RunOptions", "RunResult", "SendPreview", "run_campaign"]

log = structlog.get_logger("dispatcher.run")


@dataclass(frozen=True)
class RunOptions:
    """The operator's explicit choices for one run (each defaults to the safe side)."""

    stops: StopOptions = field(default_factory=StopOptions)
    skip_invalid: bool = False
    resend_ambiguous: bool = False
    retry_failed: bool = False
    allow_resend: bool = False
    new_campaign: bool = False
    require_test: bool = False
    profile_cache: ProfileCacheUse | None = None
    export_dir: Path | None = None  # default: the ledger's folder
    export: bool = True
    writer_batch: int = 512
    journal: Path | None = None  # --journal: the service's send journal, instead of the default
    operator: str | None = None  # --operator: who runs it (default DISPATCHER_OPERATOR, OS user)


@dataclass(frozen=True)
class SendPreview:
    """What a run is about to do, for the operator's last look before anything is sent."""

    campaign_id: int
    resumed: bool
    messages: int  # rows still to send
    base_url: str
    service: str  # the service's fingerprint (never the key)
    rate: str
    estimated_s: float  # a profile check and a submit per message, at the budget's pace


@dataclass(frozen=True)
class RunHooks:
    """How a terminal follows the run (the progress bar, the confirmation); all optional."""

    on_start: Callable[[int, dict[RowState, int]], None] | None = None
    on_outcome: OutcomeHook | None = None
    on_pacer: Callable[[Callable[[], PacerStatistics]], None] | None = None
    confirm: Callable[[SendPreview], bool] | None = None
    """Asked once the campaign is known and before any request; False sends nothing."""


@dataclass(frozen=True)
class RunResult:
    """What a run did, for the screen, the JSON summary and the exit code."""

    ledger_path: Path
    campaign_id: int
    run_id: int
    counts: dict[RowState, int]
    started_at: float
    duration_s: float
    requests: int
    throttled: int
    recovered_ambiguous: int
    stopped_reason: str | None
    fatal: str | None
    resumed: bool
    unrecorded: bool = False  # the recording of the campaign's rows was cut short
    profile_cache: ProfileCacheStats | None = None
    exports: ExportPaths | None = None
    unreached: int = 0  # rows left pending: their request never reached IO
    postponed: int = 0  # rows left pending: another live run is sending the same message
    journal: Path | None = None

    @property
    def unfinished(self) -> int:
        return self.counts[RowState.PENDING] + self.counts[RowState.SENDING]

    @property
    def exit_code(self) -> ExitCode:
        if self.fatal:
            return ExitCode.CONFIG_ERROR
        if self.unfinished or self.unrecorded:
            return ExitCode.STOPPED
        if any(self.counts[s] for s in RowState if s.is_problem):
            return ExitCode.INCOMPLETE
        return ExitCode.OK


def run_campaign(
    source: CampaignSource,
    *,
    settings: Settings,
    ledger_path: Path,
    options: RunOptions = RunOptions(),
    hooks: RunHooks = RunHooks(),
    transport: httpx.AsyncBaseTransport | None = None,
) -> RunResult:
    """Validate-then-dispatch for one campaign: the whole of ``dispatcher run``.

    Raises :class:`OperationRefused` when nothing may be sent (with the exit code).
    ``transport`` replaces the network (tests of how IO's answers are handled).
    """
    with refusals():
        fingerprint = source.fingerprint()
        loaded = validate_first(source, fingerprint, Path(ledger_path),
                                skip_invalid=options.skip_invalid)
        if options.require_test:
            _require_test(source, fingerprint, Path(ledger_path))
        with (open_profile_cache(options.profile_cache, settings) as cache,
              Session.open(settings, ledger_path, transport=transport) as session):
            # URL, key and service proven by one probe before any citizen is touched
            announce(preflight(settings, transport=transport))
            ledger = session.ledger
            start = start_campaign(ledger, source, fingerprint,
                                   skip_invalid=options.skip_invalid,
                                   new_campaign=options.new_campaign, loaded=loaded)
            if hooks.confirm is not None and not hooks.confirm(_preview(session, start)):
                raise OperationRefused(
                    f"{source.path}: not confirmed: nothing was sent. Run the same command "
                    "again to send (or add --yes)", ExitCode.STOPPED)
            result = _dispatch(session, start, options, hooks, cache)
            if options.export:
                frame = start.campaign.input_frame() if start.campaign else None
                result = _with_exports(result, ledger, source, frame, options.export_dir)
            return result


def _preview(session: Session, start: Start) -> SendPreview:
    settings = session.settings
    messages = expected_counts(session.ledger, start)[RowState.PENDING]
    return SendPreview(
        campaign_id=start.campaign_id, resumed=start.resumed, messages=messages,
        base_url=settings.base_url,
        service=service_fingerprint(settings.base_url, settings.require_api_key()),
        rate=str(settings.rate), estimated_s=2 * messages / settings.rate.per_second)


def _dispatch(session: Session, start: Start, options: RunOptions, hooks: RunHooks,
              cache: CachedProfiles | None) -> RunResult:
    ledger, cid = session.ledger, start.campaign_id
    run_id = ledger.runs.begin(cid, rate=str(session.settings.rate),
                               audit=run_audit(session.settings, options.operator))
    with open_guard(session.settings, ledger, cid, run_id, start.source.path.name,
                    allow_resend=options.allow_resend, override=options.journal) as guard:
        return _dispatch_guarded(session, start, options, hooks, cache, run_id, guard)


def _dispatch_guarded(session: Session, start: Start, options: RunOptions, hooks: RunHooks,
                      cache: CachedProfiles | None, run_id: int, guard: SendGuard) -> RunResult:
    ledger, cid = session.ledger, start.campaign_id
    recovered = _prepare_rows(ledger, cid, run_id, options, guard)
    expected = expected_counts(ledger, start)
    if hooks.on_start:
        hooks.on_start(cid, expected)
    to_decide = expected[RowState.PENDING] + expected[RowState.SENDING]
    log.info("run_started", campaign_id=cid, run_id=run_id, resumed=start.resumed,
             rows_to_decide=to_decide, rate=str(session.settings.rate),
             journal=str(guard.journal.path))
    tally = Tally(hooks.on_outcome)
    started = time.time()
    state: dict[str, Any] = {}

    async def work(live: Live) -> None:
        feeder = state["feeder"] = Feeder(ledger, live.writer, start, guard, on_outcome=tally)
        dispatch = state["dispatch"] = Dispatch(
            client=live.client, writer=live.writer, stops=live.stops,
            concurrency=session.settings.concurrency, on_outcome=tally, profile_cache=cache)
        if hooks.on_pacer:
            hooks.on_pacer(live.pacer.statistics)
        async with anyio.create_task_group() as checkpoints:
            checkpoints.start_soon(checkpoint_timeline, live, ledger, run_id)
            checkpoints.start_soon(log_progress, live, tally, to_decide)
            # A stopped pipeline still lets the recorder finish: every row reaches the ledger.
            async with anyio.create_task_group() as feeding:
                feeding.start_soon(feeder.record)
                async with contextlib.aclosing(feeder.jobs()) as jobs:
                    await dispatch.run(jobs)
            checkpoints.cancel_scope.cancel()

    ran = session.run(work, commits=_commits(guard), stops=options.stops,
                      batch=options.writer_batch)
    # After the loop nothing else writes, so the main thread may commit.
    if "feeder" in state and state["feeder"].stale:
        ledger.rows.record_outcomes(cid, run_id, state["feeder"].stale)
    dispatch: Dispatch | None = state.get("dispatch")
    if dispatch is not None and dispatch.never_sent:
        guard.release_unsent(sorted(dispatch.never_sent))
    if cache is not None:
        cache.flush()
    # Rows cut off mid-request (grace period over, breaker) may have reached IO.
    recovered += ledger.rows.recover_interrupted(cid, run_id)
    guard.reconcile()  # those rows' reservations: ambiguous in the journal too
    result = _finish(session, start, run_id, ran, started, recovered, cache)
    return replace(result, unreached=dispatch.unreached if dispatch else 0,
                   postponed=guard.postponed, journal=guard.journal.path)


def _commits(guard: SendGuard) -> dict[type, Commit]:
    return {Outcome: guard.commit_outcomes, Intent: guard.commit_intents}


def _prepare_rows(ledger: Ledger, cid: int, run_id: int, options: RunOptions,
                  guard: SendGuard) -> int:
    """Rows an earlier run left in flight become ambiguous; the operator's requeues.

    The journal is reconciled in between: a row that was mid-POST at a crash is ambiguous in
    the journal too *before* ``--resend-ambiguous`` makes it pending, so no other ledger
    sends it meanwhile; this run takes its own entry back when it reserves the row again.
    """
    recovered = ledger.rows.recover_interrupted(cid, run_id)
    guard.reconcile()
    if options.resend_ambiguous:
        ledger.rows.requeue_ambiguous(cid, run_id)
    if options.retry_failed:
        ledger.rows.requeue_failed(cid, run_id)  # failed and rejected: never stored
    if ledger.rows.unfinished(cid):
        ledger.campaigns.reopen(cid)
    return recovered


def _finish(session: Session, start: Start, run_id: int, ran: Ran[None], started: float,
            recovered: int, cache: CachedProfiles | None) -> RunResult:
    ledger, cid = session.ledger, start.campaign_id
    counts = ledger.rows.counts(cid)
    unrecorded = not ledger.campaigns.get(cid).recorded
    result = RunResult(
        ledger_path=ledger.path, campaign_id=cid, run_id=run_id, counts=counts,
        started_at=started, duration_s=time.time() - started,
        requests=ran.statistics.requests, throttled=ran.statistics.throttled,
        recovered_ambiguous=recovered, stopped_reason=ran.stopped, fatal=ran.fatal,
        resumed=start.resumed, unrecorded=unrecorded,
        profile_cache=cache.statistics() if cache else None,
    )
    if not result.unfinished and not unrecorded:
        ledger.campaigns.complete(cid)
    timeline: list[TimelineSample] = samples(ran.timeline)
    ledger.runs.finish(run_id, requests=result.requests, throttled=result.throttled,
                       stopped_reason=ran.fatal or ran.stopped,
                       exit_code=int(result.exit_code), timeline=timeline)
    log.info("run_finished", **{s.value: n for s, n in counts.items()},
             requests=result.requests, throttled=result.throttled,
             stopped_reason=ran.stopped, exit_code=int(result.exit_code))
    return result


def _with_exports(result: RunResult, ledger: Ledger, source: CampaignSource,
                  frame: pl.DataFrame | None, export_dir: Path | None) -> RunResult:
    paths = export_results(ledger, result.campaign_id, export_dir or ledger.path.parent,
                           input_frame=frame, source=source)
    return replace(result, exports=paths)


def _require_test(source: CampaignSource, fingerprint: Fingerprint, ledger_path: Path) -> None:
    """``--require-test``: a test send of exactly this file + template was accepted by IO.

    Asked of the ledger read-only, before anything is created or recorded.
    """
    if ledger_path.exists():
        with open_for_reading(ledger_path) as ledger:
            if ledger.test_sends.has_successful(fingerprint.input_sha256,
                                                fingerprint.template_sha256):
                return
    template = f" -t {source.template}" if source.template else ""
    raise OperationRefused(
        f"{source.path}: --require-test: no test send of this file and template was accepted "
        f"by IO (ledger {ledger_path}). Run `dispatcher test {source.path}{template} --to "
        "AAAAAA00A00A000A` first, check the message, then run again. Nothing was sent",
        ExitCode.INVALID_INPUT,
    )
