"""``dispatcher feed sync``: apply IO's subscriptions feed to the profile cache, day by day.

IO publishes, per service and UTC day, the hashes of citizens who subscribed (profile
created, service enabled) and unsubscribed (profile deleted, service disabled) that day; day D
is readable from D+1 00:00 UTC, before that the answer is 404 (FACTS §2.3). Every missing day
up to yesterday is fetched, oldest first, through the run's client (so its one Pacer spends
the ente's shared budget), and applied to the cache (:meth:`ProfileCache.apply_feed_day`),
which deletes every listed hash and records the day.

A 404 for a past day (IO late, a clock ahead) is reported and the day stays unapplied, so the
cache keeps distrusting entries checked before it; the next sync fetches it again. A refused
or failed answer stops the sync there: later days would meet the same problem, and the
report names it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import anyio
import structlog

from dispatcher.ioapi import Client, ErrorRateExceeded, FeedKind
from dispatcher.profilecache import ProfileCache
from dispatcher.vocabulary import ExitCode

__all__ = ["FeedDay", "FeedSyncReport", "sync_feed"]

log = structlog.get_logger("dispatcher.feedsync")


@dataclass(frozen=True)
class FeedDay:
    """What one day's ``GET /subscriptions-feed/{day}`` gave."""

    day: date
    kind: FeedKind
    subscriptions: int = 0
    unsubscriptions: int = 0
    invalidated: int = 0  # cache entries deleted because the day lists them
    http_status: int | None = None
    detail: str | None = None


@dataclass(frozen=True)
class FeedSyncReport:
    """The days a sync meant to apply and what became of each."""

    planned: tuple[date, ...]
    days: tuple[FeedDay, ...]
    stopped: str | None = None  # why the sync stopped before the last planned day
    requests: int = 0  # HTTP requests made (429s and retries included)

    @property
    def applied(self) -> list[date]:
        return [d.day for d in self.days if d.kind is FeedKind.FOUND]

    @property
    def not_available(self) -> list[date]:
        return [d.day for d in self.days if d.kind is FeedKind.NOT_AVAILABLE]

    @property
    def skipped(self) -> list[date]:
        """Planned days not asked because the sync stopped first."""
        asked = {d.day for d in self.days}
        return [day for day in self.planned if day not in asked]

    @property
    def invalidated(self) -> int:
        return sum(d.invalidated for d in self.days)

    @property
    def exit_code(self) -> ExitCode:
        """0 synced (days not published yet are reported, not failures) · 4 the key was
        refused or may not read the feed · 3 a day got no answer · 75 the breaker tripped."""
        last = self.days[-1] if self.days else None
        if last is not None and last.kind is FeedKind.REJECTED:
            return ExitCode.CONFIG_ERROR
        if last is not None and last.kind is FeedKind.FAILED:
            return ExitCode.INCOMPLETE
        if self.stopped:
            return ExitCode.STOPPED
        return ExitCode.OK


def _rejection_hint(status: int | None) -> str:
    if status == 401:
        return "IO refused the API key"
    if status == 403:
        return ("IO refused the feed: the service needs the ApiSubscriptionsFeedRead "
                "permission (granted case by case), and the caller's IP must be authorised")
    return "IO refused the request"


async def sync_feed(
    client: Client, cache: ProfileCache, *, today: date, since: date | None = None
) -> FeedSyncReport:
    """Fetch and apply every feed day the cache still needs, up to yesterday (UTC)."""
    planned = tuple(cache.days_to_sync(today, since=since))
    before = client.statistics().attempts
    days: list[FeedDay] = []
    stopped: str | None = None
    for day in planned:
        try:
            answer = await client.subscriptions_feed(day)
        except ErrorRateExceeded as exc:
            stopped = str(exc)
            break
        if answer.kind is FeedKind.FOUND:
            invalidated = await anyio.to_thread.run_sync(
                cache.apply_feed_day, day, answer.subscriptions, answer.unsubscriptions
            )
            days.append(FeedDay(day, answer.kind, len(answer.subscriptions),
                                len(answer.unsubscriptions), invalidated, answer.http_status))
            log.info("feed_day_applied", day=day.isoformat(),
                     subscriptions=len(answer.subscriptions),
                     unsubscriptions=len(answer.unsubscriptions), invalidated=invalidated)
            continue
        days.append(FeedDay(day, answer.kind, http_status=answer.http_status,
                            detail=answer.detail))
        if answer.kind is FeedKind.NOT_AVAILABLE:
            log.warning("feed_day_not_available", day=day.isoformat(), detail=answer.detail)
            continue
        reason = (_rejection_hint(answer.http_status) if answer.kind is FeedKind.REJECTED
                  else "no answer from IO")
        stopped = f"{day.isoformat()}: {reason} ({answer.http_status or 'no status'}: " \
                  f"{answer.detail or 'no detail'})"
        log.warning("feed_sync_stopped", day=day.isoformat(), kind=answer.kind.value,
                    http_status=answer.http_status, detail=answer.detail)
        break
    requests = client.statistics().attempts - before
    return FeedSyncReport(planned, tuple(days), stopped, requests)
