"""Report fixtures: a ledger with one row of every kind, built directly (no network).

The engine helpers (``enginetools``: generated campaigns, the CLI in a subprocess, the
simulator config) live in ``tests/engine``; that folder is put on ``sys.path`` here so the
report tests run alone (``pytest tests/report``) as well as with the whole suite.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

_ENGINE = str(Path(__file__).resolve().parents[1] / "engine")
if _ENGINE not in sys.path:
    sys.path.insert(0, _ENGINE)

from reporttools import MixedLedger, build_mixed_ledger  # noqa: E402


@pytest.fixture
def mixed(tmp_path: Path) -> MixedLedger:
    """A complete campaign holding every outcome and every IO status (see ``reporttools``)."""
    return build_mixed_ledger(tmp_path / "tari.dispatcher" / "ledger.sqlite")
