"""Shared terminal output for commands: two Rich consoles, the language, one way to abort.

Diagnostics go to stderr, results to stdout, so ``dispatcher validate f.csv > out`` stays clean.
Every human line goes through :func:`_` (and numbers through ``tr().number``) in the language
of this invocation: ``--lang`` of the command, else ``dispatcher --lang``, else the
environment's (``DISPATCHER_LANG``, ``LC_ALL``/``LC_MESSAGES``/``LANG``), else Italian.
JSON documents stay language-neutral: codes, English messages, ISO times.
"""

from __future__ import annotations

import json
import os
import sys
from typing import TYPE_CHECKING, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape

from dispatcher.i18n import N_, Translator, resolve_language, translator
from dispatcher.vocabulary import ExitCode

if TYPE_CHECKING:
    from dispatcher.operations.errors import OperationRefused

LANG_HELP = ("Language of the output: it or en (default: DISPATCHER_LANG, else LC_ALL/LANG, "
             "else Italian).")
LANG_OPTION: Any = typer.Option(None, "--lang", metavar="it|en", help=LANG_HELP)
"""Every command's ``--lang`` (one definition, so they all read and behave alike)."""


class _Language:
    """The language of this invocation: the root's ``--lang``, then the command's."""

    root: str | None = None
    chosen: Translator | None = None


def root_language(flag: str | None) -> None:
    """``dispatcher --lang``: the default of every command of this invocation."""
    _Language.root, _Language.chosen = flag, None
    use_language(None)


def use_language(flag: str | None) -> Translator:
    """The command's ``--lang`` (else the root's, else the environment's): now in use."""
    try:
        language = resolve_language(flag or _Language.root)
    except ValueError:
        _Language.chosen = None
        fail(N_("--lang must be it or en, not {value!r}"), ExitCode.INVALID_INPUT,
             value=flag or _Language.root)
    _Language.chosen = translator(language)
    return _Language.chosen


def tr() -> Translator:
    """The translator in use (the environment's language until a command chose one)."""
    if _Language.chosen is None:
        try:
            return translator(resolve_language(_Language.root))
        except ValueError:
            return translator(resolve_language(None))
    return _Language.chosen


def styled(style: str, text: str) -> str:
    """``text`` in a Rich ``style``, its own brackets escaped (a translation may hold any)."""
    return f"[{style}]{escape(text)}[/]"


def _(message: str) -> str:
    """``message`` (English, a literal: the catalog is extracted from these calls) translated."""
    return tr().gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The form of ``n`` in the language in use."""
    return tr().ngettext(singular, plural, n)


def num(value: int | float) -> str:
    """A count as the language writes it: ``80.000`` / ``80,000``."""
    return tr().number(value)


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


def abort(message: str, code: ExitCode, *, english: str | None = None,
          scrubbed: bool = False, **extra: object) -> NoReturn:
    """Print one line on stderr (and the JSON document under ``--json``); exit with ``code``.

    ``message`` is shown to people; ``english`` (default: ``message``) goes in the JSON
    document, which stays language-neutral. Both are scrubbed of secrets and fiscal codes
    unless the caller did it (``scrubbed``). ``extra``: more fields for the JSON document
    (e.g. the problems of an invalid file).
    """
    from dispatcher.logs import scrub_text

    def clean(text: str) -> str:
        return text if scrubbed else scrub_text(text)

    text = clean(message)
    err_console.print(styled("bold red", _("error:")) + " " + escape(text), markup=True)
    _error_document(clean(english) if english is not None else text, int(code), **extra)
    raise typer.Exit(int(code))


def fail(text: str, code: ExitCode, **params: object) -> NoReturn:
    """:func:`abort` with an English ``text`` (marked with ``N_``) and its ``{fields}``.

    People read it translated, counts written as their language writes them; the JSON
    document keeps the English.
    """
    shown = {k: num(v) if type(v) is int else v for k, v in params.items()}
    abort(_(text).format(**shown), code, english=text.format(**params))


def refused(exc: OperationRefused, **extra: object) -> NoReturn:
    """An operation said no: its message on stderr (advised command with this invocation's
    flags), its exit code."""
    from dispatcher.commands.hints import Invocation, suggestion_text
    from dispatcher.logs import scrub_text

    command = (suggestion_text(exc.suggestion, Invocation.current())
               if exc.suggestion is not None else "")
    # The message is scrubbed, the command is not: it holds paths and carried flags only, and
    # IO's test citizen (``--to AAAAAA00A00A000A``) must stay a code that works.
    human = scrub_text(exc.render(_, _COMMAND, num)).replace(_COMMAND, command)
    english = scrub_text(exc.render(_english, _COMMAND)).replace(_COMMAND, command)
    abort(human, exc.exit_code, english=english, scrubbed=True, **extra)


_COMMAND = "\x00command\x00"  # where the suggested command goes, past the scrubbing


def _english(text: str) -> str:
    return text
