"""Keys as operators really save them, against the simulator on loopback: a trailing newline
works; the primary and secondary key on two lines, or a non-ASCII letter, stop every command
with exit 4 before anything is sent; and a key full of characters that change when printed
(``'``, ``%``, ``\\``, ``+``, ``"``, ``&``) is found in none of its printed forms (plain, repr,
bytes repr, URL-encoded, JSON, HTML) in anything the tool wrote or printed."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from enginetools import TEMPLATE, fast_config, write_campaign

from dispatcher.privacy import printed_forms
from dispatcher.simulator import DEMO_KEY, KeyConfig, RunningSimulator, running_simulator
from dispatcher.vocabulary import ExitCode

pytestmark = pytest.mark.slow

AWKWARD = "Aw'k%2B\\e+y\"0&<x>~9"
"""Printable ASCII, so IO can take it; every character that a printer changes."""
SECONDARY = "Sec0ndary-%41'key\\+"
NON_ASCII = "Awkeé0123456789"
ALL_KEYS = (AWKWARD, SECONDARY, NON_ASCII)


class Workspace:
    """Temp folders for one test: the work, HOME, the state dir; keys kept outside them."""

    def __init__(self, tmp_path: Path, simulator: RunningSimulator) -> None:
        self.work = tmp_path / "work"
        self.home = tmp_path / "home"
        self.secrets = tmp_path / "secrets"  # the key files: the one place the key may be
        for folder in (self.work, self.home, self.secrets):
            folder.mkdir()
        self.simulator = simulator
        self.printed: list[str] = []
        self.campaign = write_campaign(self.work / "c.csv", 12)  # ours, not the tool's

    def key_file(self, name: str, content: str) -> Path:
        path = self.secrets / name
        path.write_text(content, encoding="utf-8")
        return path

    def env(self, **keys: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("IO_", "XDG_"))}
        env.update(HOME=str(self.home), XDG_STATE_HOME=str(self.home / "state"),
                   IO_BASE_URL=self.simulator.base_url, **keys)
        return env

    def cli(self, args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        """The command in a subprocess under ``umask 000``: what it creates must not care."""
        result = subprocess.run(
            [sys.executable, "-m", "dispatcher", *args], env=env, text=True, cwd=self.work,
            capture_output=True, timeout=120, check=False, preexec_fn=lambda: os.umask(0),
        )
        self.printed += [result.stdout, result.stderr]
        assert "Traceback" not in result.stderr, result.stderr[-3000:]
        return result

    def written(self) -> list[Path]:
        """Every file the tool wrote (the campaign file is the test's own)."""
        return [p for root in (self.work, self.home) for p in root.rglob("*")
                if p.is_file() and p != self.campaign]

    def folders(self) -> list[Path]:
        """Every folder the tool created."""
        return [p for root in (self.work, self.home) for p in root.rglob("*") if p.is_dir()]

    def assert_no_key_anywhere(self) -> None:
        """No printed form of any key in a written file (sqlite read as bytes) or the output."""
        forms = {form for key in ALL_KEYS for form in printed_forms(key)}
        printed = "\n".join(self.printed)
        for form in forms:
            assert form not in printed, f"a form of the key was printed: {form!r}"
        for path in self.written():
            data = path.read_bytes()
            for form in forms:
                assert form.encode() not in data, f"{path} holds a form of the key: {form!r}"


@pytest.fixture
def simulator() -> RunningSimulator:
    keys = (replace(DEMO_KEY, key=AWKWARD), KeyConfig(key=SECONDARY))
    with running_simulator(fast_config(keys=keys)) as sim:
        yield sim


@pytest.fixture
def space(tmp_path: Path, simulator: RunningSimulator) -> Workspace:
    return Workspace(tmp_path, simulator)


def test_a_key_file_ending_in_a_newline_works_and_the_key_is_found_nowhere(
    space: Workspace, simulator: RunningSimulator
) -> None:
    env = space.env(IO_API_KEY_FILE=str(space.key_file("io.key", AWKWARD + "\n")))
    checked = space.cli(["check"], env)
    assert checked.returncode == ExitCode.OK, checked.stderr
    ran = space.cli(["run", str(space.campaign), "-t", str(TEMPLATE)], env)
    assert ran.returncode in (ExitCode.OK, ExitCode.INCOMPLETE), ran.stderr[-2000:]
    assert simulator.stats()["messages_stored"] > 0  # the awkward key really was used
    status = space.cli(["status", str(space.campaign), "--min-age", "0s"], env)
    assert status.returncode in (ExitCode.OK, ExitCode.INCOMPLETE), status.stderr[-2000:]
    reported = space.cli(["report", str(space.campaign)], env)
    assert reported.returncode == ExitCode.OK, reported.stderr[-2000:]
    names = {p.name for p in space.written()}
    assert {"ledger.sqlite", "results.csv", "report.html", "summary.json"} <= names
    space.assert_no_key_anywhere()
    for path in space.written():  # created under umask 000, still private
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path
    assert space.folders()
    for folder in space.folders():
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder


@pytest.mark.parametrize("where", ["file", "environment"])
def test_primary_and_secondary_on_two_lines_stop_every_command_before_anything_is_sent(
    space: Workspace, simulator: RunningSimulator, where: str
) -> None:
    two_lines = f"{AWKWARD}\n{SECONDARY}\n"
    env = (space.env(IO_API_KEY_FILE=str(space.key_file("io.key", two_lines)))
           if where == "file" else space.env(IO_API_KEY=two_lines))
    ledger = space.work / "c.dispatcher" / "ledger.sqlite"
    for args in (["check"], ["run", str(space.campaign), "-t", str(TEMPLATE)],
                 ["test", str(space.campaign), "-t", str(TEMPLATE), "--to",
                  "AAAAAA00A00A000A"]):
        result = space.cli(args, env)
        assert result.returncode == ExitCode.CONFIG_ERROR, (args, result.stderr)
        assert "2 non-empty lines" in result.stderr and "primary key alone" in result.stderr
    assert simulator.stats()["requests_total"] == 0  # not one request left
    assert not ledger.exists()  # no ledger, so no row sent or even recorded
    space.assert_no_key_anywhere()


def test_a_non_ascii_key_is_exit_4_without_traceback_in_every_command_that_reads_it(
    space: Workspace, simulator: RunningSimulator
) -> None:
    env = space.env(IO_API_KEY_FILE=str(space.key_file("io.key", NON_ASCII + "\n")))
    commands = [
        ["check"],
        ["run", str(space.campaign), "-t", str(TEMPLATE)],
        ["run", str(space.campaign), "-t", str(TEMPLATE), "--dry-run", "--check-profiles"],
        ["test", str(space.campaign), "-t", str(TEMPLATE), "--to", "AAAAAA00A00A000A"],
        ["status", str(space.campaign)],
        ["feed", "sync", "--cache", str(space.work / "profiles.sqlite")],
    ]
    for args in commands:
        result = space.cli(args, env)
        assert result.returncode == ExitCode.CONFIG_ERROR, (args, result.stderr)
        assert f"a non-ASCII character (such as an accented letter or a typographic quote) " \
               f"at position 5 of {len(NON_ASCII)}" in result.stderr, (args, result.stderr)
    assert simulator.stats()["requests_total"] == 0
    space.assert_no_key_anywhere()
