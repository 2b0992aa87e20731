"""``rc-config`` operations and ``check_configuration``: the TOML file, IO's answers as values,
and the check ``run`` makes before its first submit, against the simulator on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from ulid import ULID

from dispatcher.ioapi.rc_config import ConfigurationClient, ConfigurationKind
from dispatcher.operations.errors import OperationRefused
from dispatcher.operations.rc_config import (
    CHECKS,
    CheckVerdict,
    ConfigurationFileError,
    check_configuration,
    create_configuration,
    list_configurations,
    load_configuration_file,
    show_configuration,
    update_configuration,
)
from dispatcher.pacing import Pacer
from dispatcher.settings import RateSpec, Secret, Settings
from dispatcher.simulator import (
    DEMO_CONFIGURATION_ID,
    DEMO_KEY,
    KeyConfig,
    RatePolicy,
    RunningSimulator,
    SimulatorConfig,
    running_simulator,
)
from dispatcher.vocabulary import ExitCode

CONTENT_KEY = "ente-content-key-90c1"
OTHER = KeyConfig(key="comune-manage", ente="comune", service_id="comune-svc", manage=True)
SENDER_ONLY = KeyConfig(key="demo-send-only")

TOML = """\
name = "TARI 2027"
description = "Avvisi TARI con allegati"
has_precondition = "ONCE"

[prod_environment]
base_url = "https://contenuti.comune.example.it/io"
header_key_name = "X-Api-Key"
key_env = "RC_TEST_CONTENT_KEY"

[test_environment]
base_url = "https://test.comune.example.it/io"
header_key_name = "X-Api-Key"
key_file = "content-test.key"
test_users = ["aaaaaa00a00a000a"]
"""


@pytest.fixture(scope="module")
def sim() -> Iterator[RunningSimulator]:
    with running_simulator(SimulatorConfig(keys=(DEMO_KEY, OTHER, SENDER_ONLY),
                                           rate=RatePolicy(limit=0))) as running:
        yield running


def settings(sim: RunningSimulator, manage_key: str | None = DEMO_KEY.key) -> Settings:
    return Settings(base_url=sim.base_url, manage_key=Secret(manage_key or ""),
                    rate=RateSpec.parse("1000/1s"))


@pytest.fixture
def toml(tmp_path: Path) -> Path:
    (tmp_path / "content-test.key").write_text("test-content-key-1\n", encoding="utf-8")
    path = tmp_path / "rc.toml"
    path.write_text(TOML, encoding="utf-8")
    return path


ENV = {"RC_TEST_CONTENT_KEY": CONTENT_KEY}


# --- the TOML file -------------------------------------------------------------------------------


def test_the_file_becomes_the_spec_body_with_keys_from_env_and_file(toml: Path) -> None:
    body = load_configuration_file(toml, ENV).to_json()
    assert body == {
        "name": "TARI 2027", "description": "Avvisi TARI con allegati",
        "has_precondition": "ONCE", "is_lollipop_enabled": False, "disable_lollipop_for": [],
        "prod_environment": {"base_url": "https://contenuti.comune.example.it/io",
                             "details_authentication": {"header_key_name": "X-Api-Key",
                                                        "key": CONTENT_KEY, "type": "API-KEY"}},
        "test_environment": {"base_url": "https://test.comune.example.it/io",
                             "details_authentication": {"header_key_name": "X-Api-Key",
                                                        "key": "test-content-key-1",
                                                        "type": "API-KEY"},
                             "test_users": ["AAAAAA00A00A000A"]},
    }
    assert CONTENT_KEY not in repr(load_configuration_file(toml, ENV))


@pytest.mark.parametrize(("old", "new", "says"), [
    ('has_precondition = "ONCE"', 'has_precondition = "NONE"', "IO's enum calls it NEVER"),
    ('key_env = "RC_TEST_CONTENT_KEY"', 'key = "plain-secret"',
     "prod_environment.key: do not write the content key"),
    ('key_env = "RC_TEST_CONTENT_KEY"', 'key_env = "RC_UNSET_VARIABLE"',
     "the variable RC_UNSET_VARIABLE is not set"),
    ('key_file = "content-test.key"', 'key_file = "missing.key"', "cannot read"),
    ('name = "TARI 2027"', 'nome = "TARI 2027"', "unknown field(s) nome"),
    ('base_url = "https://contenuti', 'base_url = "ftp://contenuti', "is not an https:// URL"),
    ('["aaaaaa00a00a000a"]', '["RSSMRA85T10A562"]', "test_users[1]: RSSMRA******562 is not"),
    ('[test_environment]', '[test_environment]\ntype = "OAUTH"', "IO sends only API-KEY"),
    ('description = "Avvisi TARI con allegati"', '', "description: is required"),
])
def test_a_bad_file_names_the_field_and_never_shows_a_key(
        toml: Path, old: str, new: str, says: str) -> None:
    toml.write_text(TOML.replace(old, new), encoding="utf-8")
    with pytest.raises(ConfigurationFileError) as caught:
        load_configuration_file(toml, ENV)
    assert str(toml) in str(caught.value) and says in str(caught.value)
    assert "plain-secret" not in str(caught.value) and CONTENT_KEY not in str(caught.value)


def test_a_content_key_io_cannot_take_is_refused_without_showing_it(toml: Path) -> None:
    with pytest.raises(ConfigurationFileError) as caught:
        load_configuration_file(toml, {"RC_TEST_CONTENT_KEY": "abc def-secret"})
    assert "a space at position 4" in str(caught.value)
    assert "def-secret" not in str(caught.value)


# --- create, list, show, update ------------------------------------------------------------------


def test_create_list_show_update_round_trip(sim: RunningSimulator, toml: Path) -> None:
    new = load_configuration_file(toml, ENV)
    created = create_configuration(settings(sim), new)
    assert created.exit_code == ExitCode.OK and created.answer.http_status == 201
    conf_id = created.configuration_id
    assert conf_id is not None and ULID.from_str(conf_id)
    listed = list_configurations(settings(sim))
    assert conf_id in {c.configuration_id for c in listed.answer.configurations}
    shown = show_configuration(settings(sim), conf_id).answer.configuration
    assert shown is not None and shown.user_id == "demo" and shown.has_precondition == "ONCE"
    assert shown.prod_environment is not None
    assert shown.prod_environment.authentication.key is None  # IO's echo is not kept
    assert CONTENT_KEY not in repr(shown) + str(shown.view())
    changed = update_configuration(settings(sim), conf_id,
                                   replace(new, has_precondition="ALWAYS"))
    assert changed.exit_code == ExitCode.OK and changed.answer.http_status == 204
    again = show_configuration(settings(sim), conf_id).answer.configuration
    assert again is not None and again.has_precondition == "ALWAYS"


def test_another_entes_or_an_unknown_configuration_maps_to_its_exit_code(
        sim: RunningSimulator, toml: Path) -> None:
    new = load_configuration_file(toml, ENV)
    theirs = create_configuration(settings(sim, OTHER.key), new).configuration_id
    assert theirs is not None
    refused = show_configuration(settings(sim), theirs)
    assert refused.answer.kind is ConfigurationKind.FORBIDDEN
    assert refused.forbidden_reason == "the configuration belongs to another ente"
    assert refused.exit_code == ExitCode.CONFIG_ERROR
    unknown = update_configuration(settings(sim), str(ULID()), new)
    assert unknown.answer.kind is ConfigurationKind.NOT_FOUND
    assert unknown.exit_code == ExitCode.INVALID_INPUT
    not_manage = show_configuration(settings(sim, SENDER_ONLY.key), theirs)
    assert not_manage.forbidden_reason is not None and "not a MANAGE key" in \
        not_manage.forbidden_reason


def test_without_a_manage_key_nothing_is_asked(sim: RunningSimulator) -> None:
    before = sim.stats()["requests_total"]
    with pytest.raises(OperationRefused) as caught:
        list_configurations(settings(sim, None))
    assert caught.value.exit_code == ExitCode.CONFIG_ERROR and "IO_MANAGE_KEY" in str(
        caught.value.message)
    assert sim.stats()["requests_total"] == before


# --- check_configuration -------------------------------------------------------------------------


def test_the_check_says_what_it_could_not_check_without_a_manage_key(
        sim: RunningSimulator) -> None:
    check = check_configuration(settings(sim, None), DEMO_CONFIGURATION_ID)
    assert check.verdict is CheckVerdict.NOT_CHECKED and not check.blocks_run
    assert check.not_checked == CHECKS and check.checked == ()
    assert "IO_MANAGE_KEY" in check.message


def test_the_check_passes_a_configuration_with_a_production_base_url(
        sim: RunningSimulator, toml: Path) -> None:
    conf_id = create_configuration(settings(sim), load_configuration_file(toml, ENV)
                                   ).configuration_id
    assert conf_id is not None
    check = check_configuration(settings(sim), conf_id)
    assert check.verdict is CheckVerdict.OK and check.checked == CHECKS
    assert "https://contenuti.comune.example.it/io" in check.message


def test_the_check_blocks_a_configuration_without_production_environment(
        sim: RunningSimulator) -> None:
    check = check_configuration(settings(sim), DEMO_CONFIGURATION_ID)  # seeded: no environment
    assert check.verdict is CheckVerdict.NO_PROD_ENVIRONMENT and check.blocks_run
    assert check.checked == ("exists", "owned")


@pytest.mark.parametrize(("who", "what", "verdict", "blocks"), [
    ("demo", "unknown", CheckVerdict.NOT_FOUND, True),
    ("demo", "foreign", CheckVerdict.NOT_OWNED, True),
    ("send-only", "foreign", CheckVerdict.KEY_REFUSED, False),
    ("wrong", "foreign", CheckVerdict.KEY_REFUSED, False),
    ("demo", "not-a-ulid", CheckVerdict.INVALID_ID, True),
])
def test_the_check_verdicts(sim: RunningSimulator, toml: Path, who: str, what: str,
                            verdict: CheckVerdict, blocks: bool) -> None:
    key = {"demo": DEMO_KEY.key, "send-only": SENDER_ONLY.key, "wrong": "no-such-key"}[who]
    foreign = create_configuration(settings(sim, OTHER.key), load_configuration_file(toml, ENV))
    conf_id = {"unknown": str(ULID()), "foreign": foreign.configuration_id,
               "not-a-ulid": "PRATICA-1"}[what]
    assert conf_id is not None
    check = check_configuration(settings(sim, key), conf_id)
    assert check.verdict is verdict and check.blocks_run is blocks
    if verdict is CheckVerdict.KEY_REFUSED:
        assert check.not_checked == CHECKS
    assert key not in check.message


def test_the_check_spends_the_callers_pacer_inside_a_running_loop(sim: RunningSimulator) -> None:
    from dispatcher.operations.rc_config import check_configuration_with

    async def main() -> CheckVerdict:
        pacer = Pacer(RateSpec.parse("100/1s"))
        async with ConfigurationClient.from_settings(settings(sim), pacer) as client:
            check = await check_configuration_with(client, DEMO_CONFIGURATION_ID)
        assert pacer.statistics().requests == 1
        return check.verdict

    assert anyio.run(main) is CheckVerdict.NO_PROD_ENVIRONMENT


# --- how answers are mapped (no server needed) ---------------------------------------------------


def run_with(handler: Any, call: str, *args: Any) -> tuple[Any, int]:
    seen = [0]

    def counting(request: httpx.Request) -> httpx.Response:
        seen[0] += 1
        result: httpx.Response = handler(request, seen[0])
        return result

    async def main() -> Any:
        pacer = Pacer(RateSpec.parse("1000/1s"))
        async with ConfigurationClient(base_url="http://io.test/api/v1", manage_key="mk-1234",
                                       pacer=pacer, transport=httpx.MockTransport(counting)
                                       ) as client:
            return await getattr(client, call)(*args)

    return anyio.run(main), seen[0]


def test_a_429_is_waited_out_and_retried() -> None:
    def handler(request: httpx.Request, n: int) -> httpx.Response:
        if n == 1:
            return httpx.Response(429, headers={"x-rate-limit-retry-after": "0"},
                                  json={"statusCode": 429, "message": "Rate limit is exceeded."})
        return httpx.Response(200, json={"rcConfigList": []})

    answer, requests = run_with(handler, "list")
    assert answer.kind is ConfigurationKind.OK and requests == 2 and answer.attempts == 2


def test_a_create_whose_answer_was_lost_is_ambiguous_and_not_resent(toml: Path) -> None:
    def handler(request: httpx.Request, n: int) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    answer, requests = run_with(handler, "create", load_configuration_file(toml, ENV))
    assert answer.kind is ConfigurationKind.AMBIGUOUS and requests == 1


def test_a_read_is_retried_after_a_gateway_error() -> None:
    def handler(request: httpx.Request, n: int) -> httpx.Response:
        if n == 1:
            return httpx.Response(502, json={"statusCode": 502, "message": "Bad Gateway"})
        return httpx.Response(200, json={"configuration_id": DEMO_CONFIGURATION_ID,
                                         "name": "n", "description": "d"})

    answer, requests = run_with(handler, "get", DEMO_CONFIGURATION_ID)
    assert answer.kind is ConfigurationKind.OK and requests == 2


def test_apims_own_404_is_not_a_missing_configuration_and_keys_are_scrubbed(toml: Path) -> None:
    def handler(request: httpx.Request, n: int) -> httpx.Response:
        return httpx.Response(404, json={"statusCode": 404,
                                         "message": f"no route for mk-1234 {CONTENT_KEY}"})

    answer, _ = run_with(handler, "update", DEMO_CONFIGURATION_ID,
                         load_configuration_file(toml, ENV))
    assert answer.kind is ConfigurationKind.REJECTED
    assert "mk-1234" not in answer.detail and CONTENT_KEY not in answer.detail
