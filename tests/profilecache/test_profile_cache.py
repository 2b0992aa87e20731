"""The profile cache on its own: TTL, feed invalidation, unsynced days, service, privacy."""

from __future__ import annotations

import stat
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from dispatcher.profilecache import (
    MAX_FEED_DAYS,
    CachedProfiles,
    ProfileCache,
    ProfileCacheError,
    default_cache_path,
    fiscal_code_hash,
    service_fingerprint,
)
from dispatcher.simulator import fiscal_code_hash as io_hash
from dispatcher.vocabulary import ProfileKind

CF = "RSSMRA85T10A562S"
OTHER = "BNCGLI90A41F205X"
FINGERPRINT = service_fingerprint("http://io.example/api/v1", "key-1")
DAY = date(2027, 1, 20)
HOUR = 3600.0


def at(day: date, hour: int = 10) -> float:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC).timestamp()


@pytest.fixture
def cache(tmp_path: Path) -> Iterator[ProfileCache]:
    with ProfileCache.open(tmp_path / "profiles.sqlite", service_fingerprint=FINGERPRINT) as c:
        yield c


def test_the_hash_is_ios_feed_hash_of_the_upper_case_code() -> None:
    assert fiscal_code_hash(CF) == io_hash(CF) == fiscal_code_hash(CF.lower())
    assert fiscal_code_hash("AAAAAA00A00A000A").startswith("69c91b40")


def test_a_decision_is_used_only_while_younger_than_the_ttl(cache: ProfileCache) -> None:
    assert cache.remember(CF, ProfileKind.NOT_ALLOWED, at(DAY, 9))
    hit = cache.lookup(CF, max_age_s=2 * HOUR, now=at(DAY, 10))
    assert hit is not None and hit.kind is ProfileKind.NOT_ALLOWED
    assert hit.checked_at == at(DAY, 9)
    assert "profile cache" in hit.detail and "2027-01-20 09:00 UTC" in hit.detail
    assert cache.lookup(CF, max_age_s=0.5 * HOUR, now=at(DAY, 10)) is None
    assert cache.lookup(OTHER, max_age_s=2 * HOUR, now=at(DAY, 10)) is None


def test_only_answers_about_the_citizen_are_cached(cache: ProfileCache) -> None:
    assert not cache.remember(CF, ProfileKind.REJECTED, at(DAY))
    assert not cache.remember(OTHER, ProfileKind.FAILED, at(DAY))
    assert cache.counts() == {}
    written = cache.remember_many([(CF, ProfileKind.ALLOWED, at(DAY)),
                                   (OTHER, ProfileKind.NO_PROFILE, at(DAY)),
                                   ("AAAAAA00A00A000A", ProfileKind.FAILED, at(DAY))])
    assert written == 2 and cache.counts() == {"allowed": 1, "no_profile": 1}


def test_a_newer_answer_replaces_an_older_one_never_the_reverse(cache: ProfileCache) -> None:
    cache.remember(CF, ProfileKind.ALLOWED, at(DAY, 10))
    cache.remember(CF, ProfileKind.NOT_ALLOWED, at(DAY, 12))
    cache.remember(CF, ProfileKind.ALLOWED, at(DAY, 11))  # a late write of an older answer
    hit = cache.lookup(CF, max_age_s=24 * HOUR, now=at(DAY, 13))
    assert hit is not None and hit.kind is ProfileKind.NOT_ALLOWED


def test_every_hash_a_feed_day_lists_is_dropped(cache: ProfileCache) -> None:
    cache.remember(CF, ProfileKind.ALLOWED, at(DAY))
    cache.remember(OTHER, ProfileKind.NO_PROFILE, at(DAY))
    cache.remember("AAAAAA00A00A000A", ProfileKind.NOT_ALLOWED, at(DAY))
    dropped = cache.apply_feed_day(DAY, subscriptions=[fiscal_code_hash(OTHER), "f" * 64],
                                   unsubscriptions=[fiscal_code_hash(CF).upper()])
    assert dropped == 2
    assert cache.applied_days() == {DAY}
    now = at(DAY + timedelta(days=1))
    assert cache.lookup(CF, max_age_s=48 * HOUR, now=now) is None  # unsubscribed: re-check
    assert cache.lookup(OTHER, max_age_s=48 * HOUR, now=now) is None  # subscribed: re-check
    kept = cache.lookup("AAAAAA00A00A000A", max_age_s=48 * HOUR, now=now)
    assert kept is not None and kept.kind is ProfileKind.NOT_ALLOWED


def test_an_entry_is_distrusted_while_a_feed_day_since_its_check_is_unsynced(
    cache: ProfileCache,
) -> None:
    cache.remember(CF, ProfileKind.ALLOWED, at(DAY))
    week = 7 * 24 * HOUR
    later = DAY + timedelta(days=3)
    assert cache.lookup(CF, max_age_s=week, now=at(DAY, 20)) is not None  # same day: trusted
    assert cache.days_to_sync(later) == [DAY, DAY + timedelta(days=1), DAY + timedelta(days=2)]
    assert cache.lookup(CF, max_age_s=week, now=at(later)) is None
    assert cache.untrusted_recent(max_age_s=week, now=at(later)) == 1
    cache.apply_feed_day(DAY, [], [])
    cache.apply_feed_day(DAY + timedelta(days=2), [], [])
    assert cache.lookup(CF, max_age_s=week, now=at(later)) is None  # DAY + 1 still missing
    assert cache.trusted_from(later) == DAY + timedelta(days=2)
    cache.apply_feed_day(DAY + timedelta(days=1), [], [])
    assert cache.days_to_sync(later) == []
    assert cache.lookup(CF, max_age_s=week, now=at(later)) is not None
    assert cache.untrusted_recent(max_age_s=week, now=at(later)) == 0


def test_a_check_written_after_its_days_feed_was_applied_is_dropped(cache: ProfileCache) -> None:
    """The midnight race: the applied feed may hold an event later than the check."""
    cache.apply_feed_day(DAY, [], [])
    assert not cache.remember(CF, ProfileKind.ALLOWED, at(DAY, 23))
    assert cache.remember(CF, ProfileKind.ALLOWED, at(DAY + timedelta(days=1), 0))


def test_days_to_sync_start_at_the_oldest_entry_or_since_and_are_capped(
    cache: ProfileCache,
) -> None:
    today = DAY + timedelta(days=4)
    assert cache.days_to_sync(today) == []  # nothing cached: nothing to outdate
    cache.remember(CF, ProfileKind.ALLOWED, at(DAY + timedelta(days=2)))
    cache.remember(OTHER, ProfileKind.ALLOWED, at(DAY + timedelta(days=1)))
    assert cache.days_to_sync(today) == [DAY + timedelta(days=n) for n in (1, 2, 3)]
    assert cache.days_to_sync(today, since=DAY + timedelta(days=3)) == [today - timedelta(1)]
    assert cache.days_to_sync(today, since=today) == []
    far = cache.days_to_sync(today, since=DAY - timedelta(days=400))
    assert len(far) == MAX_FEED_DAYS and far[0] == today - timedelta(days=MAX_FEED_DAYS)
    cache.apply_feed_day(DAY + timedelta(days=2), [], [])
    assert cache.days_to_sync(today) == [DAY + timedelta(days=1), DAY + timedelta(days=3)]


def test_a_cache_of_another_service_or_not_a_cache_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "profiles.sqlite"
    with ProfileCache.open(path, service_fingerprint=FINGERPRINT) as cache:
        cache.remember(CF, ProfileKind.ALLOWED, at(DAY))
    other = service_fingerprint("http://io.example/api/v1", "key-2")
    with pytest.raises(ProfileCacheError, match="another IO service"):
        ProfileCache.open(path, service_fingerprint=other)
    with ProfileCache.open(path, service_fingerprint=FINGERPRINT) as cache:  # still intact
        assert cache.counts() == {"allowed": 1}
    ledger = tmp_path / "ledger.sqlite"
    from dispatcher.ledger import Ledger

    Ledger.open(ledger).close()
    with pytest.raises(ProfileCacheError, match="not a dispatcher profile cache"):
        ProfileCache.open(ledger, service_fingerprint=FINGERPRINT)
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"not sqlite at all" * 100)
    with pytest.raises(ProfileCacheError, match="not a dispatcher profile cache"):
        ProfileCache.open(junk, service_fingerprint=FINGERPRINT)


def test_the_file_is_private_and_holds_hashes_only(tmp_path: Path) -> None:
    path = tmp_path / "c.dispatcher" / "profiles.sqlite"
    codes = [CF, OTHER, "AAAAAA00A00A000A"]
    with ProfileCache.open(path, service_fingerprint=FINGERPRINT) as cache:
        cache.remember_many([(code, ProfileKind.ALLOWED, at(DAY)) for code in codes])
        files = list(path.parent.iterdir())
        for file in files:  # the WAL too, before any checkpoint
            assert stat.S_IMODE(file.stat().st_mode) == 0o600, file.name
            data = file.read_bytes()
            for code in codes:
                assert code.encode() not in data and code.lower().encode() not in data
        assert any(fiscal_code_hash(CF).encode() in f.read_bytes() for f in files)
    assert b"key-1" not in path.read_bytes()


def test_default_path_sits_next_to_the_ledger(tmp_path: Path) -> None:
    expected = tmp_path / "tari.dispatcher" / "profiles.sqlite"
    assert default_cache_path(tmp_path / "tari.csv") == expected
    assert default_cache_path(tmp_path / "tari.dispatcher" / "ledger.sqlite") == expected
    expected.parent.mkdir()
    assert default_cache_path(expected.parent) == expected


def test_a_runs_view_counts_hits_and_writes_answers_in_batches(cache: ProfileCache) -> None:
    cache.remember(CF, ProfileKind.NOT_ALLOWED, at(DAY, 9))
    view = CachedProfiles(cache, max_age_s=24 * HOUR, clock=lambda: at(DAY, 10), batch=2)
    assert view.lookup(CF) is not None and view.lookup(OTHER) is None
    assert view.note(OTHER, ProfileKind.ALLOWED) == []
    assert view.note("AAAAAA00A00A000A", ProfileKind.REJECTED) == []  # never queued
    batch = view.note("BBBBBB00A00A000A", ProfileKind.NO_PROFILE)
    assert len(batch) == 2
    view.write(batch)
    view.note("CCCCCC00A00A000A", ProfileKind.ALLOWED)
    view.flush()
    stats = view.statistics()
    assert stats.hits == {"not_allowed": 1} and stats.checked == 1 and stats.remembered == 3
    assert cache.counts() == {"allowed": 2, "not_allowed": 1, "no_profile": 1}


def test_a_broken_cache_costs_checks_never_the_run(tmp_path: Path) -> None:
    cache = ProfileCache.open(tmp_path / "profiles.sqlite", service_fingerprint=FINGERPRINT)
    cache.remember(CF, ProfileKind.ALLOWED, at(DAY, 9))
    view = CachedProfiles(cache, max_age_s=24 * HOUR, clock=lambda: at(DAY, 10), batch=1)
    cache.close()  # any database error from here on
    assert view.lookup(CF) is None
    view.write(view.note(OTHER, ProfileKind.ALLOWED))
    assert view.statistics().checked == 1 and view.statistics().remembered == 0
