"""``run --dry-run``: what the real run would do, and how long it would take; nothing is sent.

Without profile checks it counts the rows the run would take (valid, not yet decided in the
ledger) and gives an upper bound: two requests per row. With ``--check-profiles`` it asks IO
about every recipient (``POST /profiles`` only, in a session like the run's) and reports the
reach: how many citizens have IO and allow the service, how many blocked it, how many have no
IO profile. With ``--profile-cache`` those answers seed the profile cache, so the real run
does not pay for them twice, and recipients the cache already knows (a trusted decision, see
:mod:`dispatcher.profilecache`) are counted without a request.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from dispatcher.campaign import Campaign
from dispatcher.fanout import fan_out
from dispatcher.ledger import open_for_reading
from dispatcher.operations.errors import refusals
from dispatcher.operations.preflight import announce, preflight
from dispatcher.operations.session import Live, Session, open_profile_cache
from dispatcher.profilecache import CachedProfiles, ProfileCacheUse
from dispatcher.settings import Settings
from dispatcher.stopping import stop_exit_code
from dispatcher.vocabulary import ExitCode, InputVerdict, ProfileKind

__all__ = ["DryRunReport", "ProfileHook", "dry_run", "rows_to_process"]

ProfileHook = Callable[[str, ProfileKind], None]
"""Called with every profile answer (fiscal code, kind): how a dry run seeds the cache."""


@dataclass(frozen=True)
class DryRunReport:
    """Counts and the estimate printed by ``run --dry-run``."""

    rows: int
    invalid: int
    duplicate: int
    already_decided: int  # rows an unfinished campaign of this file already decided
    to_process: int  # rows the real run would take
    rate_per_second: float
    reach: dict[str, int] = field(default_factory=dict)  # ProfileKind value → recipients
    checked: bool = False
    from_cache: int = 0  # recipients whose reach the profile cache gave, without a request
    requests_made: int = 0
    throttled: int = 0
    fatal: str | None = None  # the key was refused
    stopped: str | None = None  # the breaker, a signal

    @property
    def reachable(self) -> int:
        return self.reach.get(ProfileKind.ALLOWED.value, 0)

    @property
    def unknown(self) -> int:
        """Checks that gave no answer (failed or rejected): the real run asks again."""
        return self.reach.get(ProfileKind.FAILED.value, 0) + self.reach.get(
            ProfileKind.REJECTED.value, 0
        )

    @property
    def requests_needed(self) -> int:
        """Requests of the real run without a profile cache: a check per row + the sends."""
        if not self.checked:
            return 2 * self.to_process  # at most: every recipient reachable
        return self.to_process + self.reachable + self.unknown

    @property
    def requests_needed_with_cache(self) -> int:
        """With ``--profile-cache`` seeded by this dry run: only the sends and the unknowns."""
        if not self.checked:
            return self.requests_needed
        return self.reachable + 2 * self.unknown

    def duration_s(self, requests: int) -> float:
        return requests / self.rate_per_second if self.rate_per_second > 0 else 0.0

    @property
    def exit_code(self) -> ExitCode:
        return stop_exit_code(self.fatal, self.stopped) or ExitCode.OK


def rows_to_process(campaign: Campaign, ledger_path: Path | None) -> tuple[list[str], int]:
    """Fiscal codes of the rows a real run would take now, and how many are already decided.

    If the ledger holds an unfinished campaign of this same file and template, only its
    pending rows count (a rerun resumes); otherwise every valid row does. The ledger is only
    read, never locked or changed.
    """
    pending: set[int] | None = None
    if ledger_path is not None and ledger_path.exists():
        with open_for_reading(ledger_path) as ledger:
            latest = ledger.campaigns.latest()
            if (
                latest is not None
                and latest.completed_at is None
                and latest.input_sha256 == campaign.source_sha256
                and latest.template_sha256 == campaign.template_sha256
            ):
                pending = ledger.rows.pending(latest.campaign_id)
    codes: list[str] = []
    decided = 0
    for row in campaign.rows():
        if row.state is not InputVerdict.VALID:
            continue
        if pending is not None and row.row not in pending:
            decided += 1
            continue
        codes.append(row.fiscal_code)
    return codes, decided


def dry_run(
    campaign: Campaign,
    *,
    settings: Settings,
    ledger_path: Path | None,
    check: bool,
    on_answer: ProfileHook | None = None,
    profile_cache: ProfileCacheUse | None = None,
) -> DryRunReport:
    """Count, optionally check every recipient's profile, and estimate the real run.

    With ``profile_cache``, trusted cached decisions count without a request and every
    real answer is written to the cache (flushed before returning).
    """
    with refusals():
        codes, decided = rows_to_process(campaign, ledger_path)
        base = DryRunReport(
            rows=campaign.row_count, invalid=campaign.invalid_count,
            duplicate=campaign.duplicate_count, already_decided=decided,
            to_process=len(codes), rate_per_second=settings.rate.per_second,
        )
        if not check or not codes:
            return base
        announce(preflight(settings))  # the profile checks need a working service
        with open_profile_cache(profile_cache, settings) as cache, \
                Session.open(settings) as session:
            return _check(session, base, codes, cache, on_answer)


def _check(session: Session, base: DryRunReport, codes: list[str],
           cache: CachedProfiles | None, on_answer: ProfileHook | None) -> DryRunReport:
    known: Counter[str] = Counter()
    to_check = codes
    if cache is not None:
        to_check = []
        for code in codes:
            hit = cache.lookup(code)
            if hit is None:
                to_check.append(code)
            else:
                known[hit.kind.value] += 1
    counts: Counter[str] = Counter()

    async def check(live: Live, code: str) -> bool:
        answer = await live.stops.ask(live.client.check_profile(code))
        if answer is None:
            return False
        counts[answer.kind.value] += 1
        if cache is not None:
            batch = cache.note(code, answer.kind)
            if batch:
                cache.write(batch)  # one small transaction per batch; a dry run can afford it
        if on_answer:
            on_answer(code, answer.kind)
        return True

    async def work(live: Live) -> None:
        await fan_out(to_check, lambda code: check(live, code),
                      concurrency=session.settings.concurrency)

    try:
        ran = session.run(work)
    finally:
        if cache is not None:
            cache.flush()
    return DryRunReport(
        rows=base.rows, invalid=base.invalid, duplicate=base.duplicate,
        already_decided=base.already_decided, to_process=base.to_process,
        rate_per_second=base.rate_per_second, reach=dict(counts + known), checked=True,
        from_cache=known.total(), requests_made=ran.statistics.requests,
        throttled=ran.statistics.throttled, fatal=ran.fatal,
        stopped=None if ran.fatal else ran.stopped,
    )
