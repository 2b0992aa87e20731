"""The gateway: keys (401), the per-ente sliding window (429), and its headers."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from simtools import ALLOWED_CF, SimFactory

from dispatcher.simulator import DEMO_KEY, KeyConfig, RatePolicy, SimulatorConfig
from dispatcher.simulator.gateway import SlidingWindow

pytestmark = pytest.mark.anyio

APIM_401_INVALID = {
    "statusCode": 401,
    "message": "Access denied due to invalid subscription key. "
    "Make sure to provide a valid key for an active subscription.",
}


# --- the window itself, on a hand-driven clock ------------------------------------------------


def test_the_window_admits_limit_requests_then_asks_to_wait_for_the_oldest() -> None:
    window = SlidingWindow(RatePolicy(limit=3, period_s=5.0))
    assert [window.admit(t).remaining for t in (0.0, 1.0, 1.5)] == [2, 1, 0]
    refused = window.admit(2.0)
    assert not refused.admitted
    assert refused.retry_after_s == 3  # the request at t=0 leaves at t=5
    assert window.admit(5.0).admitted  # ... and then one more passes


def test_the_retry_hint_is_rounded_up_and_never_zero() -> None:
    window = SlidingWindow(RatePolicy(limit=1, period_s=1.0))
    window.admit(0.0)
    assert window.admit(0.2).retry_after_s == 1
    assert window.admit(0.999).retry_after_s == 1


def test_refused_requests_do_not_renew_the_window() -> None:
    window = SlidingWindow(RatePolicy(limit=2, period_s=1.0))
    window.admit(0.0)
    window.admit(0.1)
    for t in (0.2, 0.5, 0.9):
        assert not window.admit(t).admitted
    assert window.admit(1.0).admitted
    assert window.used(1.0) == 2


@settings(max_examples=60, deadline=None)
@given(
    limit=st.integers(1, 20),
    period=st.sampled_from([0.5, 1.0, 5.0]),
    gaps=st.lists(st.floats(0.0, 0.7, allow_nan=False), min_size=1, max_size=200),
)
def test_no_interval_of_one_period_ever_holds_more_than_limit_admissions(
    limit: int, period: float, gaps: list[float]
) -> None:
    window = SlidingWindow(RatePolicy(limit=limit, period_s=period))
    now, admitted = 0.0, []
    for gap in gaps:
        now += gap
        if window.admit(now).admitted:
            admitted.append(now)
    for i, start in enumerate(admitted):
        inside = [t for t in admitted[i:] if t < start + period]
        assert len(inside) <= limit


# --- through the app ----------------------------------------------------------------------------


async def test_a_missing_or_unknown_key_gets_apims_401_and_costs_nothing(
    make_sim: SimFactory,
) -> None:
    async with make_sim() as sim:
        await sim.configure(rate="2/5s")
        unknown = await sim.profile(ALLOWED_CF, key="nope")
        missing = await sim.api.post("/profiles", json={"fiscal_code": ALLOWED_CF},
                                     headers={"Ocp-Apim-Subscription-Key": ""})
        assert unknown.status_code == missing.status_code == 401
        assert unknown.json() == APIM_401_INVALID
        assert missing.json()["message"].startswith("Access denied due to missing subscription")
        assert unknown.headers["content-type"] == "application/json"
        assert (await sim.profile(ALLOWED_CF)).headers["x-rate-limit-remaining"] == "1"


async def test_the_key_may_also_come_as_apims_query_parameter(make_sim: SimFactory) -> None:
    async with make_sim() as sim:
        response = await sim.api.post("/profiles?subscription-key=demo-key",
                                      json={"fiscal_code": ALLOWED_CF}, headers={
                                          "Ocp-Apim-Subscription-Key": ""})
        assert response.status_code == 200


async def test_over_the_limit_gets_apims_429_with_the_custom_retry_header_only(
    make_sim: SimFactory,
) -> None:
    async with make_sim() as sim:
        await sim.configure(rate={"limit": 3, "period_s": 5})
        answered = [await sim.profile(ALLOWED_CF) for _ in range(3)]
        assert [r.headers["x-rate-limit-remaining"] for r in answered] == ["2", "1", "0"]
        refused = await sim.profile(ALLOWED_CF)
        assert refused.status_code == 429
        wait = int(refused.headers["x-rate-limit-retry-after"])
        assert 1 <= wait <= 5
        assert refused.json() == {
            "statusCode": 429,
            "message": f"Rate limit is exceeded. Try again in {wait} seconds.",
        }
        assert "retry-after" not in refused.headers
        assert "x-rate-limit-remaining" not in refused.headers


async def test_every_endpoint_and_every_answer_spends_the_same_budget(
    make_sim: SimFactory,
) -> None:
    async with make_sim() as sim:
        await sim.configure(rate="4/5s")
        assert (await sim.api.post("/profiles", json={})).status_code == 400
        assert (await sim.send({"content": {}})).status_code == 400
        assert (await sim.api.get(f"/messages/{ALLOWED_CF}/01ARZ3NDEKTSV4RRFFQ69G5FAV")
                ).status_code == 404
        assert (await sim.api.get("/subscriptions-feed/2020-01-01")).status_code == 200
        assert (await sim.profile(ALLOWED_CF)).status_code == 429


async def test_the_clock_moving_past_the_period_frees_the_window(make_sim: SimFactory) -> None:
    async with make_sim() as sim:
        await sim.configure(rate="1/5s")
        assert (await sim.profile(ALLOWED_CF)).status_code == 200
        assert (await sim.profile(ALLOWED_CF)).status_code == 429
        await sim.control.post("/clock/advance", json={"seconds": 5})
        assert (await sim.profile(ALLOWED_CF)).status_code == 200


async def test_keys_of_one_ente_share_a_window_and_other_entes_have_their_own(
    make_sim: SimFactory, base_config: SimulatorConfig,
) -> None:
    keys = (
        DEMO_KEY,
        replace(DEMO_KEY, key="demo-secondary"),
        replace(DEMO_KEY, key="other-service", service_id="another-service"),
        KeyConfig(key="comune-key", ente="comune", service_id="comune-service"),
    )
    config = replace(base_config, keys=keys, rate=RatePolicy(3, 5.0))
    async with make_sim(config) as sim:
        for key in ("demo-key", "demo-secondary", "other-service"):
            assert (await sim.profile(ALLOWED_CF, key=key)).status_code == 200
        assert (await sim.profile(ALLOWED_CF, key="demo-secondary")).status_code == 429
        assert (await sim.profile(ALLOWED_CF, key="comune-key")).status_code == 200
        stats = (await sim.control.get("/stats")).json()
        assert stats["window"]["demo"]["used"] == 3
        assert stats["window"]["comune"]["used"] == 1


async def test_an_ente_rate_override_and_zero_meaning_unlimited(make_sim: SimFactory,
                                                                base_config: SimulatorConfig
                                                                ) -> None:
    keys = (DEMO_KEY, KeyConfig(key="big", ente="regione", service_id="regione-service"))
    config = replace(base_config, keys=keys, rate=RatePolicy(1, 5.0),
                     ente_rates={"regione": RatePolicy(0)})
    async with make_sim(config) as sim:
        answers = [await sim.profile(ALLOWED_CF, key="big") for _ in range(20)]
        assert {r.status_code for r in answers} == {200}
        assert "x-rate-limit-remaining" not in answers[0].headers
        assert (await sim.profile(ALLOWED_CF)).status_code == 200
        assert (await sim.profile(ALLOWED_CF)).status_code == 429


async def test_changing_the_policy_at_runtime_starts_a_fresh_window(make_sim: SimFactory) -> None:
    async with make_sim() as sim:
        await sim.configure(rate="1/60s")
        await sim.profile(ALLOWED_CF)
        assert (await sim.profile(ALLOWED_CF)).status_code == 429
        await sim.configure(faults={"latency_ms": 0})  # unrelated change: window kept
        assert (await sim.profile(ALLOWED_CF)).status_code == 429
        await sim.configure(rate="2/60s")
        assert (await sim.profile(ALLOWED_CF)).status_code == 200


async def test_an_unknown_route_is_apims_404_outside_the_budget(make_sim: SimFactory) -> None:
    async with make_sim() as sim:
        await sim.configure(rate="1/5s")
        response = await sim.api.get("/services/anything")
        assert response.status_code == 404
        assert response.json() == {"statusCode": 404, "message": "Resource not found"}
        assert (await sim.api.get("/messages")).status_code == 404  # only POST exists
        assert (await sim.profile(ALLOWED_CF)).status_code == 200
