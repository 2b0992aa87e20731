"""``dispatcher feed sync``: apply IO's subscriptions feed to the profile cache, day by day.

IO publishes, per service and UTC day, the hashes of citizens who subscribed (profile
created, service enabled) and unsubscribed (profile deleted, service disabled) that day; day D
is readable from D+1 00:00 UTC, before that the answer is 404 (FACTS §2.3). Every missing day
up to yesterday is fetched, oldest first, in a session like the run's (so one Pacer spends the
ente's shared budget), and applied to the cache (:meth:`ProfileCache.apply_feed_day`),
which deletes every listed hash and records the day.

A 404 for a past day (IO late, a clock ahead) is reported and the day stays unapplied, so the
cache keeps distrusting entries checked before it; the next sync fetches it again. A refused
or failed answer stops the sync there: later days would meet the same problem, and the
report names it.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import anyio
import structlog

from dispatcher.ioapi import FeedKind
from dispatcher.operations.errors import refusals
from dispatcher.operations.session import Live, Session
from dispatcher.profilecache import ProfileCache, service_fingerprint
from dispatcher.settings import Settings
from dispatcher.vocabulary import ExitCode

__all__ = ["FeedDay", "FeedSyncReport", "FeedSyncResult", "sync_feed"]

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


@dataclass(frozen=True)
class FeedSyncResult:
    """A sync and the cache it left: entries and the first day whose entries are trusted."""

    path: Path
    report: FeedSyncReport
    entries: int
    trusted_from: date
    missing: bool = False  # no cache yet (the first night): nothing to sync

    @property
    def exit_code(self) -> ExitCode:
        return self.report.exit_code


def sync_feed(
    *, settings: Settings, cache_path: Path, today: date, since: date | None = None,
    cache: ProfileCache | None = None,
) -> FeedSyncResult:
    """Fetch and apply every feed day the cache still needs, up to yesterday (UTC).

    ``cache`` is the cache at ``cache_path`` when the caller holds it open already. Raises
    :class:`~dispatcher.operations.errors.OperationRefused` (no key, a cache of another
    service).
    """
    with refusals():
        api_key = settings.require_api_key()
        if cache is None and not cache_path.exists():  # the first night: nothing yet
            return FeedSyncResult(cache_path, FeedSyncReport((), ()), 0, today, missing=True)
        with contextlib.ExitStack() as stack:
            if cache is None:
                fingerprint = service_fingerprint(settings.base_url, api_key)
                cache = stack.enter_context(
                    ProfileCache.open(cache_path, service_fingerprint=fingerprint))
            return _sync(stack.enter_context(Session.open(settings)), cache, today, since)


def _sync(session: Session, cache: ProfileCache, today: date, since: date | None
          ) -> FeedSyncResult:
    planned = tuple(cache.days_to_sync(today, since=since))
    ran = session.run(lambda live: _apply_days(live, cache, planned))
    days = ran.value or []
    report = FeedSyncReport(planned, tuple(days), _stopped_at(days) or ran.stopped,
                            ran.statistics.requests)
    return FeedSyncResult(cache.path, report, sum(cache.counts().values()),
                          cache.trusted_from(today))


async def _apply_days(live: Live, cache: ProfileCache, planned: tuple[date, ...]
                      ) -> list[FeedDay]:
    """Oldest first; a refused or failed day stops the sync there (later ones would too)."""
    days: list[FeedDay] = []
    for day in planned:
        answer = await live.stops.ask(live.client.subscriptions_feed(day))
        if answer is None:
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
        log.warning("feed_sync_stopped", day=day.isoformat(), kind=answer.kind.value,
                    http_status=answer.http_status, detail=answer.detail)
        break
    return days


def _stopped_at(days: list[FeedDay]) -> str | None:
    """Why the last day stopped the sync (refused, or no answer), if it did."""
    last = days[-1] if days else None
    if last is None or last.kind in (FeedKind.FOUND, FeedKind.NOT_AVAILABLE):
        return None
    reason = (_rejection_hint(last.http_status) if last.kind is FeedKind.REJECTED
              else "no answer from IO")
    return (f"{last.day.isoformat()}: {reason} ({last.http_status or 'no status'}: "
            f"{last.detail or 'no detail'})")
