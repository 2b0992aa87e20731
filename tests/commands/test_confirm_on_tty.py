"""A real send from a terminal asks first; cron (no terminal) and ``--yes`` never do.

The terminal is a pseudo-terminal (``pty``): the run sees a TTY on stdin and stderr, as it
does when an operator types the command.
"""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

from enginetools import TEMPLATE, cli_env, fast_config, ledger_states, run_cli, write_campaign

from dispatcher.simulator import running_simulator
from dispatcher.vocabulary import ExitCode


def _run_on_a_terminal(args: list[str], env: dict[str, str], answer: str | None,
                       ) -> tuple[int, str]:
    """Run ``dispatcher`` on a pty; type ``answer`` when it asks. (exit code, screen text)."""
    leader, follower = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "dispatcher", *args], env=env,
                               stdin=follower, stdout=follower, stderr=follower)
    os.close(follower)
    screen = b""
    answered = False
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the run ended and closed the terminal
                break
            if not chunk:
                break
            screen += chunk
        if answer is not None and not answered and b"Send now?" in screen:
            os.write(leader, answer.encode() + b"\r")
            answered = True
        if process.poll() is not None and not ready:
            break
    code = process.wait(timeout=30)
    os.close(leader)
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen.decode(errors="replace"))
    return code, " ".join(text.split())  # the terminal's wrapping and colours left out


def test_a_run_on_a_terminal_shows_what_it_will_do_and_asks(tmp_path: Path) -> None:
    campaign = write_campaign(tmp_path / "tari.csv", 30, seed=12)
    args = ["run", str(campaign), "--template", str(TEMPLATE), "--rate", "100/s"]
    with running_simulator(fast_config()) as sim:
        env = {**cli_env(sim), "TERM": "xterm", "COLUMNS": "120"}
        code, screen = _run_on_a_terminal(args, env, answer="n")
        assert code == ExitCode.STOPPED, screen[-2000:]
        assert "About to send 30 message(s), one each to 30 citizen(s)" in screen
        assert sim.base_url in screen and "100/s" in screen.replace("100/1s", "100/s")
        assert "nothing was sent" in screen
        assert sim.inbox() == {}

        code, screen = _run_on_a_terminal(args, env, answer="y")
        assert code in (ExitCode.OK, ExitCode.INCOMPLETE), screen[-2000:]
        assert sim.inbox()
        states = ledger_states(tmp_path / "tari.dispatcher" / "ledger.sqlite")
        assert "pending" not in states


def test_cron_and_yes_are_never_asked(tmp_path: Path) -> None:
    campaign = write_campaign(tmp_path / "tari.csv", 10, seed=13)
    with running_simulator(fast_config()) as sim:
        env = cli_env(sim)
        piped = run_cli(["run", str(campaign), "--template", str(TEMPLATE)], env)
        assert piped.returncode == ExitCode.OK, piped.stderr[-2000:]
        assert "Send now?" not in piped.stderr + piped.stdout
        second = write_campaign(tmp_path / "other.csv", 10, seed=14)
        code, screen = _run_on_a_terminal(
            ["run", str(second), "--template", str(TEMPLATE), "--yes"],
            {**env, "TERM": "xterm"}, answer=None)
        assert code == ExitCode.OK, screen[-2000:]
        assert "Send now?" not in screen
