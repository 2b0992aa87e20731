"""``POST /messages`` (and ``/messages/{fiscal_code}``): what is stored and what is refused."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from simtools import (
    ALLOWED_CF,
    BLOCKED_CF,
    MISSING_CF,
    NOTICE_NUMBER,
    SANDBOX_CF,
    SimFactory,
    message_body,
)
from ulid import ULID

from dispatcher.simulator import DEMO_CONFIGURATION_ID, DEMO_KEY, KeyConfig, SimulatorConfig

pytestmark = pytest.mark.anyio

OTHER_CONFIGURATION_ID = "01HZZZZZZZZZZZZZZZZZZZ0THR"
PLAIN_KEY = KeyConfig(key="plain", ente="demo", service_id="plain-service")
"""A key with only the default Backoffice groups and IO's default payment cap of 0."""


def _payment(**extra: Any) -> dict[str, Any]:
    return {"payment_data": {"amount": 1250, "notice_number": NOTICE_NUMBER, **extra}}


def _third_party(**extra: Any) -> dict[str, Any]:
    return {"third_party_data": {"id": "pratica-42", **extra}}


@pytest.fixture
def keys_config(base_config: SimulatorConfig) -> SimulatorConfig:
    other = KeyConfig(key="other-ente", ente="comune", service_id="comune-service",
                      remote_configurations=frozenset({OTHER_CONFIGURATION_ID}))
    sandbox = replace(DEMO_KEY, key="sandbox", sandbox=True)
    return replace(base_config, keys=(DEMO_KEY, PLAIN_KEY, other, sandbox))


async def test_a_message_is_accepted_with_its_id_and_location(make_sim: SimFactory) -> None:
    async with make_sim() as sim:
        response = await sim.send(message_body())
        assert response.status_code == 201
        message_id = response.json()["id"]
        ULID.from_str(message_id)
        assert response.json() == {"id": message_id}
        assert response.headers["location"] == f"/api/v1/messages/{ALLOWED_CF}/{message_id}"
        [stored] = await sim.inbox(ALLOWED_CF)
        assert stored["id"] == message_id
        assert stored["subject"] == "Promemoria scadenza TARI"
        assert stored["service_id"] == "demo-service"


async def test_every_send_is_a_new_message_there_is_no_idempotency(make_sim: SimFactory) -> None:
    async with make_sim() as sim:
        ids = {(await sim.send(message_body())).json()["id"] for _ in range(3)}
        assert len(ids) == 3
        hashes = {m["content_hash"] for m in await sim.inbox(ALLOWED_CF)}
        assert len(hashes) == 1  # same content, same hash: how duplicates are proven


@pytest.mark.parametrize("path", ["/messages", "/messages/"])
async def test_the_fiscal_code_may_be_in_the_path_instead(make_sim: SimFactory, path: str) -> None:
    async with make_sim() as sim:
        response = await sim.api.post(f"/messages/{BLOCKED_CF}", json=message_body(None))
        assert response.status_code == 201
        assert response.headers["location"].startswith(f"/api/v1/messages/{BLOCKED_CF}/")
        assert (await sim.api.post(path, json=message_body())).status_code == 201


async def test_sending_to_someone_without_io_is_accepted_and_rejected_later(
    make_sim: SimFactory,
) -> None:
    async with make_sim() as sim:
        assert (await sim.send(message_body(MISSING_CF))).status_code == 201


@pytest.mark.parametrize(
    ("path_code", "body_code", "detail"),
    [
        (ALLOWED_CF, ALLOWED_CF, "but not in both"),
        (None, None, "in the path or in the payload"),
    ],
)
async def test_the_fiscal_code_must_be_in_exactly_one_place(
    make_sim: SimFactory, path_code: str | None, body_code: str | None, detail: str
) -> None:
    async with make_sim() as sim:
        path = f"/messages/{path_code}" if path_code else "/messages"
        response = await sim.api.post(path, json=message_body(body_code))
        assert response.status_code == 400
        assert response.json()["title"] == "Bad parameters"
        assert response.json()["detail"].endswith(detail)
        assert await sim.inbox(ALLOWED_CF) == []


async def test_a_malformed_fiscal_code_in_the_path_is_a_400(make_sim: SimFactory) -> None:
    async with make_sim() as sim:
        response = await sim.api.post("/messages/NOTAFISCALCODE00", json=message_body(None))
        assert response.status_code == 400
        assert response.json()["title"].startswith("Invalid string that matches the pattern")


async def test_premium_needs_the_premium_permission(make_sim: SimFactory,
                                                    keys_config: SimulatorConfig) -> None:
    async with make_sim(keys_config) as sim:
        body = message_body(feature_level_type="ADVANCED")
        refused = await sim.send(body, key="plain")
        assert refused.status_code == 403
        assert refused.json() == {
            "detail": "You do not have enough permissions to send a Premium message",
            "status": 403,
            "title": "You are not allowed here",
        }
        assert (await sim.send(body)).status_code == 201


@pytest.mark.parametrize(
    ("content", "detail"),
    [
        (_payment(payee={"fiscal_code": "12345678901"}), "a payment message with payee"),
        (_third_party(configuration_id=DEMO_CONFIGURATION_ID), "a third party message"),
        ({"eu_covid_cert": {"auth_code": "x"}}, "an EUCovidCert message"),
    ],
)
async def test_payload_features_need_their_groups(
    make_sim: SimFactory, keys_config: SimulatorConfig, content: dict[str, Any], detail: str
) -> None:
    async with make_sim(keys_config) as sim:
        refused = await sim.send(message_body(content=content), key="plain")
        assert refused.status_code == 403
        assert refused.json()["detail"].endswith(detail)


async def test_third_party_data_is_free_with_premium(make_sim: SimFactory,
                                                     keys_config: SimulatorConfig) -> None:
    premium_only = replace(PLAIN_KEY, key="premium", premium_write=True,
                           remote_configurations=frozenset({"01HZZZZZZZZZZZZZZZZZZZPREM"}))
    config = replace(keys_config, keys=(*keys_config.keys, premium_only))
    body = message_body(feature_level_type="ADVANCED",
                        content=_third_party(configuration_id="01HZZZZZZZZZZZZZZZZZZZPREM"))
    async with make_sim(config) as sim:
        assert (await sim.send(body, key="premium")).status_code == 201


@pytest.mark.parametrize(
    ("third_party", "level", "status", "title"),
    [
        ({}, "STANDARD", 403, "No configuration id for remote content"),
        ({"configuration_id": "01HZZZZZZZZZZZZZZZZZZZZZZZ"}, "STANDARD", 404,
         "Remote Content Configuration NOT FOUND"),
        ({"configuration_id": OTHER_CONFIGURATION_ID}, "STANDARD", 403, "Not your configuration"),
        ({"configuration_id": DEMO_CONFIGURATION_ID, "has_attachments": True}, "STANDARD", 403,
         "Attachments call forbidden"),
        ({"configuration_id": DEMO_CONFIGURATION_ID, "has_attachments": True}, "ADVANCED", 201,
         None),
        ({"configuration_id": DEMO_CONFIGURATION_ID, "has_remote_content": True}, "STANDARD",
         201, None),
    ],
)
async def test_remote_content_rules(
    make_sim: SimFactory, keys_config: SimulatorConfig, third_party: dict[str, Any],
    level: str, status: int, title: str | None,
) -> None:
    async with make_sim(keys_config) as sim:
        body = message_body(feature_level_type=level, content=_third_party(**third_party))
        response = await sim.send(body)
        assert response.status_code == status
        if title is not None:
            assert response.json()["title"] == title
            assert await sim.inbox(ALLOWED_CF) == []


async def test_any_service_of_the_owning_ente_may_use_its_configuration(
    make_sim: SimFactory, keys_config: SimulatorConfig
) -> None:
    sibling = replace(DEMO_KEY, key="sibling", service_id="sibling-service",
                      remote_configurations=frozenset())
    config = replace(keys_config, keys=(*keys_config.keys, sibling))
    async with make_sim(config) as sim:
        body = message_body(content=_third_party(configuration_id=DEMO_CONFIGURATION_ID))
        assert (await sim.send(body, key="sibling")).status_code == 201


async def test_a_sandbox_key_writes_only_to_its_authorized_recipients(
    make_sim: SimFactory, keys_config: SimulatorConfig
) -> None:
    async with make_sim(keys_config) as sim:
        assert (await sim.send(message_body(SANDBOX_CF), key="sandbox")).status_code == 201
        refused = await sim.send(message_body(ALLOWED_CF), key="sandbox")
        assert refused.status_code == 403
        assert refused.json()["title"] == "Recipient forbidden"
        path_refused = await sim.api.post(f"/messages/{MISSING_CF}", json=message_body(None),
                                          headers={"Ocp-Apim-Subscription-Key": "sandbox"})
        assert path_refused.status_code == 403


async def test_payments_above_the_service_cap_fail_and_the_default_cap_is_zero(
    make_sim: SimFactory, keys_config: SimulatorConfig
) -> None:
    async with make_sim(keys_config) as sim:
        refused = await sim.send(message_body(content=_payment()), key="plain")
        assert refused.status_code == 400
        assert refused.json()["title"] == "Error while sending payment metadata"
        assert "(1250 cents)" in refused.json()["detail"]
        assert (await sim.send(message_body(content=_payment()))).status_code == 201
        await sim.configure(keys=[{"key": "demo-key", "max_allowed_payment_amount": 1249}])
        assert (await sim.send(message_body(content=_payment()))).status_code == 400


async def test_premium_refusal_comes_before_bad_parameters(make_sim: SimFactory,
                                                           keys_config: SimulatorConfig) -> None:
    """IO checks payload permissions in middlewares, before the handler's own checks."""
    async with make_sim(keys_config) as sim:
        response = await sim.send(message_body(None, feature_level_type="ADVANCED"), key="plain")
        assert response.status_code == 403


async def test_the_payee_defaults_to_the_services_organization(make_sim: SimFactory) -> None:
    async with make_sim() as sim:
        created = await sim.send(message_body(feature_level_type="ADVANCED", content=_payment()))
        status = await sim.status(created.headers["location"])
        payment = status.json()["message"]["content"]["payment_data"]
        assert payment["payee"] == {"fiscal_code": DEMO_KEY.organization_fiscal_code}
