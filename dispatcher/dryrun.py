"""``run --dry-run``: what the real run would do, and how long it would take; nothing is sent.

Without profile checks it counts the rows the run would take (valid, not yet decided in the
ledger) and gives an upper bound: two requests per row. With ``--check-profiles`` it asks IO
about every recipient (``POST /profiles`` only, through the same Pacer and client as the
run) and reports the reach: how many citizens have IO and allow the service, how many
blocked it, how many have no IO profile. With ``--profile-cache`` those answers seed the
profile cache, so the real run does not pay for them twice, and recipients the cache already
knows (a trusted decision, see :mod:`dispatcher.profilecache`) are counted without a request.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import anyio

from dispatcher.campaign import Campaign
from dispatcher.fanout import fan_out
from dispatcher.ioapi import Client, ErrorRateExceeded
from dispatcher.ledger import Ledger
from dispatcher.pacing import Pacer
from dispatcher.profilecache import CachedProfiles
from dispatcher.settings import Settings
from dispatcher.vocabulary import InputVerdict, ProfileKind

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
    fatal: str | None = None

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


def rows_to_process(campaign: Campaign, ledger_path: Path | None) -> tuple[list[str], int]:
    """Fiscal codes of the rows a real run would take now, and how many are already decided.

    If the ledger holds an unfinished campaign of this same file and template, only its
    pending rows count (a rerun resumes); otherwise every valid row does.
    """
    pending: set[int] | None = None
    if ledger_path is not None and ledger_path.exists():
        with Ledger.open(ledger_path) as ledger:
            latest = ledger.latest_campaign()
            if (
                latest is not None
                and latest.completed_at is None
                and latest.input_sha256 == campaign.source_sha256
                and latest.template_sha256 == campaign.template_sha256
            ):
                pending = ledger.pending_rows(latest.campaign_id)
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


async def check_profiles(
    client: Client,
    fiscal_codes: Sequence[str],
    *,
    concurrency: int,
    on_answer: ProfileHook | None = None,
) -> tuple[Counter[str], str | None]:
    """``POST /profiles`` for each code; returns counts by answer kind and a fatal reason."""
    counts: Counter[str] = Counter()
    stop: list[str] = []

    async def check(code: str) -> bool:
        try:
            answer = await client.check_profile(code)
        except ErrorRateExceeded as exc:
            stop.append(str(exc))
            return False
        if answer.is_auth_error:
            stop.append(f"IO refused the API key: {answer.detail}")
            return False
        counts[answer.kind.value] += 1
        if on_answer:
            on_answer(code, answer.kind)
        return True

    await fan_out(fiscal_codes, check, concurrency=concurrency)
    return counts, stop[0] if stop else None


def dry_run(
    campaign: Campaign,
    *,
    settings: Settings,
    ledger_path: Path | None,
    check: bool,
    on_answer: ProfileHook | None = None,
    cache: CachedProfiles | None = None,
) -> DryRunReport:
    """Count, optionally check every recipient's profile, and estimate the real run.

    With ``cache``, trusted cached decisions count without a request and every real answer
    is written to the cache (flushed before returning).
    """
    codes, decided = rows_to_process(campaign, ledger_path)
    base = DryRunReport(
        rows=campaign.row_count, invalid=campaign.invalid_count,
        duplicate=campaign.duplicate_count, already_decided=decided, to_process=len(codes),
        rate_per_second=settings.rate.per_second,
    )
    if not check or not codes:
        return base
    api_key = settings.require_api_key()
    known: Counter[str] = Counter()
    to_check = list(codes)
    answered = on_answer
    if cache is not None:
        to_check = []
        for code in codes:
            hit = cache.lookup(code)
            if hit is None:
                to_check.append(code)
            else:
                known[hit.kind.value] += 1
        answered = _seeding(cache, on_answer)
    pacers: list[Pacer] = []

    async def go() -> tuple[Counter[str], str | None]:
        pacer = Pacer(settings.rate)
        pacers.append(pacer)
        async with Client.from_settings(settings, pacer, api_key=api_key) as client:
            return await check_profiles(client, to_check, concurrency=settings.concurrency,
                                        on_answer=answered)

    try:
        counts, fatal = anyio.run(go, backend="asyncio")
    finally:
        if cache is not None:
            cache.flush()
    stats = pacers[0].statistics()
    return DryRunReport(
        rows=base.rows, invalid=base.invalid, duplicate=base.duplicate,
        already_decided=decided, to_process=len(codes), rate_per_second=base.rate_per_second,
        reach=dict(counts + known), checked=True, from_cache=known.total(),
        requests_made=stats.requests, throttled=stats.throttled, fatal=fatal,
    )


def _seeding(cache: CachedProfiles, then: ProfileHook | None) -> ProfileHook:
    """A hook that queues each answer for the cache (a full batch is written at once)."""

    def remember(code: str, kind: ProfileKind) -> None:
        batch = cache.note(code, kind)
        if batch:
            cache.write(batch)  # one small transaction per batch; a dry run can afford it
        if then:
            then(code, kind)

    return remember
