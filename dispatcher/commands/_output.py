"""Shared terminal output for commands: two Rich consoles and one way to abort.

Diagnostics go to stderr, results to stdout, so ``dispatcher validate f.csv > out`` stays clean.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from dispatcher.vocabulary import ExitCode

if TYPE_CHECKING:
    from dispatcher.operations.errors import OperationRefused

console = Console(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def abort(message: str, code: ExitCode) -> NoReturn:
    """Print one line on stderr and exit with a named code."""
    from dispatcher.logs import scrub_text

    err_console.print(f"[bold red]error:[/] {escape(scrub_text(message))}", markup=True)
    raise typer.Exit(int(code))


def refused(exc: OperationRefused) -> NoReturn:
    """An operation said no: its message on stderr, its exit code."""
    abort(exc.message, exc.exit_code)
