"""An embedded IO API (PagoPA) simulator: the real endpoints, shapes, codes and gateway policy.

It is how ``make demo`` runs without IO, and how tests and benchmarks exercise real HTTP.
Production code never imports it; the CLI (``dispatcher simulator``, ``dispatcher demo``) and
tests do.

The public face::

    from dispatcher.simulator import RatePolicy, SimulatorConfig, running_simulator

    with running_simulator(SimulatorConfig(rate=RatePolicy(10, 1.0))) as sim:
        ...  # sim.base_url, sim.inbox(), sim.stats(), sim.configure(...), sim.reset()

* ``create_app(config)``: the Starlette app (for ``httpx.ASGITransport``).
* ``running_simulator(config)``: uvicorn in a thread on 127.0.0.1, blocking helpers.
* ``serve_simulator(config)``: uvicorn in the caller's event loop, awaitable helpers.

The default config is one ente ``demo`` with the key ``demo-key`` (service ``demo-service``)
holding every permission (Premium, third party, payee, feed, payments up to 9,999,999,999
cents, remote-content configuration ``DEMO_CONFIGURATION_ID``), a 150 requests / 5 s window,
a seeded population (10 % without IO, 5 % blocking the service) and no faults.
"""

from dispatcher.simulator.app import API_PREFIX, CONTROL_PREFIX, create_app, simulator_state
from dispatcher.simulator.client import AsyncSimulatorControl, SimulatorControl
from dispatcher.simulator.clock import SimClock
from dispatcher.simulator.config import (
    DEFAULT_ENTE,
    DEFAULT_KEY,
    DEFAULT_SERVICE_ID,
    DEMO_CONFIGURATION_ID,
    DEMO_KEY,
    SANDBOX_FISCAL_CODE,
    ConfigError,
    FaultConfig,
    KeyConfig,
    PopulationConfig,
    RatePolicy,
    SimulatorConfig,
)
from dispatcher.simulator.configio import apply_changes, load_keys_file, load_population_file
from dispatcher.simulator.faults import SimulatedDisconnect, SimulatedReset
from dispatcher.simulator.feed import fiscal_code_hash
from dispatcher.simulator.server import (
    AsyncRunningSimulator,
    RunningSimulator,
    running_simulator,
    serve_simulator,
)

__all__ = [
    "API_PREFIX",
    "CONTROL_PREFIX",
    "DEFAULT_ENTE",
    "DEFAULT_KEY",
    "DEFAULT_SERVICE_ID",
    "DEMO_CONFIGURATION_ID",
    "DEMO_KEY",
    "SANDBOX_FISCAL_CODE",
    "AsyncRunningSimulator",
    "AsyncSimulatorControl",
    "ConfigError",
    "FaultConfig",
    "KeyConfig",
    "PopulationConfig",
    "RatePolicy",
    "RunningSimulator",
    "SimClock",
    "SimulatedDisconnect",
    "SimulatedReset",
    "SimulatorConfig",
    "SimulatorControl",
    "apply_changes",
    "create_app",
    "fiscal_code_hash",
    "load_keys_file",
    "load_population_file",
    "running_simulator",
    "serve_simulator",
    "simulator_state",
]
