"""The ``/__sim__/`` control surface: shapes, runtime changes, reset, and refusals."""

from __future__ import annotations

from typing import Any

import pytest
from simtools import ALLOWED_CF, BLOCKED_CF, SimFactory, message_body

pytestmark = pytest.mark.anyio


async def test_the_inbox_lists_every_message_by_recipient(make_sim: SimFactory) -> None:
    async with make_sim() as sim:
        first = (await sim.send(message_body())).json()["id"]
        await sim.send(message_body(BLOCKED_CF, feature_level_type="ADVANCED"))
        body = (await sim.control.get("/inbox")).json()
        assert body["messages_total"] == 2
        assert set(body["inbox"]) == {ALLOWED_CF, BLOCKED_CF}
        [entry] = body["inbox"][ALLOWED_CF]
        assert set(entry) == {"id", "created_at", "subject", "content_hash", "service_id",
                              "feature_level_type", "status", "third_party_id"}
        assert entry["id"] == first
        assert entry["created_at"].endswith("Z")
        assert len(entry["content_hash"]) == 64
        assert body["inbox"][BLOCKED_CF][0]["status"] == "REJECTED"
        one = (await sim.control.get(f"/inbox/{ALLOWED_CF}")).json()
        assert one == {"fiscal_code": ALLOWED_CF, "messages": [entry]}


async def test_stats_count_endpoints_codes_faults_and_the_window(make_sim: SimFactory) -> None:
    async with make_sim() as sim:
        await sim.configure(rate="3/5s")
        await sim.profile(ALLOWED_CF)
        await sim.send(message_body())
        await sim.profile(ALLOWED_CF, key="wrong")
        await sim.send({"content": {}})
        await sim.profile(ALLOWED_CF)
        stats = (await sim.control.get("/stats")).json()
        assert stats["requests"] == {"profiles": 3, "messages": 2}
        assert stats["status_codes"] == {"200": 1, "201": 1, "401": 1, "400": 1, "429": 1}
        assert stats["by_endpoint"]["profiles"] == {"200": 1, "401": 1, "429": 1}
        assert (stats["throttled"], stats["unauthorized"]) == (1, 1)
        assert stats["messages_stored"] == stats["messages_total"] == 1
        assert stats["window"] == {"demo": {"used": 3, "limit": 3, "period_s": 5.0}}


async def test_reset_restores_the_startup_config_and_forgets_everything(
    make_sim: SimFactory,
) -> None:
    async with make_sim() as sim:
        await sim.send(message_body())
        await sim.configure(rate="1/5s", faults={"error_500_share": 1.0})
        await sim.control.post(f"/citizens/{ALLOWED_CF}", json={"has_profile": False})
        await sim.control.post("/clock/advance", json={"seconds": 30})
        assert (await sim.control.post("/reset")).json() == {"reset": True}
        assert await sim.inbox(ALLOWED_CF) == []
        config = (await sim.control.get("/config")).json()
        assert config["rate"] == {"limit": 150, "period_s": 5.0}
        assert config["faults"]["error_500_share"] == 0.0
        assert (await sim.profile(ALLOWED_CF)).status_code == 200
        stats = (await sim.control.get("/stats")).json()
        assert stats["requests_total"] == 1 and stats["clock_offset_s"] == 0.0


async def test_the_config_view_never_shows_a_whole_key(make_sim: SimFactory) -> None:
    async with make_sim() as sim:
        config = (await sim.control.get("/config")).json()
        assert [k["key"] for k in config["keys"]] == ["demo…"]
        assert "demo-key" not in (await sim.control.get("/config")).text


async def test_configure_answers_the_new_config(make_sim: SimFactory) -> None:
    async with make_sim() as sim:
        new = (await sim.configure(rate={"limit": 10, "period_s": 1},
                                   faults={"latency_ms": 5, "endpoints": "messages,profiles"},
                                   processing_delay_s=1)).json()
        assert new["rate"] == {"limit": 10, "period_s": 1.0}
        assert new["faults"]["endpoints"] == ["messages", "profiles"]
        assert new["processing_delay_s"] == 1.0
        post = await sim.control.post("/config", json={"rate": "unlimited"})
        assert post.json()["rate"]["limit"] == 0


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"colour": "red"}, "unknown setting"),
        ({"rate": "fast"}, "is not like"),
        ({"rate": {"limit": -1}}, "limit >= 0"),
        ({"faults": {"error_500_share": 2}}, "between 0 and 1"),
        ({"faults": {"latency_ms": "slow"}}, "must be a number"),
        ({"faults": {"seed": 1.5}}, "must be an integer"),
        ({"keys": []}, "at least one key"),
        ({"keys": [{"key": "a", "premium_write": "yes"}]}, "true or false"),
        ({"keys": [{"service_id": "x"}]}, "needs a 'key'"),
        ({"population": {"file": "/nonexistent/p.csv"}}, "cannot read population file"),
        ({"processing_delay_s": -1}, ">= 0"),
    ],
)
async def test_bad_config_changes_are_400_and_change_nothing(
    make_sim: SimFactory, changes: dict[str, Any], message: str
) -> None:
    async with make_sim() as sim:
        before = (await sim.control.get("/config")).json()
        response = await sim.control.patch("/config", json=changes)
        assert response.status_code == 400
        assert message in response.json()["error"]
        assert (await sim.control.get("/config")).json() == before


async def test_a_citizens_state_can_be_read_and_changed(make_sim: SimFactory) -> None:
    async with make_sim() as sim:
        view = (await sim.control.get(f"/citizens/{BLOCKED_CF}")).json()
        assert view == {"fiscal_code": BLOCKED_CF, "has_profile": True, "default_allowed": False,
                        "services": {}, "sender_allowed": {"demo-service": False}}
        changed = await sim.control.post(f"/citizens/{BLOCKED_CF}", json={
            "sender_allowed": True, "service_id": "demo-service"})
        assert changed.json()["sender_allowed"] == {"demo-service": True}


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/citizens/not-a-code", {}),
        (f"/citizens/{ALLOWED_CF}", {"sender_allowed": "no"}),
        (f"/citizens/{ALLOWED_CF}", {"consent": False}),
        (f"/citizens/{ALLOWED_CF}", {"has_profile": True, "date": "01/03/2024"}),
        ("/feed", {"events": "all"}),
        ("/feed", {"events": [{"fiscal_code": "x", "subscribed": True}]}),
        ("/feed", {"events": [{"fiscal_code": ALLOWED_CF, "subscribed": "yes"}]}),
        ("/clock/advance", {"seconds": -1}),
        ("/clock/advance", {}),
    ],
)
async def test_bad_control_requests_are_400(make_sim: SimFactory, path: str,
                                            body: dict[str, Any]) -> None:
    async with make_sim() as sim:
        response = await sim.control.post(path, json=body)
        assert response.status_code == 400
        assert response.json()["error"]


async def test_marking_a_message_needs_a_known_id_and_known_values(make_sim: SimFactory) -> None:
    async with make_sim() as sim:
        unknown = await sim.control.post("/messages/01ARZ3NDEKTSV4RRFFQ69G5FAV",
                                         json={"read_status": "READ"})
        assert unknown.status_code == 404
        message_id = (await sim.send(message_body())).json()["id"]
        bad = await sim.control.post(f"/messages/{message_id}", json={"payment_status": "SOON"})
        assert bad.status_code == 400


async def test_the_control_surface_is_outside_the_budget(make_sim: SimFactory) -> None:
    async with make_sim() as sim:
        await sim.configure(rate="1/5s")
        for _ in range(5):
            assert (await sim.control.get("/stats")).status_code == 200
        assert (await sim.control.get("/health")).json() == {"ok": True}
        assert (await sim.profile(ALLOWED_CF)).status_code == 200


async def test_the_feed_of_today_can_be_peeked_at(make_sim: SimFactory) -> None:
    async with make_sim() as sim:
        await sim.control.post(f"/citizens/{ALLOWED_CF}", json={"sender_allowed": False})
        today = sim.state.today().isoformat()
        peek = (await sim.control.get(f"/feed/{today}?service_id=demo-service")).json()
        assert len(peek["unsubscriptions"]) == 1
