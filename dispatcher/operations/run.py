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

Courteous sending (:mod:`dispatcher.schedule`): with a send window, every new request waits
for it (or, with ``--outside-window exit``, the run stops with exit 75 and the next cron tick
resumes); rows whose send-after time is still ahead stay pending without making the run
unfinished: the result counts them (``scheduled_later``) and a later run sends them.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import httpx
import structlog

from dispatcher.audit import run_audit
from dispatcher.campaign import CampaignSource, Fingerprint
from dispatcher.clock import Clock
from dispatcher.content.store import ContentStore, ContentStoreError
from dispatcher.i18n import N_
from dispatcher.ledger import Ledger, Outcome, TimelineSample, open_for_reading
from dispatcher.operations.content import content_store_path
from dispatcher.operations.content_registration import ContentRegistrar
from dispatcher.operations.errors import NOTHING_SENT, OperationRefused, Suggestion, refusals
from dispatcher.operations.exports import ExportOptions, ExportPaths, export_results
from dispatcher.operations.preflight import announce, preflight
from dispatcher.operations.progress_log import Tally, log_progress
from dispatcher.operations.remote_checks import check_configurations
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
from dispatcher.privacy import IO_TEST_CITIZEN
from dispatcher.profilecache import (
    CachedProfiles,
    ProfileCacheStats,
    ProfileCacheUse,
    service_fingerprint,
)
from dispatcher.schedule import OutsideWindow, SendGate, WallClock, rome_text
from dispatcher.settings import ConfigError, Settings
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
    content_store: Path | None = None  # --content-store: where remote content is registered
    export_options: ExportOptions = field(default_factory=ExportOptions)  # --csv-dialect, --lang
    operator: str | None = None  # --operator: who runs it (default DISPATCHER_OPERATOR, OS user)
    outside_window: OutsideWindow = OutsideWindow.WAIT  # --outside-window: wait, or exit 75
    clock: Clock | None = None  # Unix time for the send window and send-after dates (tests)


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
    scheduled_later: int = 0  # rows left pending on purpose: their send-after time is ahead
    next_due: float | None = None  # the earliest of those times (Unix time)

    @property
    def unfinished(self) -> int:
        """Rows still to decide now: pending or sending, not those scheduled for later."""
        return (self.counts[RowState.PENDING] + self.counts[RowState.SENDING]
                - self.scheduled_later)

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
        _refuse_outside_window(source, settings, options)
        with (open_profile_cache(options.profile_cache, settings) as cache,
              Session.open(settings, ledger_path, transport=transport) as session):
            # URL, key and service proven by one probe before any citizen is touched
            announce(preflight(settings, transport=transport))
            if loaded is not None:
                check_configurations(settings, loaded.configuration_ids(), transport=transport)
            ledger = session.ledger
            start = start_campaign(ledger, source, fingerprint,
                                   skip_invalid=options.skip_invalid,
                                   new_campaign=options.new_campaign, loaded=loaded)
            if hooks.confirm is not None and not hooks.confirm(_preview(session, start)):
                raise OperationRefused(
                    None, ExitCode.STOPPED, params={"path": source.path},
                    text=N_("{path}: not confirmed: nothing was sent. To send, run the same "
                            "command again (or add --yes)"))
            result = _dispatch(session, start, options, hooks, cache)
            if options.export:
                frame = start.campaign.input_frame() if start.campaign else None
                result = _with_exports(result, ledger, source, frame, options.export_dir,
                                       _export_options(settings, start, options))
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
    with (open_guard(session.settings, ledger, cid, run_id, start.source.path.name,
                     allow_resend=options.allow_resend, override=options.journal) as guard,
          _content_registrar(session.settings, start, options) as registrar):
        return _dispatch_guarded(session, start, options, hooks, cache, run_id, guard,
                                 registrar)


@contextlib.contextmanager
def _content_registrar(settings: Settings, start: Start,
                       options: RunOptions) -> Iterator[ContentRegistrar | None]:
    """The content store's registrar, when rows with remote content are still to record.

    Opened before the first submit: a store that cannot be opened stops the run (exit 4)
    with nothing sent, rather than sending messages whose content nobody can serve.
    """
    if start.campaign is None or not start.campaign.has_remote_content:
        yield None
        return
    path = content_store_path(settings, options.content_store)
    try:
        store = ContentStore.open(path)
    except ContentStoreError as exc:
        raise OperationRefused(str(exc), ExitCode.CONFIG_ERROR, text=NOTHING_SENT) from None
    with store:
        log.info("content_store", path=str(path))
        yield ContentRegistrar(store)


def _dispatch_guarded(session: Session, start: Start, options: RunOptions, hooks: RunHooks,
                      cache: CachedProfiles | None, run_id: int, guard: SendGuard,
                      registrar: ContentRegistrar | None = None) -> RunResult:
    ledger, cid = session.ledger, start.campaign_id
    recovered = _prepare_rows(ledger, cid, run_id, options, guard)
    expected = expected_counts(ledger, start)
    if hooks.on_start:
        hooks.on_start(cid, expected)
    wall = options.clock or WallClock()
    later = ledger.rows.scheduled(cid, now=wall.now()).count  # recorded rows not due yet
    to_decide = expected[RowState.PENDING] + expected[RowState.SENDING] - later
    window = session.settings.send_window
    log.info("run_started", campaign_id=cid, run_id=run_id, resumed=start.resumed,
             rows_to_decide=to_decide, scheduled_later=later, rate=str(session.settings.rate),
             send_window=str(window) if window else None, journal=str(guard.journal.path))
    tally = Tally(hooks.on_outcome)
    started = time.time()
    state: dict[str, Any] = {}

    async def work(live: Live) -> None:
        feeder = state["feeder"] = Feeder(ledger, live.writer, start, guard, on_outcome=tally,
                                          now=wall.now, registrar=registrar)
        gate = None if window is None else SendGate(window, options.outside_window, live.stops,
                                                     wall)
        dispatch = state["dispatch"] = Dispatch(
            client=live.client, writer=live.writer, stops=live.stops,
            concurrency=session.settings.concurrency, on_outcome=tally, profile_cache=cache,
            gate=gate)
        if hooks.on_pacer:
            hooks.on_pacer(live.pacer.statistics)
        async with anyio.create_task_group() as checkpoints:
            checkpoints.start_soon(checkpoint_timeline, live, ledger, run_id)
            checkpoints.start_soon(_log_progress, live, tally, to_decide, gate)
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
    result = _finish(session, start, run_id, ran, started, recovered, cache, now=wall.now())
    return replace(result, unreached=dispatch.unreached if dispatch else 0,
                   postponed=guard.postponed, journal=guard.journal.path)


async def _log_progress(live: Live, tally: Tally, to_decide: int, gate: SendGate | None,
                        ) -> None:
    """The ``run_progress`` lines, paused while the run waits for its send window (a night
    of lines saying nothing moved is cron mail nobody wants)."""
    if gate is None:
        await log_progress(live, tally, to_decide)
        return
    while True:
        await gate.until_sending()
        with anyio.CancelScope() as logging:
            gate.when_waiting(logging.cancel)
            await log_progress(live, tally, to_decide)


def _refuse_outside_window(source: CampaignSource, settings: Settings,
                           options: RunOptions) -> None:
    """``--outside-window exit`` outside the window: exit 75 before any request or lock."""
    window = settings.send_window
    if window is None or options.outside_window is not OutsideWindow.EXIT:
        return
    now = (options.clock or WallClock()).now()
    if window.is_open(now):
        return
    raise OperationRefused(
        None, ExitCode.STOPPED,
        params={"path": source.path, "window": str(window),
                "opens": rome_text(window.next_open(now))},
        text=N_("{path}: outside the send window {window} (Europe/Rome): nothing was sent. "
                "It opens at {opens}; a run from then on sends (rerun the same command)"))


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
            recovered: int, cache: CachedProfiles | None, *, now: float) -> RunResult:
    ledger, cid = session.ledger, start.campaign_id
    counts = ledger.rows.counts(cid)
    scheduled = ledger.rows.scheduled(cid, now=now)
    unrecorded = not ledger.campaigns.get(cid).recorded
    result = RunResult(
        ledger_path=ledger.path, campaign_id=cid, run_id=run_id, counts=counts,
        started_at=started, duration_s=time.time() - started,
        requests=ran.statistics.requests, throttled=ran.statistics.throttled,
        recovered_ambiguous=recovered, stopped_reason=ran.stopped, fatal=ran.fatal,
        resumed=start.resumed, unrecorded=unrecorded,
        profile_cache=cache.statistics() if cache else None,
        scheduled_later=scheduled.count, next_due=scheduled.next_due,
    )
    if not result.unfinished and not scheduled.count and not unrecorded:
        ledger.campaigns.complete(cid)
    timeline: list[TimelineSample] = samples(ran.timeline)
    ledger.runs.finish(run_id, requests=result.requests, throttled=result.throttled,
                       stopped_reason=ran.fatal or ran.stopped,
                       exit_code=int(result.exit_code), timeline=timeline)
    log.info("run_finished", **{s.value: n for s, n in counts.items()},
             requests=result.requests, throttled=result.throttled,
             stopped_reason=ran.stopped, exit_code=int(result.exit_code),
             scheduled_later=scheduled.count,
             next_due=_iso_utc(scheduled.next_due) if scheduled.next_due else None)
    return result


def _export_options(settings: Settings, start: Start, options: RunOptions) -> ExportOptions:
    """The operator's export choices, with the content store whose opens the export shows."""
    chosen = options.export_options
    if chosen.content_store is not None:
        return chosen
    try:
        store = content_store_path(settings, options.content_store)
    except ConfigError:
        return chosen
    return replace(chosen, content_store=store)


def _with_exports(result: RunResult, ledger: Ledger, source: CampaignSource,
                  frame: pl.DataFrame | None, export_dir: Path | None,
                  export_options: ExportOptions) -> RunResult:
    paths = export_results(ledger, result.campaign_id, export_dir or ledger.path.parent,
                           input_frame=frame, source=source, options=export_options)
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
    raise OperationRefused(
        None, ExitCode.INVALID_INPUT, params={"path": source.path, "ledger": ledger_path},
        text=N_("{path}: --require-test: no test send of this file and template was accepted "
                "by IO (ledger {ledger}). First run `{command}`, check the message, then run "
                "again. Nothing was sent"),
        suggestion=Suggestion("test", (source.path,), ("--to", IO_TEST_CITIZEN)),
    )


def _iso_utc(moment: float) -> str:
    """A Unix time as logs carry times: ISO 8601 in UTC, with its ``Z``."""
    from datetime import UTC, datetime

    return datetime.fromtimestamp(moment, UTC).isoformat(timespec="seconds").replace(
        "+00:00", "Z")
