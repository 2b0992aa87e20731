"""The ``dispatcher`` command line: thin by design.

Each sub-command lives in ``dispatcher/commands/<name>.py`` as a function called ``command``
(or, for a group such as ``feed sync``, a ``typer.Typer`` called ``app``);
it parses flags, calls one operation (``dispatcher/operations/``), renders its result and
exits with its code.
Heavy modules (polars, uvicorn, the simulator) are imported inside the command bodies.

Exit codes: 0 done · 1 internal error · 2 invalid input, nothing sent · 3 finished with failed,
rejected or ambiguous rows · 4 configuration error · 5 ledger locked by another run ·
75 stopped, resumable.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import typer

from dispatcher import __version__

# (command name, module): the order is the order shown in --help.
COMMAND_MODULES: tuple[tuple[str, str], ...] = (
    ("validate", "dispatcher.commands.validate"),
    ("preview", "dispatcher.commands.preview"),
    ("check", "dispatcher.commands.check"),
    ("test", "dispatcher.commands.test"),
    ("run", "dispatcher.commands.run"),
    ("status", "dispatcher.commands.status"),
    ("report", "dispatcher.commands.report"),
    ("feed", "dispatcher.commands.feed"),
    ("rc-config", "dispatcher.commands.rc_config"),
    ("demo", "dispatcher.commands.demo"),
    ("simulator", "dispatcher.commands.simulator"),
    ("content", "dispatcher.commands.content"),
)

app = typer.Typer(
    name="dispatcher",
    help=(
        "Send personal IO app messages in bulk from a campaign file: validate every row first, "
        "check each recipient's profile, send one message per fiscal code under the ente's "
        "shared rate budget, and keep a resumable ledger of every row."
    ),
    epilog=(
        "Exit codes: 0 done · 1 internal error · 2 invalid input (nothing sent) · "
        "3 finished with failed, rejected or ambiguous rows · 4 configuration error · "
        "5 ledger locked · 75 stopped, rerun to resume. "
        "The API key is read from IO_API_KEY or IO_API_KEY_FILE, never from flags."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"dispatcher {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
    log_level: str | None = typer.Option(
        None, "--log-level", metavar="LEVEL",
        help="debug (adds a line per row), info (default off a terminal: start, progress, "
             "end), warning (default on a terminal) or error; or DISPATCHER_LOG_LEVEL.",
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Log errors only."),
    log_file: Path | None = typer.Option(
        None, "--log-file", metavar="PATH", envvar="DISPATCHER_LOG_FILE",
        help="Also log everything, a line per row included, as JSON lines to PATH (0600), "
             "whatever the level on stderr; or DISPATCHER_LOG_FILE.",
    ),
    lang: str | None = typer.Option(
        None, "--lang", metavar="it|en",
        help="Language of every command's output: it or en (default: DISPATCHER_LANG, "
             "else LC_ALL/LANG, else Italian); a command's own --lang wins.",
    ),
) -> None:
    """Send personal IO app messages in bulk from a campaign file, with a resumable ledger."""
    import sys

    from dispatcher.logs import command_log_level, configure_for_command

    try:
        level = command_log_level(log_level, quiet=quiet, interactive=sys.stderr.isatty())
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--log-level") from None
    try:
        configure_for_command(level, log_file)  # once, the same for every command
    except OSError as exc:
        raise typer.BadParameter(f"cannot write the log file {log_file}: "
                                 f"{exc.strerror or exc}", param_hint="--log-file") from None
    from dispatcher.commands._output import root_language

    root_language(lang)


def _register_commands() -> None:
    for name, module_name in COMMAND_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:  # command not built yet
                continue
            raise
        if hasattr(module, "app"):  # a group (``dispatcher feed sync``, ``simulator open``)
            app.add_typer(module.app, name=name)
        else:
            app.command(name)(module.command)


_register_commands()


def main() -> None:
    """Console-script entry point.

    A reader that closed stdout (``dispatcher validate FILE --json | head -1``) had all it
    wanted. Click answers that broken pipe with exit 1 (an "internal error" to cron), after
    wrapping stdout so that its last flush stays quiet: that wrapping is how it is told apart
    from a real exit 1, which is passed on. Rich's consoles: ``_output.ResultConsole``.
    """
    try:
        app()
    except SystemExit as exc:
        if exc.code == 1 and type(sys.stdout).__name__ == "PacifyFlushWrapper":
            sys.exit(0)
        raise
