"""The profile cache: what ``POST /profiles`` answered for each recipient, so nightly repeats
of a campaign can skip most checks (``run --profile-cache TTL``).

One SQLite file (WAL, mode 0600) per IO service, by default ``FILE.dispatcher/profiles.sqlite``
next to the ledger. It holds **no fiscal code**: each recipient is the hash IO's subscriptions
feed uses, ``lower(hex(sha256(upper(CF))))`` (FACTS §2.3), with the decision (``allowed``,
``not_allowed``, ``no_profile``) and when it was checked. Answers that decide nothing about the
citizen (``rejected``, ``failed``) are never cached.

Why it is safe to skip a check: IO checks consent again when it processes a message, so a stale
``allowed`` costs at most a message that IO marks ``REJECTED``, never a message to someone who
opted out. A stale ``not_allowed``/``no_profile`` costs a message not sent; the feed, applied by
``dispatcher feed sync``, covers the ordinary changes (profile created or deleted, service
enabled or disabled), and the TTL bounds the rest (an inbox re-enabled is not in the feed).

When a cached decision is trusted (:meth:`ProfileCache.lookup`):

* it is younger than the TTL; and
* **no unsynced feed day could contradict it**: every UTC day from the day it was checked up
  to yesterday has been applied. Applying a day deletes every hash it lists (subscriptions and
  unsubscriptions alike: the next run checks those citizens for real), so an entry that
  survives all days since its check was not changed by anything the feed knows. Events of
  *today* cannot be known (IO publishes day D at D+1 00:00 UTC); the TTL bounds that window.
  An entry checked before an unsynced day is a miss, not an error: a cache that is never
  synced still serves same-day reruns and costs nothing but the checks it cannot save.
* The midnight race: a check made on day D but written after day D's feed was applied could
  have missed an event of D that came after it. Such a write is dropped (:meth:`remember`).

The cache is tied to one service: its ``meta`` table records a fingerprint of the base URL
and API key (:func:`service_fingerprint`); opening it with another is refused, never silently
used, because consent is per service.

All methods are synchronous and guarded by one lock: the pipeline looks up from the event
loop (microseconds, by primary key) and writes batches from one worker thread.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import structlog

from dispatcher.ledger.lock import create_private_file
from dispatcher.paths import campaign_folder, is_campaign_file
from dispatcher.vocabulary import ProfileKind

__all__ = [
    "CACHEABLE",
    "MAX_FEED_DAYS",
    "SCHEMA_VERSION",
    "CachedDecision",
    "CachedProfiles",
    "ProfileCache",
    "ProfileCacheError",
    "ProfileCacheStats",
    "ProfileCacheUse",
    "default_cache_path",
    "fiscal_code_hash",
    "service_fingerprint",
    "utc_day",
]

log = structlog.get_logger("dispatcher.profilecache")

SCHEMA_VERSION = 1
KIND = "dispatcher-profile-cache"
CACHE_FILE_NAME = "profiles.sqlite"

MAX_FEED_DAYS = 30
"""How far back ``feed sync`` goes. Each day costs one request of the ente's shared budget;
IO asks feed holders to read it every day, so a longer gap means a cron job is broken, and a
decision older than a month is past any sensible TTL. Entries older than the synced days are
never trusted (their early days stay unsynced), so the cap costs hits, never safety."""

CACHEABLE = frozenset({ProfileKind.ALLOWED, ProfileKind.NOT_ALLOWED, ProfileKind.NO_PROFILE})
"""Answers about the citizen. ``rejected``/``failed`` say nothing about them: never cached."""

_LABELS = {
    ProfileKind.ALLOWED: "allows the service",
    ProfileKind.NOT_ALLOWED: "blocked the service",
    ProfileKind.NO_PROFILE: "no IO profile",
}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS profiles (
    cf_hash TEXT PRIMARY KEY,
    decision TEXT NOT NULL CHECK (decision IN ('allowed', 'not_allowed', 'no_profile')),
    checked_at REAL NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS feed_days (
    day TEXT PRIMARY KEY,
    applied_at REAL NOT NULL,
    subscriptions INTEGER NOT NULL,
    unsubscriptions INTEGER NOT NULL
) WITHOUT ROWID;
"""


class ProfileCacheError(Exception):
    """The file is not a profile cache, has another schema, or belongs to another service."""


def fiscal_code_hash(fiscal_code: str) -> str:
    """``lower(hex(sha256(upper(CF))))``: IO's feed recipe, so feed entries match ours."""
    return hashlib.sha256(fiscal_code.strip().upper().encode()).hexdigest()


def service_fingerprint(base_url: str, api_key: str) -> str:
    """A short digest naming the service (base URL + key) a cache belongs to.

    16 hex characters of SHA-256: enough to tell services apart, and IO's keys are random, so
    the digest reveals nothing usable. The other key of the same service (primary/secondary)
    or a regenerated key gives another fingerprint: the cache is then refused and rebuilt.
    """
    text = f"{base_url.rstrip('/')}\n{api_key}"
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def default_cache_path(path: Path) -> Path:
    """Where the cache lives unless told otherwise: ``profiles.sqlite`` next to the ledger.

    ``path`` may be the campaign file (``tari.csv`` → ``tari.dispatcher/profiles.sqlite``,
    the folder of :func:`dispatcher.paths.default_ledger_path`), the ledger's folder, or the
    ledger file itself. Nightly repeats of a campaign file thus share one cache.
    """
    path = Path(path)
    if path.is_dir():
        return path / CACHE_FILE_NAME
    if is_campaign_file(path):
        return campaign_folder(path) / CACHE_FILE_NAME
    return path.with_name(CACHE_FILE_NAME)


def utc_day(moment: float) -> date:
    """The UTC day of a Unix time: feed days are UTC days."""
    return datetime.fromtimestamp(moment, tz=UTC).date()


def _day_start(day: date) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()


@dataclass(frozen=True)
class CachedDecision:
    """A trusted answer from the cache: what IO said, and when."""

    kind: ProfileKind
    checked_at: float

    @property
    def detail(self) -> str:
        """For the ledger: the row was decided without a request, on an earlier answer."""
        when = datetime.fromtimestamp(self.checked_at, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")
        return f"profile cache: {_LABELS[self.kind]} (checked {when})"


class ProfileCache:
    """One cache file: decisions by fiscal-code hash, and the feed days applied to them."""

    def __init__(self, path: Path, connection: sqlite3.Connection, applied: set[date]) -> None:
        self.path = path
        self._db = connection
        self._lock = threading.Lock()
        self._applied = applied
        self._trust_from: dict[date, date] = {}  # today → first day whose checks are trusted

    # -- opening -------------------------------------------------------------------------

    @classmethod
    def open(cls, path: Path, *, service_fingerprint: str) -> ProfileCache:
        """Open (creating if needed) the cache of the service with this fingerprint."""
        path = Path(path)
        create_private_file(path)
        try:
            db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            tables = {name for (name,) in db.execute(
                "SELECT name FROM sqlite_master WHERE type='table'")}
            if tables and "profiles" not in tables:
                db.close()
                raise ProfileCacheError(f"{path} is not a dispatcher profile cache "
                                        f"(it holds {', '.join(sorted(tables))})")
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")  # a lost last commit costs a re-check
            db.execute("PRAGMA busy_timeout=5000")
            db.executescript(_SCHEMA)
            meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.DatabaseError as exc:
            raise ProfileCacheError(f"{path} is not a dispatcher profile cache ({exc})") from None
        if not meta:
            db.executemany("INSERT INTO meta VALUES (?, ?)", [
                ("kind", KIND), ("schema_version", str(SCHEMA_VERSION)),
                ("service_fingerprint", service_fingerprint), ("created_at", str(time.time())),
            ])
            meta = {"kind": KIND, "schema_version": str(SCHEMA_VERSION),
                    "service_fingerprint": service_fingerprint}
        try:
            _check_meta(path, meta, service_fingerprint)
        except ProfileCacheError:
            db.close()
            raise
        for sidecar in ("-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.chmod(path.with_name(path.name + sidecar), 0o600)
        applied = {date.fromisoformat(d) for (d,) in db.execute("SELECT day FROM feed_days")}
        return cls(path, db, applied)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> ProfileCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- decisions -----------------------------------------------------------------------

    def lookup(self, fiscal_code: str, *, max_age_s: float, now: float) -> CachedDecision | None:
        """The cached decision, if younger than ``max_age_s`` and not outdated by the feed."""
        with self._lock:
            row = self._db.execute(
                "SELECT decision, checked_at FROM profiles WHERE cf_hash=?",
                (fiscal_code_hash(fiscal_code),),
            ).fetchone()
        if row is None:
            return None
        decision, checked_at = ProfileKind(row[0]), float(row[1])
        if now - checked_at > max_age_s:
            return None
        if checked_at < _day_start(self.trusted_from(utc_day(now))):
            return None  # a feed day since the check is not applied: it may contradict it
        return CachedDecision(decision, checked_at)

    def remember(self, fiscal_code: str, kind: ProfileKind, now: float) -> bool:
        """Record one answer; False if not cacheable or written too late (see the docstring)."""
        return self.remember_many([(fiscal_code, kind, now)]) == 1

    def remember_many(self, answers: Iterable[tuple[str, ProfileKind, float]]) -> int:
        """Record answers ``(fiscal code, kind, checked at)`` in one transaction.

        Only ``allowed``/``not_allowed``/``no_profile`` are kept. An answer checked on a day
        whose feed (or a later day's) is already applied is dropped: that feed may hold an
        event that came after the check, and it will not be applied again. A newer entry is
        never replaced by an older one.
        """
        rows = [(fiscal_code_hash(code), kind.value, at) for code, kind, at in answers
                if kind in CACHEABLE]
        if not rows:
            return 0
        with self._lock, self._transaction():
            (last,) = self._db.execute("SELECT max(day) FROM feed_days").fetchone()
            if last is not None:
                first_open = _day_start(date.fromisoformat(last) + timedelta(days=1))
                rows = [row for row in rows if row[2] >= first_open]
            self._db.executemany(
                "INSERT INTO profiles VALUES (?, ?, ?) ON CONFLICT(cf_hash) DO UPDATE SET "
                "decision=excluded.decision, checked_at=excluded.checked_at "
                "WHERE excluded.checked_at >= profiles.checked_at",
                rows,
            )
        return len(rows)

    def untrusted_recent(self, *, max_age_s: float, now: float) -> int:
        """Entries younger than the TTL that :meth:`lookup` refuses for want of feed days."""
        trusted = _day_start(self.trusted_from(utc_day(now)))
        with self._lock:
            (count,) = self._db.execute(
                "SELECT count(*) FROM profiles WHERE checked_at >= ? AND checked_at < ?",
                (now - max_age_s, trusted),
            ).fetchone()
        return int(count)

    def counts(self) -> dict[str, int]:
        """Entries by decision (trusted or not)."""
        with self._lock:
            return dict(self._db.execute(
                "SELECT decision, count(*) FROM profiles GROUP BY decision").fetchall())

    # -- the subscriptions feed ---------------------------------------------------------------

    def apply_feed_day(
        self, day: date, subscriptions: Sequence[str], unsubscriptions: Sequence[str]
    ) -> int:
        """Delete every hash the day lists and mark the day applied; returns entries deleted.

        Both lists invalidate: an unsubscription must never leave an ``allowed`` behind, a
        subscription must not leave a stale ``not_allowed``/``no_profile``. The next run asks
        IO about those citizens for real. Re-applying a day is harmless.
        """
        hashes = [(h.strip().lower(),) for h in (*subscriptions, *unsubscriptions)]
        with self._lock, self._transaction():
            before = self._db.total_changes
            self._db.executemany("DELETE FROM profiles WHERE cf_hash=?", hashes)
            deleted = self._db.total_changes - before
            self._db.execute(
                "INSERT OR REPLACE INTO feed_days VALUES (?, ?, ?, ?)",
                (day.isoformat(), time.time(), len(subscriptions), len(unsubscriptions)),
            )
            self._applied.add(day)
            self._trust_from.clear()
        return deleted

    def applied_days(self) -> set[date]:
        with self._lock:
            return set(self._applied)

    def days_to_sync(self, today: date, since: date | None = None) -> list[date]:
        """Feed days still to apply, oldest first: from the oldest entry's day (or ``since``),
        at most :data:`MAX_FEED_DAYS` back, to yesterday; today's feed does not exist yet."""
        if since is None:
            with self._lock:
                (oldest,) = self._db.execute("SELECT min(checked_at) FROM profiles").fetchone()
            if oldest is None:
                return []  # nothing cached, nothing a feed day could outdate
            since = utc_day(oldest)
        start = max(since, today - timedelta(days=MAX_FEED_DAYS))
        applied = self.applied_days()
        days = (start + timedelta(days=n) for n in range((today - start).days))
        return [day for day in days if day not in applied]

    def trusted_from(self, today: date) -> date:
        """The first day whose checks no unsynced feed day can contradict.

        The day after the latest unapplied day before ``today``: every day from it to
        yesterday is applied, so entries checked since then survived every event IO knows.
        """
        with self._lock:
            cached = self._trust_from.get(today)
            if cached is None:
                cached = today
                while cached - timedelta(days=1) in self._applied:
                    cached -= timedelta(days=1)
                self._trust_from[today] = cached
            return cached

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")


def _check_meta(path: Path, meta: dict[str, str], fingerprint: str) -> None:
    if meta.get("kind") != KIND:
        raise ProfileCacheError(f"{path} is not a dispatcher profile cache")
    if meta.get("schema_version") != str(SCHEMA_VERSION):
        raise ProfileCacheError(f"{path} has profile-cache schema {meta.get('schema_version')},"
                                f" expected {SCHEMA_VERSION}; delete it (it is only a cache)")
    if meta.get("service_fingerprint") != fingerprint:
        raise ProfileCacheError(
            f"{path} belongs to another IO service or API key (fingerprint "
            f"{meta.get('service_fingerprint')}, this one {fingerprint}): consent is per "
            "service, so it is not used. Give this service its own cache file, or delete this "
            "one (it holds only hashes; the next run rebuilds it)"
        )


# -- one run's use of the cache ---------------------------------------------------------------


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
