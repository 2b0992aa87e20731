"""Shared fixtures. anyio runs on asyncio only: aiolimiter is asyncio-only.

Tests marked ``io_spec`` read IO's official OpenAPI files from ``IO_SPEC_DIR`` (see
``io_spec.py``); where those files are absent they are skipped, saying how to enable them.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from enginetools import fast_config
from io_spec import MISSING_REASON

from dispatcher.simulator import RunningSimulator, running_simulator


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "io_spec: needs IO's official OpenAPI files (IO_SPEC_DIR); skipped without")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if MISSING_REASON is None:
        return
    skip = pytest.mark.skip(reason=MISSING_REASON)
    for item in items:
        if item.get_closest_marker("io_spec"):
            item.add_marker(skip)


@pytest.fixture(autouse=True, scope="module")
def private_module_state(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A state directory for module-scoped fixtures (they run before any test's own).

    Autouse fixtures come first within their scope, so a module fixture that runs a campaign
    already writes its send journal here, never in the user's state directory.
    """
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("module-state")))
        patch.setenv("DISPATCHER_LANG", "en")  # see private_state
        yield


@pytest.fixture(autouse=True)
def private_state(tmp_path_factory: pytest.TempPathFactory,
                  monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test gets its own state directory: send journals never touch the user's.

    And English output, whatever the machine's locale (the tool's own default is Italian):
    tests of the Italian output and of the default ask for them explicitly.
    """
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("state")))
    monkeypatch.setenv("DISPATCHER_LANG", "en")
    yield


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def simulator() -> Iterator[RunningSimulator]:
    """A fast simulator on loopback: no gateway limit, no processing delay."""
    with running_simulator(fast_config()) as sim:
        yield sim
