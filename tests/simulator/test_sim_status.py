"""``GET /messages/{fiscal_code}/{id}``: status progression and what each caller may see."""

from __future__ import annotations

from dataclasses import replace

import pytest
from simtools import (
    ALLOWED_CF,
    BLOCKED_CF,
    MISSING_CF,
    NOTICE_NUMBER,
    Sim,
    SimFactory,
    message_body,
)

from dispatcher.simulator import DEMO_KEY, FaultConfig, SimulatorConfig

pytestmark = pytest.mark.anyio

PAYMENT = {"payment_data": {"amount": 1250, "notice_number": NOTICE_NUMBER}}


@pytest.fixture
def slow_config(base_config: SimulatorConfig) -> SimulatorConfig:
    """Processing takes 10 s of simulator time: tests move the clock instead of sleeping."""
    reader = replace(DEMO_KEY, key="no-premium-read", premium_read=False)
    stranger = replace(DEMO_KEY, key="stranger", service_id="stranger-service")
    return replace(base_config, processing_delay_s=10.0, keys=(DEMO_KEY, reader, stranger))


async def _send(sim: Sim, code: str = ALLOWED_CF, **extra: object) -> str:
    response = await sim.send(message_body(code, **extra))
    assert response.status_code == 201, response.text
    location: str = response.headers["location"]
    return location


async def _advance(sim: Sim, seconds: float) -> None:
    assert (await sim.control.post("/clock/advance", json={"seconds": seconds})).status_code == 200


async def _status(sim: Sim, location: str, key: str = "demo-key") -> str:
    response = await sim.status(location, key)
    assert response.status_code == 200, response.text
    status: str = response.json()["status"]
    return status


async def test_a_message_is_accepted_until_processed(make_sim: SimFactory,
                                                     slow_config: SimulatorConfig) -> None:
    async with make_sim(slow_config) as sim:
        location = await _send(sim)
        pending = (await sim.status(location)).json()
        assert pending["status"] == "ACCEPTED"
        assert "content" not in pending["message"]
        await _advance(sim, 9.9)
        assert await _status(sim, location) == "ACCEPTED"
        await _advance(sim, 0.1)
        done = (await sim.status(location)).json()
        assert done["status"] == "PROCESSED"
        assert done["message"]["content"]["subject"] == "Promemoria scadenza TARI"
        assert set(done["message"]) == {"id", "fiscal_code", "created_at", "sender_service_id",
                                        "time_to_live", "feature_level_type", "content"}
        assert "notification" not in done


@pytest.mark.parametrize("code", [MISSING_CF, BLOCKED_CF])
async def test_a_recipient_without_io_or_consent_means_rejected_without_content(
    make_sim: SimFactory, code: str
) -> None:
    async with make_sim() as sim:
        response = await sim.status(await _send(sim, code))
        assert response.json()["status"] == "REJECTED"
        assert "content" not in response.json()["message"]


async def test_consent_withdrawn_before_processing_rejects_the_message(
    make_sim: SimFactory, slow_config: SimulatorConfig
) -> None:
    async with make_sim(slow_config) as sim:
        assert (await sim.profile(ALLOWED_CF)).json()["sender_allowed"] is True
        location = await _send(sim)
        await sim.control.post(f"/citizens/{ALLOWED_CF}",
                               json={"sender_allowed": False, "service_id": "demo-service"})
        await _advance(sim, 10)
        assert await _status(sim, location) == "REJECTED"


async def test_consent_withdrawn_after_processing_changes_nothing(
    make_sim: SimFactory, slow_config: SimulatorConfig
) -> None:
    """Nobody read the status in between: processing is lazy but must not see the future."""
    async with make_sim(slow_config) as sim:
        location = await _send(sim)
        await _advance(sim, 10)
        await sim.control.post(f"/citizens/{ALLOWED_CF}", json={"sender_allowed": False})
        assert await _status(sim, location) == "PROCESSED"
        [entry] = await sim.inbox(ALLOWED_CF)
        assert entry["status"] == "PROCESSED"


async def test_read_and_payment_status_appear_only_for_processed_premium_messages(
    make_sim: SimFactory, slow_config: SimulatorConfig
) -> None:
    async with make_sim(slow_config) as sim:
        premium = await _send(sim, feature_level_type="ADVANCED", content=PAYMENT)
        standard = await _send(sim, content=PAYMENT)
        premium_no_payment = await _send(sim, feature_level_type="ADVANCED")
        pending = (await sim.status(premium)).json()
        assert "read_status" not in pending and "payment_status" not in pending
        await _advance(sim, 10)
        body = (await sim.status(premium)).json()
        assert (body["read_status"], body["payment_status"]) == ("UNREAD", "NOT_PAID")
        plain = (await sim.status(standard)).json()
        assert "read_status" not in plain and "payment_status" not in plain
        no_payment = (await sim.status(premium_no_payment)).json()
        assert no_payment["read_status"] == "UNREAD" and "payment_status" not in no_payment
        unprivileged = (await sim.status(premium, "no-premium-read")).json()
        assert "read_status" not in unprivileged and "payment_status" not in unprivileged


async def test_a_rejected_premium_message_shows_no_read_status(make_sim: SimFactory) -> None:
    async with make_sim() as sim:
        body = (await sim.status(await _send(sim, MISSING_CF, feature_level_type="ADVANCED",
                                             content=PAYMENT))).json()
        assert body["status"] == "REJECTED"
        assert "read_status" not in body and "payment_status" not in body


async def test_the_control_surface_marks_messages_read_and_paid(make_sim: SimFactory) -> None:
    async with make_sim() as sim:
        location = await _send(sim, feature_level_type="ADVANCED", content=PAYMENT)
        message_id = location.rsplit("/", 1)[1]
        marked = await sim.control.post(f"/messages/{message_id}",
                                        json={"read_status": "READ", "payment_status": "PAID"})
        assert marked.status_code == 200
        assert marked.json()["read_status"] == "READ"
        body = (await sim.status(location)).json()
        assert (body["read_status"], body["payment_status"]) == ("READ", "PAID")
        await sim.control.post(f"/messages/{message_id}", json={"read_status": "UNAVAILABLE"})
        assert (await sim.status(location)).json()["read_status"] == "UNAVAILABLE"


async def test_processing_failures_end_failed(make_sim: SimFactory,
                                              base_config: SimulatorConfig) -> None:
    config = replace(base_config, faults=FaultConfig(processing_failure_share=1.0))
    async with make_sim(config) as sim:
        body = (await sim.status(await _send(sim))).json()
        assert body["status"] == "FAILED"
        assert "content" not in body["message"]


async def test_unknown_ids_and_wrong_recipients_are_404(make_sim: SimFactory) -> None:
    async with make_sim() as sim:
        location = await _send(sim)
        message_id = location.rsplit("/", 1)[1]
        for path in (f"/messages/{ALLOWED_CF}/01ARZ3NDEKTSV4RRFFQ69G5FAV",
                     f"/messages/{BLOCKED_CF}/{message_id}"):
            response = await sim.api.get(path)
            assert response.status_code == 404
            assert response.json()["title"] == "Message not found"


async def test_another_services_message_is_403(make_sim: SimFactory,
                                               slow_config: SimulatorConfig) -> None:
    async with make_sim(slow_config) as sim:
        response = await sim.status(await _send(sim), key="stranger")
        assert response.status_code == 403
        assert response.json()["detail"].startswith("You are not allowed to read this message")


async def test_a_malformed_fiscal_code_in_the_path_is_400(make_sim: SimFactory) -> None:
    async with make_sim() as sim:
        response = await sim.api.get("/messages/rssmra85t10a562s/01ARZ3NDEKTSV4RRFFQ69G5FAV")
        assert response.status_code == 400
        assert response.headers["content-type"] == "application/problem+json"


async def test_the_inbox_shows_the_current_status(make_sim: SimFactory,
                                                  slow_config: SimulatorConfig) -> None:
    async with make_sim(slow_config) as sim:
        await _send(sim)
        assert [m["status"] for m in await sim.inbox(ALLOWED_CF)] == ["ACCEPTED"]
        await _advance(sim, 10)
        assert [m["status"] for m in await sim.inbox(ALLOWED_CF)] == ["PROCESSED"]
