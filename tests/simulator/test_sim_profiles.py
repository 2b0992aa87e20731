"""``POST /profiles`` and the population behind it: deterministic, configurable, changeable."""

from __future__ import annotations

import json
import string
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from simtools import ALLOWED_CF, BLOCKED_CF, MISSING_CF, SANDBOX_CF, UNLISTED_CF, SimFactory

from dispatcher.simulator import (
    DEMO_KEY,
    ConfigError,
    PopulationConfig,
    SimulatorConfig,
    load_population_file,
)
from dispatcher.simulator.population import ALLOWED, BLOCKED, MISSING, Population

pytestmark = pytest.mark.anyio

LETTERS = string.ascii_uppercase
fiscal_codes = st.builds(
    lambda a, b, m, d, c, n, z: f"{a}{b}{m}{d}{c}{n}{z}",
    st.text(LETTERS, min_size=6, max_size=6),
    st.integers(0, 99).map("{:02d}".format),
    st.sampled_from("ABCDEHLMPRST"),
    st.integers(1, 71).map("{:02d}".format),
    st.sampled_from(LETTERS),
    st.integers(0, 999).map("{:03d}".format),
    st.sampled_from(LETTERS),
)


# --- the population -------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(code=fiscal_codes, seed=st.integers(0, 2**32))
def test_the_same_seed_gives_the_same_citizen_in_any_simulator(code: str, seed: int) -> None:
    config = PopulationConfig(seed=seed, share_missing=0.3, share_blocked=0.3)
    assert Population(config).initial_state(code) == Population(config).initial_state(code)


@settings(max_examples=100, deadline=None)
@given(code=fiscal_codes, seed=st.integers(0, 1000))
def test_shares_of_zero_and_one_are_absolute(code: str, seed: int) -> None:
    everyone_has_io = Population(PopulationConfig(seed=seed, share_missing=0, share_blocked=0))
    nobody_has_io = Population(PopulationConfig(seed=seed, share_missing=1, share_blocked=0))
    everyone_blocks = Population(PopulationConfig(seed=seed, share_missing=0, share_blocked=1))
    assert everyone_has_io.initial_state(code) == ALLOWED
    assert nobody_has_io.initial_state(code) == MISSING
    assert everyone_blocks.initial_state(code) == BLOCKED


def test_shares_come_out_close_to_the_configured_ones() -> None:
    population = Population(PopulationConfig(seed=7, share_missing=0.2, share_blocked=0.1))
    codes = [f"RSSMRA{n % 100:02d}A01H{n % 1000:03d}{LETTERS[n % 26]}" for n in range(20_000)]
    states = [population.initial_state(c) for c in set(codes)]
    total = len(states)
    assert abs(states.count(MISSING) / total - 0.2) < 0.02
    assert abs(states.count(BLOCKED) / total - 0.1) < 0.02


def test_different_seeds_give_different_populations() -> None:
    codes = [f"BNCLRA{n:02d}A41F205X" for n in range(100)]
    a = Population(PopulationConfig(seed=1, share_missing=0.5, share_blocked=0))
    b = Population(PopulationConfig(seed=2, share_missing=0.5, share_blocked=0))
    assert [a.initial_state(c) for c in codes] != [b.initial_state(c) for c in codes]


def test_the_sandbox_citizen_always_exists_and_allows_everyone(tmp_path: Path) -> None:
    listed = {SANDBOX_CF: "missing"}
    population = Population(PopulationConfig(share_missing=1.0, share_blocked=0), listed)
    assert population.lookup(SANDBOX_CF, "any-service") == (True, True)


def test_a_population_file_may_be_csv_or_json_in_either_shape(tmp_path: Path) -> None:
    csv_file = tmp_path / "p.csv"
    csv_file.write_text(f"\ufefffiscal_code,state\n{BLOCKED_CF}, Blocked \n", encoding="utf-8")
    as_object = tmp_path / "p.json"
    as_object.write_text(json.dumps({BLOCKED_CF: "blocked"}), encoding="utf-8")
    as_list = tmp_path / "q.json"
    as_list.write_text(json.dumps([{"fiscal_code": BLOCKED_CF, "state": "blocked"}]),
                       encoding="utf-8")
    for path in (csv_file, as_object, as_list):
        assert load_population_file(path) == {BLOCKED_CF: "blocked"}


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("p.csv", "code,state\nX,allowed\n", "needs 'fiscal_code' and 'state'"),
        ("p.csv", f"fiscal_code,state\n{ALLOWED_CF},maybe\n", "entry 1: state 'maybe'"),
        ("p.json", "{", "invalid JSON"),
        ("p.json", "[1]", "expected an object"),
    ],
)
def test_a_bad_population_file_is_a_clear_config_error(
    tmp_path: Path, name: str, text: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_population_file(path)


# --- POST /profiles -------------------------------------------------------------------------


async def test_a_citizen_who_allows_the_service(make_sim: SimFactory) -> None:
    async with make_sim() as sim:
        response = await sim.profile(ALLOWED_CF)
        assert response.status_code == 200
        assert response.json() == {"sender_allowed": True, "preferred_languages": ["it_IT"]}


async def test_a_citizen_who_blocked_the_service_still_has_a_profile(make_sim: SimFactory) -> None:
    async with make_sim() as sim:
        response = await sim.profile(BLOCKED_CF)
        assert response.status_code == 200
        assert response.json()["sender_allowed"] is False


async def test_a_citizen_without_io_is_a_404_problem(make_sim: SimFactory) -> None:
    async with make_sim() as sim:
        response = await sim.profile(MISSING_CF)
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["title"] == "Profile not found"


async def test_unlisted_citizens_get_the_seeded_draw(make_sim: SimFactory,
                                                     base_config: SimulatorConfig) -> None:
    population = replace(base_config.population, share_missing=1.0, share_blocked=0.0)
    nobody = replace(base_config, population=population)
    async with make_sim(nobody) as sim:
        assert (await sim.profile(UNLISTED_CF)).status_code == 404
        assert (await sim.profile(ALLOWED_CF)).status_code == 200  # the file wins


@pytest.mark.parametrize("body", [{}, {"fiscal_code": "rssmra85t10a562s"}, [ALLOWED_CF]])
async def test_a_bad_payload_is_a_400_invalid_fiscal_code_payload(
    make_sim: SimFactory, body: object
) -> None:
    async with make_sim() as sim:
        response = await sim.api.post("/profiles", json=body)
        assert response.status_code == 400
        assert response.json()["title"] == "Invalid FiscalCodePayload"


async def test_a_sandbox_key_sees_only_its_authorized_recipients(
    make_sim: SimFactory, base_config: SimulatorConfig
) -> None:
    sandbox = replace(DEMO_KEY, key="sandbox", sandbox=True,
                      authorized_recipients=frozenset({SANDBOX_CF, BLOCKED_CF}))
    async with make_sim(replace(base_config, keys=(DEMO_KEY, sandbox))) as sim:
        assert (await sim.profile(SANDBOX_CF, key="sandbox")).status_code == 200
        assert (await sim.profile(BLOCKED_CF, key="sandbox")).status_code == 200
        for code in (ALLOWED_CF, MISSING_CF):  # hides whether the citizen exists
            refused = await sim.profile(code, key="sandbox")
            assert refused.status_code == 403
            assert refused.json()["title"] == "Recipient forbidden"


async def test_consent_changes_at_runtime_show_in_the_profile(make_sim: SimFactory) -> None:
    async with make_sim() as sim:
        await sim.control.post(f"/citizens/{ALLOWED_CF}", json={"sender_allowed": False,
                                                                "service_id": "demo-service"})
        assert (await sim.profile(ALLOWED_CF)).json()["sender_allowed"] is False
        await sim.control.post(f"/citizens/{BLOCKED_CF}", json={"sender_allowed": True})
        assert (await sim.profile(BLOCKED_CF)).json()["sender_allowed"] is True
        await sim.control.post(f"/citizens/{MISSING_CF}", json={"has_profile": True})
        assert (await sim.profile(MISSING_CF)).json()["sender_allowed"] is True
        await sim.control.post(f"/citizens/{ALLOWED_CF}", json={"has_profile": False})
        assert (await sim.profile(ALLOWED_CF)).status_code == 404


async def test_a_withdrawn_consent_is_per_service(make_sim: SimFactory,
                                                  base_config: SimulatorConfig) -> None:
    other = replace(DEMO_KEY, key="other", service_id="other-service")
    async with make_sim(replace(base_config, keys=(DEMO_KEY, other))) as sim:
        await sim.control.post(f"/citizens/{ALLOWED_CF}", json={"sender_allowed": False,
                                                                "service_id": "other-service"})
        assert (await sim.profile(ALLOWED_CF)).json()["sender_allowed"] is True
        assert (await sim.profile(ALLOWED_CF, key="other")).json()["sender_allowed"] is False


def test_population_shares_over_one_are_refused() -> None:
    with pytest.raises(ConfigError, match="more than 1"):
        PopulationConfig(share_missing=0.7, share_blocked=0.4)


async def test_changing_the_seed_at_runtime_keeps_explicit_changes(make_sim: SimFactory) -> None:
    async with make_sim() as sim:
        await sim.control.post(f"/citizens/{UNLISTED_CF}", json={"has_profile": False})
        await sim.configure(population={"seed": 99, "share_missing": 0.0})
        assert (await sim.profile(UNLISTED_CF)).status_code == 404
        assert (await sim.profile("PLLLCU75C12F839X")).status_code == 200
