"""Engine fixtures: a fast simulator on loopback."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from enginetools import fast_config

from dispatcher.simulator import RunningSimulator, running_simulator


@pytest.fixture
def simulator() -> Iterator[RunningSimulator]:
    with running_simulator(fast_config()) as sim:
        yield sim
