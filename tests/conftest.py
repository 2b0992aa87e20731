"""Shared fixtures. anyio runs on asyncio only: aiolimiter is asyncio-only."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED_DIR = Path(__file__).resolve().parents[2] / "shared"
SPEC_DIR = SHARED_DIR / "io-api"


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"
