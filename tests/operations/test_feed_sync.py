"""The subscriptions feed keeps the profile cache honest: sync, invalidation, warm runs, CLI."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from enginetools import TEMPLATE, cli_env, ledger_rows, run_cli, write_campaign

from dispatcher.campaign import CampaignSource
from dispatcher.ioapi import FeedKind
from dispatcher.operations.feed_sync import FeedSyncReport, sync_feed
from dispatcher.operations.run import RunOptions, RunResult, run_campaign
from dispatcher.profilecache import ProfileCache, ProfileCacheUse, service_fingerprint
from dispatcher.settings import RateSpec, Secret, Settings
from dispatcher.simulator import DEFAULT_KEY, DEFAULT_SERVICE_ID, RunningSimulator
from dispatcher.stopping import StopOptions
from dispatcher.vocabulary import ExitCode, ProfileKind, RowState

DAY_S = 86_400.0
NIGHTLY_TTL = 36 * 3600.0  # a nightly job's entries are ~24 h old the next night


def _settings(sim: RunningSimulator) -> Settings:
    return Settings(base_url=sim.base_url, api_key=Secret(DEFAULT_KEY),
                    rate=RateSpec.parse("1000/s"), concurrency=8)


def _open(sim: RunningSimulator, path: Path) -> ProfileCache:
    return ProfileCache.open(path, service_fingerprint=service_fingerprint(sim.base_url,
                                                                           DEFAULT_KEY))


def _sync(sim: RunningSimulator, cache: ProfileCache, today: date) -> FeedSyncReport:
    return sync_feed(settings=_settings(sim), cache_path=cache.path, today=today,
                     cache=cache).report


def _run(sim: RunningSimulator, csv_path: Path, ledger: Path, cache: Path, *,
         days_later: int = 0) -> RunResult:
    """A run whose wall clock (for the cache) is ``days_later`` days ahead: tonight's repeat.

    The repeat sends the same file again, so it passes ``allow_resend``: the send journal
    would otherwise (rightly) decide every row ``already_sent`` before any profile check.
    """
    shift = days_later * DAY_S
    return run_campaign(
        CampaignSource(csv_path, TEMPLATE), settings=_settings(sim), ledger_path=ledger,
        options=RunOptions(stops=StopOptions(handle_signals=False), allow_resend=True,
                           profile_cache=ProfileCacheUse(
                               cache, NIGHTLY_TTL, clock=lambda: time.time() + shift)),
    )


def _profile_checks(sim: RunningSimulator) -> int:
    """``POST /profiles`` so far; each run adds one of its own, the pre-flight's probe."""
    return int(sim.stats()["requests"].get("profiles", 0))


def _today() -> date:
    return datetime.now(UTC).date()


def test_a_day_not_published_yet_is_reported_not_applied_and_fetched_next_time(
    tmp_path: Path, simulator: RunningSimulator
) -> None:
    code = "RSSMRA85T10A562S"
    today = _today()
    with _open(simulator, tmp_path / "profiles.sqlite") as cache:
        cache.remember(code, ProfileKind.ALLOWED, time.time())
        simulator.citizen(code, sender_allowed=False, service_id=DEFAULT_SERVICE_ID)  # today
        tomorrow = today + timedelta(days=1)
        early = _sync(simulator, cache, today=tomorrow)  # today's feed is asked for: 404
        assert early.planned == (today,) and early.applied == []
        assert early.not_available == [today] and early.days[0].http_status == 404
        assert early.exit_code is ExitCode.OK and early.requests == 1
        assert cache.applied_days() == set() and cache.counts() == {"allowed": 1}
        # Tomorrow the entry is not trusted: a feed day since its check is unknown.
        assert cache.lookup(code, max_age_s=NIGHTLY_TTL, now=time.time() + DAY_S) is None

        simulator.advance_clock(DAY_S)  # the day is over: IO publishes it
        late = _sync(simulator, cache, today=tomorrow)
        assert late.applied == [today] and late.not_available == []
        assert (late.days[0].kind, late.days[0].unsubscriptions, late.invalidated) == (
            FeedKind.FOUND, 1, 1)
        assert cache.applied_days() == {today} and cache.counts() == {}
        assert _sync(simulator, cache, today=tomorrow).planned == ()


def test_an_unsubscription_in_the_feed_makes_the_next_run_check_and_not_send(
    tmp_path: Path, simulator: RunningSimulator
) -> None:
    today = _today()
    csv_path = write_campaign(tmp_path / "c.csv", 40)
    cache_path = tmp_path / "profiles.sqlite"
    first = _run(simulator, csv_path, tmp_path / "n1" / "ledger.sqlite", cache_path)
    assert first.profile_cache is not None and first.profile_cache.checked == 40
    assert first.profile_cache.remembered == 40
    rows = ledger_rows(tmp_path / "n1" / "ledger.sqlite")
    sent = [code for _, code, state, _ in rows if state == "sent"]
    leaver = sent[0]
    simulator.citizen(leaver, sender_allowed=False, service_id=DEFAULT_SERVICE_ID)  # today
    simulator.advance_clock(DAY_S)  # tonight: today's feed is published
    with _open(simulator, cache_path) as cache:
        report = _sync(simulator, cache, today=today + timedelta(days=1))
    assert report.applied == [today] and report.invalidated == 1

    checks_before = _profile_checks(simulator)
    second = _run(simulator, csv_path, tmp_path / "n2" / "ledger.sqlite", cache_path,
                  days_later=1)
    assert _profile_checks(simulator) - checks_before == 1 + 1  # the probe, the one who left
    assert second.profile_cache is not None
    assert second.profile_cache.checked == 1 and second.profile_cache.hit_total == 39
    again = {code: state for _, code, state, _ in ledger_rows(tmp_path / "n2" /
                                                                "ledger.sqlite")}
    assert again[leaver] == "sender_not_allowed"
    assert len(simulator.messages_for(leaver)) == 1  # the first night's message only
    assert sorted(c for c, s in again.items() if s == "sent") == sorted(sent[1:])


def test_a_warm_cache_skips_every_check_the_same_day_but_not_after_an_unsynced_night(
    tmp_path: Path, simulator: RunningSimulator
) -> None:
    csv_path = write_campaign(tmp_path / "c.csv", 30, seed=5)
    cache_path = tmp_path / "profiles.sqlite"
    first = _run(simulator, csv_path, tmp_path / "a" / "ledger.sqlite", cache_path)
    checks = _profile_checks(simulator)
    messages = int(simulator.stats()["requests"]["messages"])
    warm = _run(simulator, csv_path, tmp_path / "b" / "ledger.sqlite", cache_path)
    assert _profile_checks(simulator) == checks + 1  # the probe: not one citizen checked
    assert warm.counts == first.counts
    sent = int(simulator.stats()["requests"]["messages"]) - messages
    assert sent == first.counts[RowState.SENT] > 0
    decided = [detail for state, detail in _details(tmp_path / "b" / "ledger.sqlite")
               if state in ("sender_not_allowed", "no_profile")]
    assert decided and all(d.startswith("profile cache: ") for d in decided)
    # The next night without `feed sync`: yesterday's feed may contradict every entry.
    _run(simulator, csv_path, tmp_path / "c" / "ledger.sqlite", cache_path, days_later=1)
    assert _profile_checks(simulator) - checks == 1 + 1 + 30  # two probes, every citizen


def _details(path: Path) -> list[tuple[str, str]]:
    """(state, detail) of every row of a ledger."""
    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
        return db.execute("SELECT state, coalesce(detail, '') FROM rows").fetchall()


def test_feed_sync_cli_applies_yesterday_and_refuses_another_services_cache(
    tmp_path: Path, simulator: RunningSimulator
) -> None:
    code = "BNCGLI90A41F205X"
    yesterday = _today() - timedelta(days=1)
    csv_path = tmp_path / "c.csv"
    cache_path = tmp_path / "c.dispatcher" / "profiles.sqlite"
    first_night = run_cli(["feed", "sync", "--cache", str(csv_path)], cli_env(simulator))
    assert first_night.returncode == ExitCode.OK, first_night.stderr  # no cache yet: fine
    assert "nothing to sync" in first_night.stdout and not cache_path.exists()
    noon = datetime(yesterday.year, yesterday.month, yesterday.day, 12, tzinfo=UTC)
    with _open(simulator, cache_path) as cache:
        cache.remember(code, ProfileKind.ALLOWED, noon.timestamp())
    simulator.record_feed([{"fiscal_code": code, "subscribed": False,
                            "service_id": DEFAULT_SERVICE_ID}], date=yesterday.isoformat())
    out = run_cli(["feed", "sync", "--cache", str(csv_path), "--json"], cli_env(simulator))
    assert out.returncode == ExitCode.OK, out.stderr
    report = json.loads(out.stdout)
    assert report["applied"] == [yesterday.isoformat()] and report["invalidated"] == 1
    assert report["days"][0]["unsubscriptions"] == 1 and report["entries"] == 0
    assert simulator.stats()["requests"] == {"subscriptions_feed": 1}

    env = cli_env(simulator)
    env["IO_API_KEY"] = "another-services-key"
    refused = run_cli(["feed", "sync", "--cache", str(cache_path)], env)
    assert refused.returncode == ExitCode.CONFIG_ERROR
    assert "another IO service" in refused.stderr
    assert simulator.stats()["requests"] == {"subscriptions_feed": 1}  # nothing was asked
