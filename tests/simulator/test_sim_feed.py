"""``GET /subscriptions-feed/{date}``: IO's write and read rules for the daily feed."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import date, timedelta

import pytest
from simtools import ALLOWED_CF, BLOCKED_CF, MISSING_CF, Sim, SimFactory

from dispatcher.simulator import DEMO_KEY, SimulatorConfig, fiscal_code_hash
from dispatcher.simulator.feed import SubscriptionsFeed
from dispatcher.simulator.population import FeedEvent

pytestmark = pytest.mark.anyio

DAY = date(2024, 3, 1)
H_ALLOWED, H_BLOCKED, H_MISSING = (fiscal_code_hash(c) for c in (ALLOWED_CF, BLOCKED_CF,
                                                                   MISSING_CF))


def test_the_hash_is_lowercase_hex_sha256_of_the_upper_case_code() -> None:
    assert fiscal_code_hash("AAAAAA00A00A000A").startswith("69c91b40")
    assert fiscal_code_hash("AAAAAA00A00A000A").endswith("8371d")
    assert fiscal_code_hash("rssmra85t10a562s") == hashlib.sha256(ALLOWED_CF.encode()).hexdigest()


def _feed(*events: FeedEvent) -> SubscriptionsFeed:
    feed = SubscriptionsFeed()
    for event in events:
        feed.record(event, DAY)
    return feed


def test_subscribing_then_unsubscribing_a_service_the_same_day_cancels_out() -> None:
    feed = _feed(FeedEvent(ALLOWED_CF, True, "svc"), FeedEvent(ALLOWED_CF, False, "svc"))
    assert feed.read(DAY, "svc") == {"dateUTC": "2024-03-01", "subscriptions": [],
                                     "unsubscriptions": []}


def test_a_profile_event_replaces_its_opposite_the_same_day() -> None:
    feed = _feed(FeedEvent(ALLOWED_CF, True), FeedEvent(ALLOWED_CF, False))
    assert feed.read(DAY, "svc")["unsubscriptions"] == [H_ALLOWED]
    assert feed.read(DAY, "svc")["subscriptions"] == []


def test_new_profiles_count_for_every_service_except_those_they_left() -> None:
    feed = _feed(FeedEvent(ALLOWED_CF, True), FeedEvent(BLOCKED_CF, True),
                 FeedEvent(BLOCKED_CF, False, "svc"), FeedEvent(MISSING_CF, True, "other"))
    assert feed.read(DAY, "svc")["subscriptions"] == [H_ALLOWED]
    assert feed.read(DAY, "svc")["unsubscriptions"] == []  # never knew BLOCKED_CF existed
    assert feed.read(DAY, "other")["subscriptions"] == [H_ALLOWED, H_BLOCKED, H_MISSING]


def test_days_are_separate() -> None:
    feed = _feed(FeedEvent(ALLOWED_CF, True, "svc"))
    assert feed.read(DAY + timedelta(days=1), "svc")["subscriptions"] == []


async def _get_feed(sim: Sim, day: str, key: str = "demo-key") -> dict[str, object]:
    response = await sim.api.get(f"/subscriptions-feed/{day}",
                                 headers={"Ocp-Apim-Subscription-Key": key})
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


async def test_consent_changes_land_in_the_feed_of_their_day(make_sim: SimFactory) -> None:
    async with make_sim() as sim:
        await sim.control.post(f"/citizens/{ALLOWED_CF}",
                               json={"sender_allowed": False, "date": "2024-03-01"})
        await sim.control.post(f"/citizens/{BLOCKED_CF}",
                               json={"sender_allowed": True, "service_id": "demo-service",
                                     "date": "2024-03-01"})
        await sim.control.post(f"/citizens/{MISSING_CF}",
                               json={"has_profile": True, "date": "2024-03-02"})
        assert await _get_feed(sim, "2024-03-01") == {
            "dateUTC": "2024-03-01",
            "subscriptions": [H_BLOCKED],
            "unsubscriptions": [H_ALLOWED],
        }
        assert (await _get_feed(sim, "2024-03-02"))["subscriptions"] == [H_MISSING]


async def test_a_change_that_changes_nothing_writes_nothing(make_sim: SimFactory) -> None:
    async with make_sim() as sim:
        await sim.control.post(f"/citizens/{ALLOWED_CF}",
                               json={"sender_allowed": True, "date": "2024-03-01"})
        assert (await _get_feed(sim, "2024-03-01"))["subscriptions"] == []


async def test_feed_rows_can_be_written_directly(make_sim: SimFactory) -> None:
    async with make_sim() as sim:
        response = await sim.control.post("/feed", json={"date": "2024-03-01", "events": [
            {"fiscal_code": ALLOWED_CF, "subscribed": True, "service_id": "demo-service"},
            {"fiscal_code": BLOCKED_CF, "subscribed": False},
        ]})
        assert response.json() == {"recorded": 2, "date": "2024-03-01"}
        feed = await _get_feed(sim, "2024-03-01")
        assert (feed["subscriptions"], feed["unsubscriptions"]) == ([H_ALLOWED], [H_BLOCKED])
        assert (await sim.profile(BLOCKED_CF)).json()["sender_allowed"] is False  # unchanged


async def test_today_and_the_future_are_not_available_yet(make_sim: SimFactory) -> None:
    async with make_sim() as sim:
        today = sim.state.today()
        for day in (today, today + timedelta(days=3)):
            response = await sim.api.get(f"/subscriptions-feed/{day.isoformat()}")
            assert response.status_code == 404
            assert response.json()["title"] == "Data not available yet"
            assert "GMT" in response.json()["detail"]
        await sim.control.post(f"/citizens/{ALLOWED_CF}", json={"sender_allowed": False})
        await sim.control.post("/clock/advance", json={"seconds": 86400})
        feed = await _get_feed(sim, today.isoformat())
        assert feed["unsubscriptions"] == [H_ALLOWED]


@pytest.mark.parametrize("day", ["2024-13-01", "2024-02-30", "20240301xx", "2024-W01-1"])
async def test_a_malformed_date_is_400(make_sim: SimFactory, day: str) -> None:
    async with make_sim() as sim:
        response = await sim.api.get(f"/subscriptions-feed/{day}")
        assert response.status_code == 400
        assert response.json()["title"] == "Invalid ShortDateString"


async def test_the_feed_needs_its_permission_checked_before_the_date(
    make_sim: SimFactory, base_config: SimulatorConfig
) -> None:
    no_feed = replace(DEMO_KEY, key="no-feed", feed_read=False)
    async with make_sim(replace(base_config, keys=(DEMO_KEY, no_feed))) as sim:
        for day in ("2024-03-01", "not-a-date"):
            response = await sim.api.get(f"/subscriptions-feed/{day}",
                                         headers={"Ocp-Apim-Subscription-Key": "no-feed"})
            assert response.status_code == 403
            assert response.json()["title"] == "You are not allowed here"


async def test_each_service_reads_its_own_feed(make_sim: SimFactory,
                                               base_config: SimulatorConfig) -> None:
    other = replace(DEMO_KEY, key="other", service_id="other-service")
    async with make_sim(replace(base_config, keys=(DEMO_KEY, other))) as sim:
        await sim.control.post(f"/citizens/{ALLOWED_CF}", json={
            "sender_allowed": False, "service_id": "other-service", "date": "2024-03-01"})
        assert (await _get_feed(sim, "2024-03-01"))["unsubscriptions"] == []
        other_feed = await _get_feed(sim, "2024-03-01", key="other")
        assert other_feed["unsubscriptions"] == [H_ALLOWED]
