"""Fault injection: each fault strikes at its place and leaves the inbox as reality would."""

from __future__ import annotations

from dataclasses import replace

import httpx
import pytest
from simtools import ALLOWED_CF, Sim, SimFactory, message_body

from dispatcher.simulator import (
    ConfigError,
    FaultConfig,
    SimulatedDisconnect,
    SimulatedReset,
    SimulatorConfig,
    running_simulator,
)
from dispatcher.simulator.faults import FaultInjector, FaultKind

pytestmark = pytest.mark.anyio


def _with_faults(config: SimulatorConfig, **shares: float) -> SimulatorConfig:
    return replace(config, faults=FaultConfig(**shares))  # type: ignore[arg-type]


async def _stored(sim: Sim) -> int:
    return len(await sim.inbox(ALLOWED_CF))


async def test_a_500_comes_before_storing(make_sim: SimFactory,
                                          base_config: SimulatorConfig) -> None:
    async with make_sim(_with_faults(base_config, error_500_share=1.0)) as sim:
        response = await sim.send(message_body())
        assert response.status_code == 500
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["title"] == "Internal server error"
        assert await _stored(sim) == 0
        invalid = await sim.send({"content": {}})
        assert invalid.status_code == 400  # a storage error cannot hide a validation error
        stats = (await sim.control.get("/stats")).json()
        assert stats["faults"] == {"error_500": 1}


async def test_a_gateway_error_before_the_backend_stores_nothing(
    make_sim: SimFactory, base_config: SimulatorConfig
) -> None:
    async with make_sim(_with_faults(base_config, gateway_error_share=1.0)) as sim:
        statuses = {(await sim.send(message_body())).status_code for _ in range(20)}
        assert statuses == {502, 504}
        response = await sim.send(message_body())
        assert response.json()["statusCode"] == response.status_code
        assert await _stored(sim) == 0


async def test_a_gateway_timeout_after_storing_leaves_the_message_behind(
    make_sim: SimFactory, base_config: SimulatorConfig
) -> None:
    async with make_sim(_with_faults(base_config, gateway_error_after_store_share=1.0)) as sim:
        response = await sim.send(message_body())
        assert response.status_code == 504
        assert response.json() == {"statusCode": 504, "message": "Gateway Timeout"}
        assert await _stored(sim) == 1


async def test_in_process_a_dropped_response_raises_the_clients_own_error(
    make_sim: SimFactory, base_config: SimulatorConfig
) -> None:
    async with make_sim(_with_faults(base_config, drop_after_store_share=1.0)) as sim:
        with pytest.raises(httpx.RemoteProtocolError) as caught:
            await sim.send(message_body())
        assert isinstance(caught.value, SimulatedDisconnect)
        assert await _stored(sim) == 1


async def test_in_process_a_reset_raises_a_read_error_and_stores_nothing(
    make_sim: SimFactory, base_config: SimulatorConfig
) -> None:
    async with make_sim(_with_faults(base_config, reset_before_share=1.0)) as sim:
        with pytest.raises(httpx.ReadError) as caught:
            await sim.send(message_body())
        assert isinstance(caught.value, SimulatedReset)
        assert await _stored(sim) == 0
        stats = (await sim.control.get("/stats")).json()
        assert stats["by_endpoint"]["messages"] == {"no_response": 1}


async def test_faults_touch_only_the_configured_endpoints(make_sim: SimFactory,
                                                          base_config: SimulatorConfig) -> None:
    async with make_sim(_with_faults(base_config, error_500_share=1.0)) as sim:
        assert (await sim.profile(ALLOWED_CF)).status_code == 200
        await sim.configure(faults={"endpoints": ["profiles", "message_status"]})
        assert (await sim.profile(ALLOWED_CF)).status_code == 500
        assert (await sim.send(message_body())).status_code == 201


def test_the_same_seed_plans_the_same_faults() -> None:
    config = FaultConfig(seed=42, jitter_ms=20.0, error_500_share=0.2, gateway_error_share=0.2,
                         drop_after_store_share=0.2)
    first, second = FaultInjector(config), FaultInjector(config)
    plans = [first.plan("messages") for _ in range(200)]
    assert plans == [second.plan("messages") for _ in range(200)]
    kinds = [p.kind for p in plans]
    assert {FaultKind.ERROR_500, FaultKind.GATEWAY_ERROR, FaultKind.DROP_AFTER_STORE, None} == set(
        kinds)
    assert 0.3 < kinds.count(None) / len(kinds) < 0.5
    other = FaultInjector(replace(config, seed=43))
    assert [other.plan("messages") for _ in range(200)] != plans


def test_latency_is_fixed_plus_jitter_of_the_chosen_distribution() -> None:
    uniform = FaultInjector(FaultConfig(latency_ms=50, jitter_ms=10, jitter="uniform"))
    delays = [uniform.plan("messages").delay_s for _ in range(500)]
    assert all(0.050 <= d <= 0.060 for d in delays)
    exponential = FaultInjector(FaultConfig(jitter_ms=10))
    mean = sum(exponential.plan("messages").delay_s for _ in range(4000)) / 4000
    assert 0.008 < mean < 0.012
    assert FaultInjector(FaultConfig(latency_ms=50)).plan("profiles").delay_s == 0


@pytest.mark.parametrize(
    "changes",
    [
        {"error_500_share": 0.6, "drop_after_store_share": 0.6},
        {"error_500_share": -0.1},
        {"jitter": "gaussian"},
        {"endpoints": frozenset({"everything"})},
    ],
)
def test_impossible_fault_settings_are_refused(changes: dict[str, object]) -> None:
    with pytest.raises(ConfigError):
        FaultConfig(**changes)  # type: ignore[arg-type]


# --- over real connections ----------------------------------------------------------------------


def test_over_a_socket_a_drop_after_store_is_silence_not_a_500(base_config: SimulatorConfig
                                                                ) -> None:
    """The ambiguous case for real: the client sees no status, the citizen got the message."""
    config = _with_faults(base_config, drop_after_store_share=1.0)
    with running_simulator(config) as sim, httpx.Client(
        base_url=sim.base_url, headers={"Ocp-Apim-Subscription-Key": "demo-key"}
    ) as client:
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            client.post("/messages", json=message_body())
        [stored] = sim.messages_for(ALLOWED_CF)
        assert stored["subject"] == "Promemoria scadenza TARI"
        sim.configure(faults={"drop_after_store_share": 0.0, "reset_before_share": 1.0})
        with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
            client.post("/messages", json=message_body())
        assert len(sim.messages_for(ALLOWED_CF)) == 1
        sim.configure(faults={"reset_before_share": 0.0})
        assert client.post("/messages", json=message_body()).status_code == 201
        stats = sim.stats()
        assert stats["faults"] == {"drop_after_store": 1, "reset_before": 1}
        assert stats["by_endpoint"]["messages"] == {"no_response": 2, "201": 1}
