"""Shared terminal output for commands: two Rich consoles and one way to abort.

Diagnostics go to stderr, results to stdout, so ``dispatcher validate f.csv > out`` stays clean.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from dispatcher.vocabulary import ExitCode

if TYPE_CHECKING:
    from dispatcher.operations.errors import OperationRefused

class ResultConsole(Console):
    """stdout, where results go. A reader that closed it (``| head -1``) had all it wanted.

    Rich's own answer to a broken pipe is exit 1, which cron reads as an internal error; the
    run or the check is done by the time its results are printed, so this is exit 0, quietly.
    """

    def on_broken_pipe(self) -> None:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # the flush at exit must not fail again
        raise SystemExit(0)


console = ResultConsole(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def abort(message: str, code: ExitCode) -> NoReturn:
    """Print one line on stderr and exit with a named code."""
    from dispatcher.logs import scrub_text

    err_console.print(f"[bold red]error:[/] {escape(scrub_text(message))}", markup=True)
    raise typer.Exit(int(code))


def refused(exc: OperationRefused) -> NoReturn:
    """An operation said no: its message on stderr, its exit code."""
    abort(exc.message, exc.exit_code)
