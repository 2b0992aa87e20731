"""Fixtures for the simulator tests (helpers live in ``simtools``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from simtools import ALLOWED_CF, BLOCKED_CF, MISSING_CF, Sim, SimFactory

from dispatcher.simulator import PopulationConfig, SimulatorConfig


@pytest.fixture
def population_file(tmp_path: Path) -> Path:
    path = tmp_path / "population.csv"
    path.write_text(
        "fiscal_code,state\n"
        f"{ALLOWED_CF},allowed\n{BLOCKED_CF},blocked\n{MISSING_CF},missing\n",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def base_config(population_file: Path) -> SimulatorConfig:
    """The default config, with known citizens and immediate processing."""
    return SimulatorConfig(
        population=PopulationConfig(file=str(population_file)),
        processing_delay_s=0.0,
    )


@pytest.fixture
def make_sim(base_config: SimulatorConfig) -> SimFactory:
    """``async with make_sim() as sim:`` (``base_config``) or ``make_sim(other_config)``."""

    @asynccontextmanager
    async def factory(config: SimulatorConfig | None = None) -> AsyncIterator[Sim]:
        sim = Sim(config or base_config)
        try:
            yield sim
        finally:
            await sim.api.aclose()
            await sim.control.aclose()

    return factory
