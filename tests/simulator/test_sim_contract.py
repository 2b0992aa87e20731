"""Every response shape the simulator produces, checked against IO's official spec files.

The spec files are Swagger 2.0, read from ``IO_SPEC_DIR`` (default ``../shared/io-api``; the
whole module is skipped without them, see ``tests/io_spec.py``). A small converter turns a
definition into a self-contained JSON Schema (draft 4, which Swagger 2 builds on): ``$ref`` is
resolved, including references into another file such as the commons definitions;
``x-extensible-enum`` becomes a strict ``enum``; ``allOf`` marked ``x-one-of`` becomes
``anyOf``; ``x-nullable`` adds ``null``. IO's custom string formats (FiscalCode, Ulid, ...)
get format checkers. On top of the schema, :func:`assert_matches` also refuses properties the
spec does not define, so the simulator cannot drift into inventing fields.

Where IO's runtime differs from its own spec (FACTS.md §8), the test says so in a comment and
checks the documented real behaviour; each such test also asserts the spec still says what we
claim, so a corrected spec makes it fail and get revisited.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft4Validator, FormatChecker
from openapi_spec_validator import validate as validate_spec
from openapi_spec_validator.readers import read_from_filename
from simtools import (
    ALLOWED_CF,
    MISSING_CF,
    NOTICE_NUMBER,
    SPEC_DIR,
    Sim,
    SimFactory,
    message_body,
)

from dispatcher.simulator import DEMO_CONFIGURATION_ID, FaultConfig, SimulatorConfig
from dispatcher.simulator.validation import decode_new_message

pytestmark = [pytest.mark.anyio, pytest.mark.io_spec]

SERVICES = SPEC_DIR / "io-functions-services.openapi.index.yaml"
MESSAGES = SPEC_DIR / "io-messages.services-func.openapi.index.yaml"  # newest: wins for messages
COMMONS = SPEC_DIR / "io-functions-commons.openapi.definitions_v2.yaml"

_FORMATS = FormatChecker()
for _name, _pattern in {
    "FiscalCode": r"[A-Z]{6}[0-9LMNPQRSTUV]{2}[ABCDEHLMPRST][0-9LMNPQRSTUV]{2}[A-Z]"
                  r"[0-9LMNPQRSTUV]{3}[A-Z]",
    "OrganizationFiscalCode": r"[0-9]{11}",
    "Ulid": r"[0-9a-hjkmnp-tv-zA-HJKMNP-TV-Z]{26}",
    "UTCISODateFromString": r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?",
}.items():
    _FORMATS.checks(_name)(functools.partial(
        lambda regex, value: not isinstance(value, str) or bool(regex.fullmatch(value)),
        re.compile(_pattern)))

_DROPPED_KEYWORDS = {"description", "example", "x-example", "examples", "x-import", "default",
                     "x-one-of", "x-nullable", "x-extensible-enum"}


# --- the converter ------------------------------------------------------------------------------


@functools.cache
def _document(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _pointer(document: Any, fragment: str) -> Any:
    node = document
    for part in filter(None, fragment.split("/")):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def to_json_schema(node: Any, base: Path, depth: int = 0) -> Any:
    """A Swagger 2 schema node as a self-contained draft-4 JSON Schema."""
    if depth > 60:
        raise RecursionError("reference cycle in the spec")
    if isinstance(node, list):
        return [to_json_schema(item, base, depth + 1) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        file_part, _, fragment = node["$ref"].partition("#")
        target = (base.parent / file_part).resolve() if file_part else base
        return to_json_schema(_pointer(_document(target), fragment), target, depth + 1)
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROPPED_KEYWORDS:
            continue
        if key == "properties":
            out[key] = {name: to_json_schema(sub, base, depth + 1) for name, sub in value.items()}
        elif key == "allOf" and node.get("x-one-of"):
            out["anyOf"] = to_json_schema(value, base, depth + 1)
        else:
            out[key] = to_json_schema(value, base, depth + 1)
    if "x-extensible-enum" in node:
        out["enum"] = list(node["x-extensible-enum"])
    if node.get("x-nullable"):
        return {"anyOf": [out, {"type": "null"}]}
    return out


def definition(path: Path, name: str) -> dict[str, Any]:
    document = _document(path)
    fragment = f"/definitions/{name}" if "definitions" in document else f"/{name}"
    schema: dict[str, Any] = to_json_schema({"$ref": f"#{fragment}"}, path)
    return schema


def operation(path: Path, route: str, method: str) -> dict[str, Any]:
    op: dict[str, Any] = _document(path)["paths"][route][method]
    return op


def response_schema(path: Path, route: str, method: str, status: int) -> dict[str, Any]:
    schema: dict[str, Any] = to_json_schema(
        operation(path, route, method)["responses"][str(status)]["schema"], path)
    return schema


def _property_schemas(schema: dict[str, Any], name: str) -> Iterator[dict[str, Any]]:
    if name in schema.get("properties", {}):
        yield schema["properties"][name]
    for member in schema.get("allOf", []) + schema.get("anyOf", []):
        yield from _property_schemas(member, name)


def _declares_properties(schema: dict[str, Any]) -> bool:
    return "properties" in schema or any(
        _declares_properties(m) for m in schema.get("allOf", []) + schema.get("anyOf", []))


def _no_undeclared_fields(instance: Any, schema: dict[str, Any], where: str = "") -> None:
    if isinstance(instance, dict) and _declares_properties(schema):
        for key, value in instance.items():
            subs = list(_property_schemas(schema, key))
            assert subs, f"{where}.{key} is not in the spec"
            for sub in subs:
                _no_undeclared_fields(value, sub, f"{where}.{key}")
    elif isinstance(instance, list) and "items" in schema:
        for item in instance:
            _no_undeclared_fields(item, schema["items"], f"{where}[]")


def assert_matches(instance: Any, schema: dict[str, Any]) -> None:
    errors = [f"{list(e.absolute_path)}: {e.message}"
              for e in Draft4Validator(schema, format_checker=_FORMATS).iter_errors(instance)]
    assert not errors, errors
    _no_undeclared_fields(instance, schema)


def assert_problem(response: httpx.Response, status: int) -> None:
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert_matches(response.json(), definition(MESSAGES, "ProblemJson"))
    assert_matches(response.json(), definition(COMMONS, "ProblemJson"))
    assert response.json()["status"] == status


# --- the spec files and the converter themselves -------------------------------------------------


@pytest.mark.parametrize("path", [SERVICES, MESSAGES])
def test_the_spec_files_are_valid_swagger(path: Path) -> None:
    document, uri = read_from_filename(str(path))
    validate_spec(document, base_uri=uri)


def test_references_across_files_are_resolved(tmp_path: Path) -> None:
    wrapper = tmp_path / "wrapper.yaml"
    wrapper.write_text(yaml.safe_dump({"definitions": {"Profile": {
        "$ref": f"{COMMONS.resolve()}#/LimitedProfile"}}}), encoding="utf-8")
    schema = definition(wrapper, "Profile")
    assert schema["required"] == ["sender_allowed"]
    assert schema["properties"]["preferred_languages"]["items"]["enum"][0] == "it_IT"


def test_the_messages_spec_examples_are_not_our_problem_but_our_samples_are_valid() -> None:
    """Our request samples satisfy both the newest messages spec and the commons codec spec."""
    rich = message_body(feature_level_type="ADVANCED", time_to_live=7200, content={
        "payment_data": {"amount": 1, "notice_number": NOTICE_NUMBER,
                         "payee": {"fiscal_code": "12345678901"}},
        "due_date": "2030-01-01T00:00:00.000Z",
        "third_party_data": {"id": "x", "configuration_id": DEMO_CONFIGURATION_ID},
    })
    for body in (message_body(), rich):
        assert_matches(body, definition(MESSAGES, "NewMessage"))
        assert_matches(body, definition(COMMONS, "NewMessage"))


@settings(max_examples=150, deadline=None)
@given(
    subject=st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=130),
    ttl=st.integers(3500, 604900),
    amount=st.integers(-5, 10_000_000_005) | st.sampled_from([0, 1, 9_999_999_999,
                                                                10_000_000_000]),
    notice=st.from_regex(r"[0-9]{16,19}", fullmatch=True),
)
def test_the_decoder_agrees_with_the_spec_on_ascii_bodies(subject: str, ttl: int, amount: int,
                                                          notice: str) -> None:
    """For ASCII, UTF-16 units equal code points, so io-ts and JSON Schema must agree.

    (Beyond the BMP they must not: JSON Schema counts code points, IO counts UTF-16 units;
    ``test_sim_validation`` covers that on the IO side.)
    """
    body = message_body(time_to_live=ttl, content={
        "subject": subject, "payment_data": {"amount": amount, "notice_number": notice}})
    spec_ok = Draft4Validator(definition(MESSAGES, "NewMessage"),
                              format_checker=_FORMATS).is_valid(body)
    assert (decode_new_message(body)[0] is not None) == spec_ok


# --- responses ----------------------------------------------------------------------------------


async def test_profile_answers_match_the_services_spec(make_sim: SimFactory) -> None:
    async with make_sim() as sim:
        ok = await sim.profile(ALLOWED_CF)
        assert ok.status_code == 200
        assert_matches(ok.json(), response_schema(SERVICES, "/profiles", "post", 200))
        missing = await sim.profile(MISSING_CF)
        assert_matches(missing.json(), response_schema(SERVICES, "/profiles", "post", 404))
        assert_problem(missing, 404)
        # FACTS §8: IO answers 400 for an undecodable body although the spec lists no 400.
        assert "400" not in operation(SERVICES, "/profiles", "post")["responses"]
        assert_problem(await sim.api.post("/profiles", json={"fiscal_code": "x"}), 400)


async def test_the_spec_lists_403_401_429_without_a_schema_and_io_sends_these(
    make_sim: SimFactory, base_config: SimulatorConfig,
) -> None:
    for route, method in (("/profiles", "post"), ("/messages", "post"),
                          ("/subscriptions-feed/{date}", "get")):
        responses = operation(SERVICES, route, method)["responses"]
        assert {"401", "403", "429"} <= set(responses)
        assert not any("schema" in responses[c] for c in ("401", "403", "429"))
    async with make_sim() as sim:
        # 403 comes from the backend: ProblemJson (io-ts-commons ResponseErrorGeneric).
        await sim.configure(keys=[{"key": "demo-key", "premium_write": False}])
        assert_problem(await sim.send(message_body(feature_level_type="ADVANCED")), 403)
        # 401 and 429 come from APIM: its own {statusCode, message} body, not ProblemJson.
        unauthorized = await sim.profile(ALLOWED_CF, key="nope")
        assert set(unauthorized.json()) == {"statusCode", "message"}
        assert unauthorized.headers["content-type"] == "application/json"
        await sim.configure(rate="1/5s")
        await sim.profile(ALLOWED_CF)
        throttled = await sim.profile(ALLOWED_CF)
        assert throttled.status_code == 429
        assert set(throttled.json()) == {"statusCode", "message"}


async def test_submit_answers_match_the_newest_messages_spec(make_sim: SimFactory) -> None:
    async with make_sim() as sim:
        created = await sim.send(message_body())
        assert created.status_code == 201
        assert_matches(created.json(), response_schema(MESSAGES, "/", "post", 201))
        assert "Location" in operation(MESSAGES, "/", "post")["responses"]["201"]["headers"]
        assert created.headers["location"].startswith("/api/v1/messages/")
        by_path = await sim.api.post(f"/messages/{ALLOWED_CF}", json=message_body(None))
        assert_matches(by_path.json(), response_schema(MESSAGES, "/{fiscal_code}", "post", 201))
        invalid = await sim.send({"content": {}})
        assert_matches(invalid.json(), response_schema(MESSAGES, "/", "post", 400))
        assert_problem(invalid, 400)
        # FACTS §8: an unknown remote-content configuration is a 404 the spec does not list.
        assert "404" not in operation(MESSAGES, "/", "post")["responses"]
        unknown_configuration = await sim.send(message_body(content={"third_party_data": {
            "id": "x", "configuration_id": "01HZZZZZZZZZZZZZZZZZZZZZZZ"}}))
        assert_problem(unknown_configuration, 404)
        await sim.configure(faults={"error_500_share": 1.0})
        failed = await sim.send(message_body())
        assert_matches(failed.json(), response_schema(MESSAGES, "/", "post", 500))
        assert_problem(failed, 500)


async def _status_body(sim: Sim, body: dict[str, Any]) -> dict[str, Any]:
    created = await sim.send(body)
    assert created.status_code == 201, created.text
    response = await sim.status(created.headers["location"])
    assert response.status_code == 200
    result: dict[str, Any] = response.json()
    return result


async def test_get_message_answers_match_the_newest_messages_spec(
    make_sim: SimFactory, base_config: SimulatorConfig,
) -> None:
    schema = response_schema(MESSAGES, "/{fiscal_code}/{id}", "get", 200)
    rich = message_body(feature_level_type="ADVANCED", content={
        "payment_data": {"amount": 1250, "notice_number": NOTICE_NUMBER,
                         "invalid_after_due_date": True},
        "due_date": "2030-01-31T23:30:00+01:00",
        "require_secure_channels": True,
        "third_party_data": {"id": "pratica-42", "configuration_id": DEMO_CONFIGURATION_ID,
                             "has_attachments": True, "has_precondition": "ONCE",
                             "summary": "Sintesi", "original_sender": "Ufficio Tributi",
                             "original_receipt_date": "2024-01-01T10:00:00Z"},
    })
    async with make_sim() as sim:
        processed = await _status_body(sim, rich)
        assert processed["status"] == "PROCESSED" and "payment_status" in processed
        assert_matches(processed, schema)
        # The spec still describes `notification`; IO stopped filling it (FACTS §2.6).
        assert "notification" in schema["properties"] and "notification" not in processed
        rejected = await _status_body(sim, message_body(MISSING_CF))
        assert rejected["status"] == "REJECTED" and "content" not in rejected["message"]
        assert_matches(rejected, schema)
        not_found = await sim.api.get(f"/messages/{ALLOWED_CF}/01ARZ3NDEKTSV4RRFFQ69G5FAV")
        assert_matches(not_found.json(), response_schema(MESSAGES, "/{fiscal_code}/{id}", "get",
                                                         404))
        assert_problem(not_found, 404)
        # FACTS §2.6: a malformed fiscal code is a 400 the newest spec does not list.
        assert "400" not in operation(MESSAGES, "/{fiscal_code}/{id}", "get")["responses"]
        assert_problem(await sim.api.get("/messages/bad/01ARZ3NDEKTSV4RRFFQ69G5FAV"), 400)
    slow = SimulatorConfig(population=base_config.population, processing_delay_s=60,
                           faults=FaultConfig())
    async with make_sim(slow) as sim:
        accepted = await _status_body(sim, message_body())
        assert accepted["status"] == "ACCEPTED"
        assert_matches(accepted, schema)


async def test_feed_answers_match_the_services_spec_except_the_hash_length(
    make_sim: SimFactory,
) -> None:
    schema = response_schema(SERVICES, "/subscriptions-feed/{date}", "get", 200)
    hash_schema = definition(SERVICES, "FiscalCodeHash")
    # FACTS §8: the spec's FiscalCodeHash says 16 characters but its pattern (and IO) use the
    # 64 hex digits of SHA-256. Check the real length instead of the spec's.
    assert (hash_schema["minLength"], hash_schema["maxLength"]) == (16, 16)
    real_hash = {**hash_schema, "minLength": 64, "maxLength": 64}
    real_schema = {**schema, "properties": {
        **schema["properties"],
        "subscriptions": {"type": "array", "items": real_hash},
        "unsubscriptions": {"type": "array", "items": real_hash},
    }}
    async with make_sim() as sim:
        await sim.control.post(f"/citizens/{ALLOWED_CF}",
                               json={"sender_allowed": False, "date": "2024-03-01"})
        response = await sim.api.get("/subscriptions-feed/2024-03-01")
        feed = response.json()
        assert len(feed["unsubscriptions"]) == 1
        assert_matches(feed, real_schema)
        assert not Draft4Validator(schema).is_valid(feed)  # the spec as written rejects IO
        today = sim.state.today().isoformat()
        not_yet = await sim.api.get(f"/subscriptions-feed/{today}")
        assert_matches(not_yet.json(), response_schema(SERVICES, "/subscriptions-feed/{date}",
                                                       "get", 404))
        assert_problem(not_yet, 404)
