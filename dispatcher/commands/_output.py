"""Shared terminal output for commands: two Rich consoles and one way to abort.

Diagnostics go to stderr, results to stdout, so ``dispatcher validate f.csv > out`` stays clean.
"""

from __future__ import annotations

import json
import os
import sys
from typing import TYPE_CHECKING, Any, NoReturn

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

    def print_json(self, *args: Any, **kwargs: Any) -> None:
        """A command's JSON document: printed, so an error after it adds no second one."""
        super().print_json(*args, **kwargs)
        document_printed()

    def on_broken_pipe(self) -> None:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # the flush at exit must not fail again
        raise SystemExit(0)


console = ResultConsole(highlight=False, soft_wrap=True)
err_console = Console(stderr=True, highlight=False, soft_wrap=True)


class _JsonMode:
    """Whether the command was asked for ``--json``: then every exit prints one JSON document.

    A script that parses stdout must get JSON on every path: invalid input, a refused key,
    a held lock, an internal error. Commands with ``--json`` call :func:`json_errors` first;
    :func:`abort` and the excepthook then print ``{"error": ..., "exit_code": ...}``, unless
    the command already printed its own document (``printed``).
    """

    on = False
    printed = False


def json_errors(enabled: bool) -> None:
    """Every way out of this command prints one JSON document when ``enabled``."""
    _JsonMode.on = enabled
    _JsonMode.printed = False
    if enabled:
        previous = sys.excepthook

        def hook(kind: type[BaseException], value: BaseException, tb: object) -> None:
            previous(kind, value, tb)  # type: ignore[arg-type]  # the scrubbed traceback
            _error_document(f"internal error ({kind.__name__}); see stderr", 1)

        sys.excepthook = hook


def print_document(document: dict[str, object]) -> None:
    """The command's own JSON document on stdout (and no error document after it)."""
    console.print_json(json.dumps(document, ensure_ascii=False))


def document_printed() -> None:
    """The command printed its JSON document itself: an error after it adds no second one."""
    _JsonMode.printed = True


def _error_document(message: str, code: int, **extra: object) -> None:
    if _JsonMode.on and not _JsonMode.printed:
        print_document({"ok": False, "error": message, "exit_code": code, **extra})


def abort(message: str, code: ExitCode, **extra: object) -> NoReturn:
    """Print one line on stderr (and the JSON document under ``--json``); exit with ``code``.

    ``extra``: more fields for the JSON document (e.g. the problems of an invalid file).
    """
    from dispatcher.logs import scrub_text

    text = scrub_text(message)
    err_console.print(f"[bold red]error:[/] {escape(text)}", markup=True)
    _error_document(text, int(code), **extra)
    raise typer.Exit(int(code))


def refused(exc: OperationRefused, **extra: object) -> NoReturn:
    """An operation said no: its message on stderr, its exit code."""
    abort(exc.message, exc.exit_code, **extra)
