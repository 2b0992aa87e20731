"""The simulator's remote-content configuration API, over loopback, as rc-func answers it.

A MANAGE key creates, lists, reads and updates its ente's configurations; another ente's are
403, unknown ones 404; the submit of a message naming a configuration follows the same store.
When the official spec file is there, every answer is checked against it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from simtools import ALLOWED_CF, SPEC_DIR, message_body
from ulid import ULID

from dispatcher.simulator import (
    DEMO_CONFIGURATION_ID,
    DEMO_KEY,
    KeyConfig,
    PopulationConfig,
    RatePolicy,
    RunningSimulator,
    SimulatorConfig,
    running_simulator,
)

RC_SPEC = SPEC_DIR / "io-messages.rc-func.configurations.openapi.yaml"
needs_spec = pytest.mark.skipif(
    not RC_SPEC.is_file(),
    reason=f"{RC_SPEC} not found: set IO_SPEC_DIR to the folder of IO's spec files")

PATH = "/messages-sending/remote-contents/configurations"
OTHER_KEY = KeyConfig(key="comune-manage", ente="comune", service_id="comune-service",
                      manage=True, premium_write=True, third_party=True)
SENDER_ONLY = KeyConfig(key="demo-send-only", service_id="demo-service")
"""A key of the demo ente without the MANAGE subscription."""
CONTENT_KEY = "ente-content-key-7f3a"


def body(**changes: Any) -> dict[str, Any]:
    """A valid ``NewRCConfigurationPublic`` (the one the README shows, roughly)."""
    base: dict[str, Any] = {
        "name": "TARI 2027",
        "description": "Avvisi TARI con allegati",
        "has_precondition": "ONCE",
        "disable_lollipop_for": [],
        "is_lollipop_enabled": False,
        "prod_environment": {"base_url": "https://contenuti.comune.example.it/io",
                             "details_authentication": {"header_key_name": "X-Api-Key",
                                                        "key": CONTENT_KEY,
                                                        "type": "API-KEY"}},
    }
    base.update(changes)
    return base


@pytest.fixture(scope="module")
def sim() -> Iterator[RunningSimulator]:
    config = SimulatorConfig(keys=(DEMO_KEY, OTHER_KEY, SENDER_ONLY),
                             rate=RatePolicy(limit=0), processing_delay_s=0.0,
                             population=PopulationConfig(share_missing=0, share_blocked=0))
    with running_simulator(config) as running:
        yield running


@pytest.fixture(scope="module")
def api(sim: RunningSimulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sim.base_url) as client:
        yield client


def call(api: httpx.Client, method: str, path: str = "", key: str = DEMO_KEY.key,
         **kwargs: Any) -> httpx.Response:
    return api.request(method, PATH + path, headers={"Ocp-Apim-Subscription-Key": key},
                       **kwargs)


def create(api: httpx.Client, key: str = DEMO_KEY.key, **changes: Any) -> dict[str, Any]:
    response = call(api, "POST", key=key, json=body(**changes))
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def test_create_answers_201_with_a_fresh_ulid_and_the_body(api: httpx.Client) -> None:
    first, second = create(api), create(api)
    assert first["configuration_id"] != second["configuration_id"]
    assert ULID.from_str(first["configuration_id"])  # a real ULID, made by the server
    assert {k: v for k, v in first.items() if k != "configuration_id"} == body()
    read = call(api, "GET", f"/{first['configuration_id']}")
    assert read.status_code == 200
    assert read.json() == {**first, "user_id": "demo"}


def test_the_list_holds_exactly_the_callers_configurations(api: httpx.Client) -> None:
    mine = create(api, name="mine")["configuration_id"]
    theirs = create(api, key=OTHER_KEY.key, name="theirs")["configuration_id"]
    listed = call(api, "GET").json()["rcConfigList"]
    ids = {c["configuration_id"] for c in listed}
    assert mine in ids and theirs not in ids
    assert DEMO_CONFIGURATION_ID in ids  # seeded from the key config
    assert {c["user_id"] for c in listed} == {"demo"}
    other_ids = {c["configuration_id"] for c in call(api, "GET", key=OTHER_KEY.key).json()[
        "rcConfigList"]}
    assert theirs in other_ids and mine not in other_ids


def test_update_replaces_the_whole_body_and_answers_204(api: httpx.Client) -> None:
    conf_id = create(api)["configuration_id"]
    new = body(name="TARI 2027 bis", has_precondition="NEVER", test_environment={
        "base_url": "https://test.comune.example.it/io",
        "details_authentication": {"header_key_name": "X-Api-Key", "key": "t-key",
                                   "type": "API-KEY"},
        "test_users": [ALLOWED_CF]})
    del new["prod_environment"]
    updated = call(api, "PUT", f"/{conf_id}", json=new)
    assert updated.status_code == 204 and updated.content == b""
    read = call(api, "GET", f"/{conf_id}").json()
    assert read == {**new, "configuration_id": conf_id, "user_id": "demo"}


def test_the_seeded_configuration_can_be_pointed_at_a_server(api: httpx.Client) -> None:
    seeded = call(api, "GET", f"/{DEMO_CONFIGURATION_ID}").json()
    assert "prod_environment" not in seeded and seeded["user_id"] == "demo"
    assert call(api, "PUT", f"/{DEMO_CONFIGURATION_ID}", json=body()).status_code == 204
    assert call(api, "GET", f"/{DEMO_CONFIGURATION_ID}").json()["prod_environment"] == body()[
        "prod_environment"]


@pytest.mark.parametrize("method", ["GET", "PUT"])
def test_another_entes_configuration_is_403_and_unchanged(api: httpx.Client,
                                                          method: str) -> None:
    theirs = create(api, key=OTHER_KEY.key)
    response = call(api, method, f"/{theirs['configuration_id']}",
                    json=body(name="hijacked") if method == "PUT" else None)
    assert response.status_code == 403
    assert response.json()["title"] == "You are not allowed here"
    still = call(api, "GET", f"/{theirs['configuration_id']}", key=OTHER_KEY.key).json()
    assert still["name"] == "TARI 2027"


@pytest.mark.parametrize("method", ["GET", "PUT"])
def test_an_unknown_configuration_is_a_404_problem(api: httpx.Client, method: str) -> None:
    response = call(api, method, f"/{ULID()}", json=body() if method == "PUT" else None)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


def test_a_key_without_the_manage_subscription_is_403_everywhere(api: httpx.Client) -> None:
    key = SENDER_ONLY.key
    assert call(api, "GET", key=key).status_code == 403
    assert call(api, "POST", key=key, json=body()).status_code == 403
    assert call(api, "GET", f"/{DEMO_CONFIGURATION_ID}", key=key).status_code == 403
    assert call(api, "GET", key="nobody").status_code == 401


@pytest.mark.parametrize(("changes", "where"), [
    ({"has_precondition": "NONE"}, "root.has_precondition"),  # the guide's example value
    ({"name": ""}, "root.name"),
    ({"disable_lollipop_for": ["not-a-code"]}, "root.disable_lollipop_for.0"),
    ({"prod_environment": {"base_url": "https://x.example"}},
     "root.prod_environment.details_authentication"),
    ({"test_environment": {"base_url": "https://x.example", "details_authentication": {
        "header_key_name": "h", "key": "k", "type": "API-KEY"}}},
     "root.test_environment.test_users"),
])
def test_a_body_ios_codec_refuses_is_400_naming_the_field(
        api: httpx.Client, changes: dict[str, Any], where: str) -> None:
    response = call(api, "POST", json=body(**changes))
    assert response.status_code == 400
    problem = response.json()
    assert problem["title"] == "Invalid NewRCConfigurationPublic"
    assert f"at [{where}]" in problem["detail"]


def test_unknown_fields_are_dropped_and_a_bad_id_is_400(api: httpx.Client) -> None:
    created = create(api, surprise=True)
    assert "surprise" not in created
    assert call(api, "GET", "/not-a-ulid").status_code == 400
    assert call(api, "DELETE", f"/{created['configuration_id']}").status_code == 404  # no delete


def test_the_gateway_window_counts_configuration_calls() -> None:
    config = SimulatorConfig(rate=RatePolicy(limit=2, period_s=60))
    with running_simulator(config) as sim, httpx.Client(base_url=sim.base_url) as api:
        assert [call(api, "GET").status_code for _ in range(3)] == [200, 200, 429]
        assert sim.stats()["by_endpoint"]["rc_configurations"] == {"200": 2, "429": 1}


# --- submits follow the same store --------------------------------------------------------------


def submit(api: httpx.Client, configuration_id: str, key: str = DEMO_KEY.key) -> httpx.Response:
    message = message_body(feature_level_type="ADVANCED", content={"third_party_data": {
        "id": "pratica-1", "configuration_id": configuration_id, "has_remote_content": True}})
    return api.post("/messages", json=message, headers={"Ocp-Apim-Subscription-Key": key})


def test_a_submit_may_name_a_configuration_created_through_the_api(api: httpx.Client) -> None:
    assert submit(api, create(api)["configuration_id"]).status_code == 201


def test_a_submit_naming_an_unknown_or_foreign_configuration_is_refused(
        api: httpx.Client) -> None:
    unknown = submit(api, str(ULID()))
    assert unknown.status_code == 404
    assert unknown.json()["title"] == "Remote Content Configuration NOT FOUND"
    foreign = submit(api, create(api, key=OTHER_KEY.key)["configuration_id"])
    assert foreign.status_code == 403 and foreign.json()["title"] == "Not your configuration"


def test_a_reset_forgets_created_configurations_and_keeps_the_seeded_one() -> None:
    with running_simulator(SimulatorConfig(rate=RatePolicy(limit=0))) as sim, \
            httpx.Client(base_url=sim.base_url) as api:
        made = create(api)["configuration_id"]
        sim.reset()
        assert call(api, "GET", f"/{made}").status_code == 404
        assert call(api, "GET", f"/{DEMO_CONFIGURATION_ID}").status_code == 200


# --- the official spec --------------------------------------------------------------------------


@needs_spec
def test_every_answer_matches_the_official_spec(api: httpx.Client) -> None:
    from test_sim_contract import assert_matches, definition, response_schema

    route, item = "/remote-contents/configurations", "/remote-contents/configurations/{" \
                                                     "configurationId}"
    assert_matches(body(), definition(RC_SPEC, "NewRCConfigurationPublic"))
    created = call(api, "POST", json=body(test_environment={
        "base_url": "https://t.example", "test_users": [ALLOWED_CF],
        "details_authentication": {"header_key_name": "h", "key": "k", "type": "API-KEY"}}))
    assert_matches(created.json(), response_schema(RC_SPEC, route, "post", 201))
    conf_id = created.json()["configuration_id"]
    assert_matches(call(api, "GET").json(), response_schema(RC_SPEC, route, "get", 200))
    assert_matches(call(api, "GET", f"/{conf_id}").json(),
                   response_schema(RC_SPEC, item, "get", 200))
    for bad in (call(api, "POST", json=body(name="")), call(api, "GET", "/nope")):
        assert bad.status_code == 400
        assert_matches(bad.json(), definition(RC_SPEC, "ProblemJson"))
    assert call(api, "PUT", f"/{conf_id}", json=body()).status_code == 204  # spec: no body
