"""Helpers for engine tests: generated campaigns, the CLI in a subprocess, ledger peeks."""

from __future__ import annotations

import importlib.util
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

from dispatcher.simulator import (
    DEFAULT_KEY,
    PopulationConfig,
    RatePolicy,
    RunningSimulator,
    SimulatorConfig,
)

REPO = Path(__file__).resolve().parents[1]
TEMPLATE = REPO / "sample_data" / "tari_2027.toml"


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("tari_generate", REPO / "sample_data" /
                                                  "generate.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GENERATE = _generator()


def write_campaign(path: Path, rows: int, seed: int = 11) -> Path:
    """A valid TARI campaign of ``rows`` distinct recipients (with the sample template)."""
    GENERATE.write_csv(path, GENERATE.tari_rows(rows, seed))
    return path


def fast_config(**changes: object) -> SimulatorConfig:
    """No gateway limit, no processing delay: tests measure behaviour, not waiting."""
    values: dict[str, object] = {
        "rate": RatePolicy(limit=0),
        "processing_delay_s": 0.0,
        "population": PopulationConfig(seed=3, share_missing=0.1, share_blocked=0.05),
    }
    values.update(changes)
    return SimulatorConfig(**values)  # type: ignore[arg-type]


def cli_env(sim: RunningSimulator, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IO_")}
    env.update(IO_API_KEY=DEFAULT_KEY, IO_BASE_URL=sim.base_url, **extra)
    return env


def run_cli(args: list[str], env: dict[str, str], timeout: float = 120
            ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dispatcher", *args], env=env, text=True,
                          capture_output=True, timeout=timeout, check=False)


def ledger_states(path: Path) -> dict[str, int]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        return dict(db.execute("SELECT state, count(*) FROM rows GROUP BY state").fetchall())


def ledger_rows(path: Path) -> list[tuple[int, str, str, str | None]]:
    """(row, fiscal code, state, message id) of the newest campaign."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        return db.execute(
            "SELECT row, fiscal_code, state, message_id FROM rows WHERE campaign_id="
            "(SELECT max(campaign_id) FROM campaigns) ORDER BY row"
        ).fetchall()


def assert_no_duplicates_outside_ambiguous(ledger: Path, inbox: dict[str, list[dict]]) -> None:
    """The proof the issue asks for: two copies only where the ledger admits doubt, and
    every message IO stored belongs to a row the ledger calls sent or ambiguous."""
    rows = ledger_rows(ledger)
    by_code = {code: (state, message_id) for _, code, state, message_id in rows}
    for code, messages in inbox.items():
        state, message_id = by_code[code]
        assert state in ("sent", "ambiguous"), (code[:6], state, len(messages))
        if state == "sent":
            assert len(messages) == 1, (code[:6], len(messages))
            assert messages[0]["id"] == message_id
    for _, code, state, _ in rows:
        if state == "sent":
            assert code in inbox, f"row sent but IO has no message for {code[:6]}"


TERMINAL = {"invalid", "duplicate", "no_profile", "sender_not_allowed", "sent", "rejected",
            "failed", "ambiguous", "already_sent"}


def start_cli(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[str]:
    """A run in the background; its output goes to a file (a full pipe would block it)."""
    with log.open("a") as sink:
        return subprocess.Popen([sys.executable, "-m", "dispatcher", *args], env=env,
                                text=True, stdout=sink, stderr=sink)


def wait_for_decided(ledger: Path, at_least: int, process: subprocess.Popen[str]) -> None:
    """Until ``at_least`` rows of ``ledger`` are decided (or the process ends, or 60 s)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        if ledger.exists():
            try:
                states = ledger_states(ledger)
            except Exception:  # the schema may not exist yet
                states = {}
            if sum(n for s, n in states.items() if s in TERMINAL) >= at_least:
                return
        time.sleep(0.02)
