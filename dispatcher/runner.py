"""``dispatcher run`` as one function: campaign + ledger + client → a RunSummary.

This module decides *which* rows a run may touch (new campaign, resume, refuse a changed
input, recover interrupted sends) and then hands the pending rows to the pipeline. It never
prints: the CLI renders the summary it returns.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import structlog

from dispatcher.campaign import Campaign
from dispatcher.ioapi import Client
from dispatcher.ledger import CampaignRecord, InputChanged, Ledger, NewRow, Outcome, RunLock
from dispatcher.pacing import Pacer, PacerStatistics
from dispatcher.pipeline import (
    Dispatch,
    Job,
    LedgerWriter,
    OutcomeHook,
    PipelineOptions,
    TimelineSource,
)
from dispatcher.profilecache import (
    CachedProfiles,
    ProfileCache,
    ProfileCacheStats,
    ProfileCacheUse,
    service_fingerprint,
)
from dispatcher.settings import Settings
from dispatcher.vocabulary import ExitCode, InputVerdict, RowState

log = structlog.get_logger("dispatcher.runner")


@dataclass(frozen=True)
class RunOptions:
    """The operator's explicit choices for one run (each defaults to the safe side)."""

    pipeline: PipelineOptions = field(default_factory=PipelineOptions)
    skip_invalid: bool = False  # the CLI's choice; invalid rows are recorded either way
    resend_ambiguous: bool = False
    retry_failed: bool = False
    allow_resend: bool = False
    new_campaign: bool = False


@dataclass(frozen=True)
class RunSummary:
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
    profile_cache: ProfileCacheStats | None = None  # with ``--profile-cache``: hits, checks

    @property
    def unfinished(self) -> int:
        return self.counts[RowState.PENDING] + self.counts[RowState.SENDING]

    @property
    def exit_code(self) -> ExitCode:
        if self.fatal:
            return ExitCode.CONFIG_ERROR
        if self.unfinished:
            return ExitCode.STOPPED
        if any(self.counts[s] for s in (RowState.FAILED, RowState.REJECTED, RowState.AMBIGUOUS)):
            return ExitCode.INCOMPLETE
        return ExitCode.OK


def _new_rows(campaign: Campaign) -> Iterator[NewRow]:
    for row in campaign.rows():
        if row.state is InputVerdict.VALID:
            yield NewRow(row.row, row.fiscal_code, RowState.PENDING, row.content_hash)
        elif row.state is InputVerdict.DUPLICATE:
            yield NewRow(row.row, row.fiscal_code, RowState.DUPLICATE, None,
                         f"same fiscal code as row {row.duplicate_of}: one message per person")
        else:
            detail = "; ".join(
                f"{p.column or 'row'}: {p.message}" for p in row.problems if p.is_error
            )
            yield NewRow(row.row, row.fiscal_code, RowState.INVALID, None, detail or "invalid")


def open_campaign_in_ledger(
    ledger: Ledger, campaign: Campaign, options: RunOptions
) -> tuple[int, bool]:
    """Find the campaign to continue, or start a new one. Returns (campaign id, resumed)."""
    latest: CampaignRecord | None = ledger.latest_campaign()
    same_input = latest is not None and (
        latest.input_sha256 == campaign.source_sha256
        and latest.template_sha256 == campaign.template_sha256
    )
    if latest is not None and latest.completed_at is None:
        if same_input:
            return latest.campaign_id, True
        if not options.new_campaign:
            raise InputChanged(
                f"{campaign.path}: the campaign file or template changed since the unfinished "
                f"run recorded in {ledger.path} (started with {latest.input_path}). Finish it "
                "with the original file, or pass --new-campaign to close it (rows not yet sent "
                "become failed, rows in flight ambiguous) and start this one"
            )
        ledger.abandon_campaign(latest.campaign_id, None)
    elif latest is not None and same_input:
        return latest.campaign_id, True
    campaign_id = ledger.start_campaign(
        input_path=str(campaign.path),
        input_sha256=campaign.source_sha256,
        template_sha256=campaign.template_sha256,
        rows=_new_rows(campaign),
        allow_resend=options.allow_resend,
    )
    return campaign_id, False


def _pending_jobs(
    campaign: Campaign, pending: set[int], hashes: dict[int, str | None], stale: list[Outcome]
) -> Iterator[Job]:
    """Pending rows re-rendered from the file, checked against the hash recorded at start."""
    for row in campaign.rows():
        if row.row not in pending:
            continue
        if row.payload is None:  # judged differently than at the campaign's start
            stale.append(Outcome(row.row, RowState.FAILED, None, None,
                                 f"row is {row.state} on resume; not sent"))
            continue
        if hashes.get(row.row) != row.content_hash:
            stale.append(Outcome(row.row, RowState.FAILED, None, None,
                                 "rendered content differs from the campaign's first run"))
            continue
        yield Job(row.row, row.fiscal_code, row.payload)


async def dispatch_pending(
    *,
    ledger: Ledger,
    campaign: Campaign,
    campaign_id: int,
    run_id: int,
    client: Client,
    options: PipelineOptions,
    on_outcome: OutcomeHook | None = None,
    profile_cache: CachedProfiles | None = None,
    timeline: TimelineSource | None = None,
) -> tuple[str | None, str | None]:
    """Run the pipeline over the campaign's pending rows. Returns (stop reason, fatal).

    ``timeline`` (the Pacer's) is saved as the run goes, so a killed run keeps it.
    """
    pending = ledger.pending_rows(campaign_id)
    hashes = {r.row: r.content_hash for r in ledger.rows(campaign_id) if r.row in pending}
    stale: list[Outcome] = []
    writer = LedgerWriter(ledger, campaign_id, run_id, options.writer_batch, timeline=timeline)
    dispatch = Dispatch(client=client, writer=writer, options=options, on_outcome=on_outcome,
                        profile_cache=profile_cache)
    try:
        await dispatch.run(_pending_jobs(campaign, pending, hashes, stale))
    finally:
        # After the task group: no writer runs any more, so the main thread may commit.
        late = stale + dispatch.late_outcomes
        if late:
            ledger.record_outcomes(campaign_id, run_id, late)
        if dispatch.never_sent:
            ledger.release_unsent(campaign_id, run_id, dispatch.never_sent)
        if profile_cache is not None:
            profile_cache.flush()  # likewise, no cache write can be running now
    return dispatch.stop.reason, dispatch.stop.fatal


def run_campaign(
    campaign: Campaign,
    *,
    settings: Settings,
    ledger_path: Path,
    options: RunOptions,
    on_start: Callable[[int, dict[RowState, int]], None] | None = None,
    on_outcome: OutcomeHook | None = None,
    pacer_stats: Callable[[Callable[[], PacerStatistics]], None] | None = None,
    profile_cache: ProfileCacheUse | None = None,
) -> RunSummary:
    """Validate-then-dispatch for one campaign; the whole of ``dispatcher run``.

    ``profile_cache`` (``run --profile-cache TTL``) skips ``POST /profiles`` for recipients
    with a trusted cached decision; a cache of another service raises ``ProfileCacheError``
    before anything is recorded.
    """
    api_key = settings.require_api_key()
    with (
        open_profile_cache(profile_cache, settings) as cached,
        RunLock(ledger_path),
        Ledger.open(ledger_path) as ledger,
    ):
        campaign_id, resumed = open_campaign_in_ledger(ledger, campaign, options)
        run_id = ledger.begin_run(campaign_id, rate=str(settings.rate))
        recovered = ledger.recover_interrupted(campaign_id, run_id)
        if options.resend_ambiguous:
            ledger.requeue_ambiguous(campaign_id, run_id)
        if options.retry_failed:
            ledger.requeue_failed(campaign_id, run_id)  # failed and rejected: never stored
        if ledger.unfinished(campaign_id):
            ledger.reopen_campaign(campaign_id)
        if on_start:
            on_start(campaign_id, ledger.counts(campaign_id))
        started = time.time()
        pacers: list[Pacer] = []

        async def go() -> tuple[str | None, str | None]:
            pacer = Pacer(settings.rate)  # aiolimiter binds to the running loop
            pacers.append(pacer)
            async with Client.from_settings(settings, pacer, api_key=api_key) as client:
                if pacer_stats:
                    pacer_stats(pacer.statistics)
                return await dispatch_pending(
                    ledger=ledger, campaign=campaign, campaign_id=campaign_id, run_id=run_id,
                    client=client, options=options.pipeline, on_outcome=on_outcome,
                    profile_cache=cached, timeline=pacer.timeline,
                )

        stopped_reason, fatal = anyio.run(go, backend="asyncio")
        pacer = pacers[0]
        # Rows cut off mid-request (grace period over, breaker) may have reached IO.
        recovered += ledger.recover_interrupted(campaign_id, run_id)
        counts = ledger.counts(campaign_id)
        stats = pacer.statistics()
        summary = RunSummary(
            ledger_path=ledger_path, campaign_id=campaign_id, run_id=run_id, counts=counts,
            started_at=started, duration_s=time.time() - started, requests=stats.requests,
            throttled=stats.throttled, recovered_ambiguous=recovered,
            stopped_reason=stopped_reason, fatal=fatal, resumed=resumed,
            profile_cache=cached.statistics() if cached else None,
        )
        if not summary.unfinished:
            ledger.mark_campaign_complete(campaign_id)
        ledger.finish_run(
            run_id, requests=stats.requests, throttled=stats.throttled,
            stopped_reason=fatal or stopped_reason, exit_code=int(summary.exit_code),
            timeline=[(s.second, s.requests, s.throttled, s.target_rate, s.current_rate)
                      for s in pacer.timeline()],
        )
        log.info("run_finished", **{s.value: n for s, n in counts.items()},
                 requests=stats.requests, throttled=stats.throttled,
                 stopped_reason=stopped_reason, exit_code=int(summary.exit_code))
        return summary


@contextlib.contextmanager
def open_profile_cache(
    use: ProfileCacheUse | None, settings: Settings
) -> Iterator[CachedProfiles | None]:
    """The run's view of the cache, opened for this service (or None without a cache).

    Raises :class:`~dispatcher.profilecache.ProfileCacheError` for a file that is not a
    cache or belongs to another service (base URL + key): consent is per service.
    """
    if use is None:
        yield None
        return
    fingerprint = service_fingerprint(settings.base_url, settings.require_api_key())
    with ProfileCache.open(use.path, service_fingerprint=fingerprint) as cache:
        yield CachedProfiles(cache, max_age_s=use.max_age_s, clock=use.clock)
