"""One run's use of the profile cache: lookups under the run's TTL, answers in batches."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import structlog

from dispatcher.profilecache.cache import (
    CACHEABLE,
    CachedDecision,
    ProfileCache,
    utc_day,
)
from dispatcher.vocabulary import ProfileKind

log = structlog.get_logger("dispatcher.profilecache")


@dataclass(frozen=True)
class ProfileCacheUse:
    """``run --profile-cache TTL [--profile-cache-file PATH]``: which cache, how old is fresh.

    ``clock`` is the wall clock (Unix seconds) used for ages and feed days; tests and the
    benchmark shift it by whole days to play a nightly repeat.
    """

    path: Path
    max_age_s: float
    clock: Callable[[], float] = field(default=time.time, compare=False)


@dataclass(frozen=True)
class ProfileCacheStats:
    """What the cache did for one run."""

    hits: dict[str, int]  # ProfileKind value → rows decided (or sent on) without a check
    checked: int  # rows that needed a real ``POST /profiles``
    remembered: int  # answers written to the cache

    @property
    def hit_total(self) -> int:
        return sum(self.hits.values())


class CachedProfiles:
    """One run's view of the cache: lookups under the run's TTL, answers written in batches.

    The pipeline calls :meth:`lookup` and :meth:`note` from the event loop; :meth:`write` (the
    batches :meth:`note` hands back, then :meth:`flush`) runs in one thread at a time. A cache
    is only a saving: a database error (a ``feed sync`` holding the file for long, a full disk)
    makes a lookup a miss and drops a batch, with a warning, and never stops the run.
    """

    def __init__(self, cache: ProfileCache, *, max_age_s: float,
                 clock: Callable[[], float] = time.time, batch: int = 256) -> None:
        self.cache = cache
        self.max_age_s = max_age_s
        self.clock = clock
        self.batch = batch
        self._pending: list[tuple[str, ProfileKind, float]] = []
        self._hits: dict[str, int] = {}
        self._checked = self._remembered = self._errors = 0
        now = clock()
        trusted = cache.trusted_from(utc_day(now))
        log.info("profile_cache_opened", path=str(cache.path), ttl_s=max_age_s,
                 trusted_from=trusted.isoformat(), entries=sum(cache.counts().values()))
        untrusted = cache.untrusted_recent(max_age_s=max_age_s, now=now)
        if untrusted:
            log.warning("profile_cache_not_synced", untrusted_entries=untrusted,
                        trusted_from=trusted.isoformat(),
                        hint="entries checked before this day are checked again: a feed day "
                             "since then is not applied; run `dispatcher feed sync` first")

    def lookup(self, fiscal_code: str) -> CachedDecision | None:
        try:
            decision = self.cache.lookup(fiscal_code, max_age_s=self.max_age_s,
                                         now=self.clock())
        except sqlite3.Error as exc:
            self._failed("lookup", exc)
            decision = None
        if decision is None:
            self._checked += 1
        else:
            self._hits[decision.kind.value] = self._hits.get(decision.kind.value, 0) + 1
        return decision

    def note(self, fiscal_code: str, kind: ProfileKind) -> list[tuple[str, ProfileKind, float]]:
        """Queue a real answer; returns a full batch to :meth:`write` (else an empty list)."""
        if kind not in CACHEABLE:
            return []
        self._pending.append((fiscal_code, kind, self.clock()))
        if len(self._pending) < self.batch:
            return []
        batch, self._pending = self._pending, []
        return batch

    def write(self, batch: list[tuple[str, ProfileKind, float]]) -> None:
        try:
            self._remembered += self.cache.remember_many(batch)
        except sqlite3.Error as exc:
            self._failed("write", exc)

    def _failed(self, operation: str, exc: sqlite3.Error) -> None:
        self._errors += 1
        if self._errors == 1:  # once per run: the next ones say the same
            log.warning("profile_cache_error", operation=operation, error=str(exc),
                        path=str(self.cache.path), effect="checked with IO instead")

    def flush(self) -> None:
        """Write what is still queued (after the pipeline, when no write can be running)."""
        batch, self._pending = self._pending, []
        if batch:
            self.write(batch)

    def statistics(self) -> ProfileCacheStats:
        return ProfileCacheStats(dict(self._hits), self._checked, self._remembered)
