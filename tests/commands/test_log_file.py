"""``--log-file``: the whole story in a private JSON file, a short one on stderr; and on a
terminal, log lines printed above the progress bar, never spliced into it."""

from __future__ import annotations

import contextlib
import io
import json
import re
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from enginetools import TEMPLATE, cli_env, run_cli, write_campaign
from rich.console import Console

from dispatcher.commands.progress import RunProgress
from dispatcher.logs import CurrentStderr, configure_logging, logs_through
from dispatcher.simulator import RunningSimulator
from dispatcher.vocabulary import ExitCode, RowState

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def test_a_1000_row_run_keeps_every_row_in_the_log_file_and_little_on_stderr(
    tmp_path: Path, simulator: RunningSimulator,
) -> None:
    campaign = write_campaign(tmp_path / "c.csv", 1000, seed=32)
    log_file = tmp_path / "logs" / "run.jsonl"
    result = run_cli(["--log-file", str(log_file), "run", str(campaign), "--template",
                      str(TEMPLATE), "--rate", "2000/s", "--ledger", str(tmp_path / "l.sqlite")],
                     cli_env(simulator))
    assert result.returncode == ExitCode.OK, result.stderr[-2000:]
    assert len(result.stderr.splitlines()) < 60
    assert "row_decided" not in result.stderr
    text = log_file.read_text(encoding="utf-8")
    assert "\x1b" not in text
    events = [json.loads(line) for line in text.splitlines()]  # every line is JSON
    rows = [e for e in events if e["event"] == "row_decided"]
    assert len(rows) == 1000 and {e["level"] for e in rows} == {"debug"}
    assert len({e["row"] for e in rows}) == 1000
    assert all("*" in e["fiscal_code"] for e in rows)  # masked there too
    assert {"run_started", "run_finished"} <= {e["event"] for e in events}
    assert stat.S_IMODE(log_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(log_file.parent.stat().st_mode) == 0o700


def test_the_log_file_can_come_from_the_environment_and_is_appended_to(
    tmp_path: Path, simulator: RunningSimulator,
) -> None:
    campaign = write_campaign(tmp_path / "c.csv", 12, seed=33)
    log_file = tmp_path / "run.jsonl"
    env = cli_env(simulator, DISPATCHER_LOG_FILE=str(log_file))
    base = ["--quiet", "run", str(campaign), "--template", str(TEMPLATE), "--rate", "500/s",
            "--ledger", str(tmp_path / "l.sqlite")]
    first = run_cli(base, env)
    assert first.returncode == ExitCode.OK, first.stderr[-2000:]
    assert first.stderr == ""  # --quiet on stderr, everything in the file
    second = run_cli(base, env)  # resumed: nothing left to do, one more run logged
    assert second.returncode == ExitCode.OK, second.stderr[-2000:]
    events = [json.loads(line)["event"] for line in log_file.read_text().splitlines()]
    assert events.count("row_decided") == 12 and events.count("run_finished") == 2


def test_a_log_file_that_cannot_be_written_is_a_usage_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = run_cli(["--log-file", str(blocker / "x.jsonl"), "validate", str(blocker)], {})
    assert result.returncode == 2
    assert "cannot write the log file" in result.stderr and "Traceback" not in result.stderr


class _Terminal(io.StringIO):
    """What structlog thinks stderr is: a terminal (colours, the console renderer)."""

    def isatty(self) -> bool:
        return True


@contextlib.contextmanager
def terminal_stderr() -> Iterator[_Terminal]:
    """stderr as a terminal, with the console logging a command gets on one.

    Swapped inside the test itself: pytest puts its own capture back on ``sys.stderr`` at
    the start of each test phase, after fixtures ran.
    """
    stderr = _Terminal()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("sys.stderr", stderr)
        configure_logging(json=False, stream=CurrentStderr())  # type: ignore[arg-type]
        try:
            yield stderr
        finally:
            structlog.reset_defaults()


def test_on_a_terminal_a_warning_mid_run_prints_above_the_bar_not_inside_it() -> None:
    screen = io.StringIO()
    terminal = Console(file=screen, force_terminal=True, width=120, color_system=None)
    log = structlog.get_logger("dispatcher.test")
    with terminal_stderr() as console_logs, RunProgress(terminal) as progress:
        progress.start(7, dict.fromkeys(RowState, 0) | {RowState.PENDING: 50})
        for row in range(50):
            progress.advance(RowState.SENT)
            if row in (10, 30):
                log.warning("gateway_slow", row=row)
    assert console_logs.getvalue() == ""  # nothing went around the display
    lines = [ANSI.sub("", line) for part in screen.getvalue().split("\n")
             for line in part.split("\r")]
    bar = re.compile(r"\b\d+/50\b")  # the bar's "done/total" column, in any language
    warnings = [line for line in lines if "gateway_slow" in line]
    assert len(warnings) == 2
    assert not any(bar.search(line) for line in warnings)  # no bar on a log line
    bars = [line for line in lines if bar.search(line)]
    assert bars and all("gateway_slow" not in line for line in bars)
    assert "50/50" in bars[-1]


def test_while_a_display_is_live_console_lines_go_to_it_and_not_to_stderr() -> None:
    shown: list[str] = []
    log = structlog.get_logger("dispatcher.test")
    with terminal_stderr() as console_logs:
        with logs_through(shown.append):
            log.warning("above_the_bar", row=3)
        log.warning("after_the_display")
    assert len(shown) == 1 and "above_the_bar" in shown[0] and shown[0].endswith("\n")
    assert "above_the_bar" not in console_logs.getvalue()
    assert "after_the_display" in console_logs.getvalue()
