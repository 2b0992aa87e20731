"""Serving over real sockets: the threaded and the in-loop embeddings, and the window under load."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import anyio
import httpx
import pytest
from simtools import ALLOWED_CF, message_body

from dispatcher.simulator import (
    ConfigError,
    SimulatorConfig,
    create_app,
    load_keys_file,
    running_simulator,
    serve_simulator,
)
from dispatcher.simulator.configio import apply_changes

HEADERS = {"Ocp-Apim-Subscription-Key": "demo-key"}


def test_the_threaded_simulator_serves_the_whole_happy_path(base_config: SimulatorConfig) -> None:
    with running_simulator(base_config) as sim, httpx.Client(headers=HEADERS) as client:
        assert sim.base_url == f"http://127.0.0.1:{sim.port}/api/v1"
        assert sim.control_url == f"http://127.0.0.1:{sim.port}/__sim__"
        profile = client.post(f"{sim.base_url}/profiles", json={"fiscal_code": ALLOWED_CF})
        assert profile.json()["sender_allowed"] is True
        created = client.post(f"{sim.base_url}/messages", json=message_body())
        assert created.status_code == 201
        status = client.get(sim.url + created.headers["location"])
        assert status.json()["status"] == "PROCESSED"
        assert [m["id"] for m in sim.inbox()[ALLOWED_CF]] == [created.json()["id"]]
        assert sim.stats()["messages_stored"] == 1
        sim.citizen(ALLOWED_CF, sender_allowed=False)
        assert sim.citizen(ALLOWED_CF)["sender_allowed"] == {"demo-service": False}
        assert sim.advance_clock(2.5) == 2.5
        sim.record_feed([{"fiscal_code": ALLOWED_CF, "subscribed": True}], date="2024-01-01")
        sim.mark_message(created.json()["id"], read_status="READ")
        assert sim.configure(rate="10/1s")["rate"]["limit"] == 10
        assert sim.config()["rate"]["period_s"] == 1.0
        sim.reset()
        assert sim.inbox() == {}


def test_each_simulator_gets_its_own_free_port() -> None:
    with running_simulator() as first, running_simulator() as second:
        assert first.port != second.port
        assert first.port > 0


def test_the_simulator_refuses_to_listen_beyond_loopback() -> None:
    with pytest.raises(ValueError, match="non-loopback"), running_simulator(host="8.8.8.8"):
        pass


def test_a_keys_file_sets_keys_and_policies(tmp_path: Path) -> None:
    toml = tmp_path / "keys.toml"
    toml.write_text(
        'rate = "20/5s"\n'
        '[ente_rates]\ncomune = { limit = 250, period_s = 5 }\n'
        '[[keys]]\nkey = "k1"\nente = "comune"\nservice_id = "s1"\nsandbox = true\n'
        'authorized_recipients = ["AAAAAA00A00A000A", "RSSMRA85T10A562S"]\n'
        '[[keys]]\nkey = "k2"\nente = "comune"\nservice_id = "s2"\npremium_write = true\n',
        encoding="utf-8",
    )
    config = apply_changes(SimulatorConfig(), load_keys_file(toml))
    assert [k.key for k in config.keys] == ["k1", "k2"]
    assert config.keys[0].authorized_recipients == frozenset({"AAAAAA00A00A000A", ALLOWED_CF})
    assert config.rate_for("comune").limit == 250 and config.rate.limit == 20
    as_json = tmp_path / "keys.json"
    as_json.write_text('{"keys": [{"key": "j", "feed_read": true}]}', encoding="utf-8")
    assert apply_changes(SimulatorConfig(), load_keys_file(as_json)).keys[0].feed_read


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[keys]]\nkey = "a"\nmax_allowed_payment_amount = -1\n', "out of range"),
        ('[[keys]]\nkey = "a"\n[[keys]]\nkey = "a"\n', "unique"),
        ('[[keys]]\nkey = "a"\nremote_configurations = ["nope"]\n', "ULIDs"),
        ('rate = "1/5s"\n', "no .*keys.* entries"),
        ('[[keys]]\nkey = "a"\n[faults]\nerror_500_share = 1\n', "unknown setting"),
        ("keys = [", r"keys\.toml: "),
    ],
)
def test_a_bad_keys_file_is_a_clear_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "keys.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        apply_changes(SimulatorConfig(), load_keys_file(path))


def test_a_broken_population_file_stops_the_app_from_being_built(tmp_path: Path) -> None:
    config = replace(SimulatorConfig(), population=replace(
        SimulatorConfig().population, file=str(tmp_path / "absent.csv")))
    with pytest.raises(ConfigError, match="cannot read population file"):
        create_app(config)


@pytest.mark.anyio
async def test_the_simulator_can_share_the_callers_event_loop(
    base_config: SimulatorConfig,
) -> None:
    async with serve_simulator(base_config) as sim, httpx.AsyncClient(headers=HEADERS) as client:
        created = await client.post(f"{sim.base_url}/messages", json=message_body())
        assert created.status_code == 201
        assert len(await sim.messages_for(ALLOWED_CF)) == 1
        assert (await sim.stats())["messages_stored"] == 1
        await sim.configure(faults={"error_500_share": 1.0})
        assert (await client.post(f"{sim.base_url}/messages", json=message_body())
                ).status_code == 500
        assert (await sim.citizen(ALLOWED_CF))["has_profile"] is True
        await sim.reset()
        assert await sim.inbox() == {}


@pytest.mark.anyio
async def test_200_profile_checks_at_150_per_5s_get_150_answers_and_50_throttles() -> None:
    """The issue's check, over real uvicorn: the whole burst takes well under the 5 s window."""
    statuses: list[int] = []
    retry_after: list[int] = []
    with running_simulator() as sim:
        limits = httpx.Limits(max_connections=20, max_keepalive_connections=20)
        async with httpx.AsyncClient(base_url=sim.base_url, headers=HEADERS,
                                     limits=limits) as client:

            async def check(n: int) -> None:
                response = await client.post("/profiles", json={"fiscal_code": ALLOWED_CF})
                statuses.append(response.status_code)
                if response.status_code == 429:
                    assert "retry-after" not in response.headers
                    assert response.json()["message"].startswith("Rate limit is exceeded.")
                    retry_after.append(int(response.headers["x-rate-limit-retry-after"]))

            started = anyio.current_time()
            async with anyio.create_task_group() as tg:
                for n in range(200):
                    tg.start_soon(check, n)
            elapsed = anyio.current_time() - started
        stats = sim.stats()
    assert elapsed < 4.5, f"the burst took {elapsed:.1f} s: too slow for a 5 s window check"
    assert statuses.count(200) == 150
    assert statuses.count(429) == 50
    assert all(1 <= wait <= 5 for wait in retry_after)
    assert stats["throttled"] == 50
    assert stats["window"]["demo"]["used"] == 150


def test_the_package_exports_exactly_its_public_face() -> None:
    import dispatcher.simulator as package

    public = {name for name in vars(package) if not name.startswith("_")}
    modules = {name for name, value in vars(package).items()
               if getattr(value, "__name__", "").startswith("dispatcher.simulator.")
               and type(value).__name__ == "module"}
    assert set(package.__all__) == public - modules
    assert all(hasattr(package, name) for name in package.__all__)
