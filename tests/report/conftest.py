"""Report fixtures: a ledger with one row of every kind, built directly (no network).

The shared helpers (``enginetools``: generated campaigns, the CLI in a subprocess, the
simulator config) live in ``tests/``, next to the root conftest, so they import from here.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from reporttools import MixedLedger, build_mixed_ledger


@pytest.fixture
def mixed(tmp_path: Path) -> MixedLedger:
    """A complete campaign holding every outcome and every IO status (see ``reporttools``)."""
    return build_mixed_ledger(tmp_path / "tari.dispatcher" / "ledger.sqlite")
