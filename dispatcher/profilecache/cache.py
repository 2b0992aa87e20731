"""The profile cache file: decisions by fiscal-code hash and the feed days applied to them.

See :mod:`dispatcher.profilecache` for what is cached, and when a cached decision is trusted.
"""

from __future__ import annotations

import hashlib
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from dispatcher.paths import campaign_folder, is_campaign_file
from dispatcher.storage import Database, StorageError, open_database
from dispatcher.vocabulary import ProfileKind

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

    def __init__(self, path: Path, db: Database, applied: set[date]) -> None:
        self.path = path
        self._db = db
        self._lock = threading.Lock()
        self._applied = applied
        self._trust_from: dict[date, date] = {}  # today → first day whose checks are trusted

    # -- opening -------------------------------------------------------------------------

    @classmethod
    def open(cls, path: Path, *, service_fingerprint: str) -> ProfileCache:
        """Open (creating if needed) the cache of the service with this fingerprint.

        Another program's SQLite file is refused before anything is written to it.
        """
        path = Path(path)
        try:
            _refuse_foreign(path)
            # NORMAL sync: a commit lost to a power cut costs a re-check, not a fact.
            db = open_database(path, schema=_SCHEMA, synchronous="NORMAL")
        except StorageError as exc:
            raise ProfileCacheError(f"{path} is not a dispatcher profile cache "
                                    f"({exc.reason})") from None
        with db.closed_on_error():
            try:
                meta = _meta(db, service_fingerprint)
                applied = {date.fromisoformat(d)
                           for (d,) in db.execute("SELECT day FROM feed_days")}
            except sqlite3.DatabaseError as exc:
                raise ProfileCacheError(
                    f"{path} is not a dispatcher profile cache ({exc})") from None
            _check_meta(path, meta, service_fingerprint)
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
        with self._lock, self._db.transaction():
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
        with self._lock, self._db.transaction():
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


def _refuse_foreign(path: Path) -> None:
    """Raise if ``path`` is a SQLite file with tables but no ``profiles`` (read-only look)."""
    if not path.is_file() or path.stat().st_size == 0:
        return
    with open_database(path, schema=None, read_only=True) as db:
        tables = {name for (name,) in db.execute(
            "SELECT name FROM sqlite_master WHERE type='table'")}
    if tables and "profiles" not in tables:
        raise ProfileCacheError(f"{path} is not a dispatcher profile cache "
                                f"(it holds {', '.join(sorted(tables))})")


def _meta(db: Database, fingerprint: str) -> dict[str, str]:
    """The cache's ``meta`` table; a new cache is stamped with its kind and service first."""
    meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
    if not meta:
        meta = {"kind": KIND, "schema_version": str(SCHEMA_VERSION),
                "service_fingerprint": fingerprint}
        db.executemany("INSERT INTO meta VALUES (?, ?)",
                       [*meta.items(), ("created_at", str(time.time()))])
    return meta


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
