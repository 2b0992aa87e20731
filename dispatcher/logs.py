"""Structured logging: JSON lines for cron and log collectors, a readable console on a terminal.

Every event passes through two processors before it is rendered: one masks fiscal codes,
one removes the API key (every key the settings read, :func:`~dispatcher.privacy.register_secret`,
in each of its printed forms). Both reach into nested values (lists, dicts) and run after an
exception is turned into text, so a traceback is masked and redacted like any other value.
An exception no command caught gets the same treatment (:func:`install_excepthook`).
Core modules log through ``structlog.get_logger()``; the CLI calls :func:`configure_logging`
once, for every command, before the command runs: JSON lines when stderr is not a terminal
(cron, pipes, log collectors), a readable console when it is, without colour under
``NO_COLOR`` or in a file.

Two more places a line may go. While a progress bar is live on the terminal, console lines are
handed to it (:func:`logs_through`) and printed above the bar, never into it. With a log file
(``--log-file``, ``DISPATCHER_LOG_FILE``) every event down to DEBUG, the line per row
included, is also written there as a JSON line (0600), whatever the console's level: cron
mail stays short and the file keeps the whole story.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import traceback
from collections.abc import Callable, Iterator, MutableMapping
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO, TextIO

import orjson
import structlog

from dispatcher.privacy import mask_fiscal_codes_in, redact, registered_secrets
from dispatcher.storage import private_file


def _scrubbed(value: Any, clean: Callable[[str], str]) -> Any:
    """``value`` with ``clean`` applied to every string in it, however deeply nested."""
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, dict):
        return {k: _scrubbed(v, clean) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrubbed(v, clean) for v in value]
    if isinstance(value, tuple):  # a named tuple comes out plain: it is rendered next anyway
        return tuple(_scrubbed(v, clean) for v in value)
    return value


def scrub_text(text: str, secrets: tuple[str, ...] = ()) -> str:
    """Free text made fit to print: fiscal codes masked, every registered secret removed."""
    return mask_fiscal_codes_in(redact(text, secrets + registered_secrets()))


class MaskFiscalCodes:
    """Mask every fiscal code in every string of the event."""

    def __call__(self, logger: Any, method: str, event: MutableMapping[str, Any]) -> Any:
        for key, value in list(event.items()):
            event[key] = _scrubbed(value, mask_fiscal_codes_in)
        return event


class RedactSecrets:
    """Remove secrets (the API key) from every string value of the event.

    Besides the ones given, every secret registered since (the settings register the key
    they read) is removed too: logging is configured before any command reads its key.
    """

    def __init__(self, secrets: tuple[str, ...] = ()) -> None:
        self.secrets = tuple(s for s in secrets if s)

    def __call__(self, logger: Any, method: str, event: MutableMapping[str, Any]) -> Any:
        secrets = self.secrets + registered_secrets()
        if not secrets:
            return event
        for key, value in list(event.items()):
            event[key] = _scrubbed(value, lambda text: redact(text, secrets))
        return event


def _orjson_dumps(obj: Any, **_: Any) -> bytes:
    return orjson.dumps(obj, default=str)


def _orjson_text(obj: Any, **_: Any) -> str:
    return orjson.dumps(obj, default=str).decode()


_LEVEL_NUMBERS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
                  "error": logging.ERROR, "critical": logging.CRITICAL}


class LogFile:
    """The ``--log-file``: JSON lines appended to a file only its owner can read.

    Each line is written and flushed on its own, so a run killed with ``kill -9`` leaves every
    line it logged.
    """

    def __init__(self, path: Path) -> None:
        self.path = private_file(Path(path))  # 0600 (folders 0700) before the first byte
        self._stream: BinaryIO = self.path.open("ab")

    def write(self, event: MutableMapping[str, Any]) -> None:
        self._stream.write(orjson.dumps(event, default=str) + b"\n")
        self._stream.flush()

    def close(self) -> None:
        self._stream.close()


class TeeToFile:
    """Write every event to the log file; pass on to the console only those at its level."""

    def __init__(self, sink: LogFile, console_level: int) -> None:
        self.sink = sink
        self.console_level = console_level

    def __call__(self, logger: Any, method: str, event: MutableMapping[str, Any]) -> Any:
        self.sink.write(event)
        if _LEVEL_NUMBERS.get(str(event.get("level", "")), logging.INFO) < self.console_level:
            raise structlog.DropEvent
        return event


class _Route:
    """Where console lines go instead of stderr, while a live display owns the terminal."""

    write: Callable[[str], object] | None = None
    log_file: LogFile | None = None


@contextlib.contextmanager
def logs_through(write: Callable[[str], object]) -> Iterator[None]:
    """Hand each console log line (newline included) to ``write`` while this is open.

    A progress bar redraws its line in place; a line written to stderr meanwhile lands in the
    middle of it (``…ETA 0:02:512026-12-01T21:42:1…``). Its console prints the line above
    the bar instead.
    """
    previous, _Route.write = _Route.write, write
    try:
        yield
    finally:
        _Route.write = previous


def configure_logging(
    *,
    json: bool | None = None,
    level: int = logging.INFO,
    secrets: tuple[str, ...] = (),
    stream: TextIO | None = None,
    log_file: Path | None = None,
) -> None:
    """Configure structlog once per process.

    ``json=None`` picks JSON when the stream is not a terminal (cron, pipes, CI).
    ``log_file`` also gets every event, DEBUG included, as JSON lines; raises ``OSError``
    when it cannot be opened.
    """
    if _Route.log_file is not None:  # configured again (tests): the earlier file is done
        _Route.log_file.close()
        _Route.log_file = None
    sink = LogFile(log_file) if log_file is not None else None
    _Route.log_file = sink
    stream = stream or sys.stderr
    interactive = stream.isatty()
    if json is None:
        json = not interactive
    # Exceptions become data (JSON) or text (console) first, so the masks reach them too.
    exceptions: Any = (structlog.processors.dict_tracebacks if json
                       else structlog.processors.format_exc_info)
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        exceptions,
        MaskFiscalCodes(),
        RedactSecrets(secrets),
    ]
    if sink is not None:
        shared.append(TeeToFile(sink, level))
    if json and hasattr(stream, "buffer"):
        processors = [*shared, structlog.processors.JSONRenderer(serializer=_orjson_dumps)]
        factory: Any = structlog.BytesLoggerFactory(stream.buffer)
    elif json:  # a text-only stream (tests, StringIO)
        processors = [*shared, structlog.processors.JSONRenderer(serializer=_orjson_text)]
        factory = structlog.WriteLoggerFactory(stream)
    else:
        colours = interactive and not os.environ.get("NO_COLOR")
        processors = [*shared, structlog.dev.ConsoleRenderer(colors=colours)]
        factory = structlog.WriteLoggerFactory(stream)
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(
            min(level, logging.DEBUG) if sink is not None else level),
        logger_factory=factory,
        cache_logger_on_first_use=False,
    )
    # httpx logs every request (with its URL, which may hold a fiscal code) at INFO.
    for noisy in ("httpx", "httpcore", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


class CurrentStderr:
    """Whatever ``sys.stderr`` is at the moment of writing (a test runner swaps it)."""

    def write(self, text: str) -> int:
        if _Route.write is not None:  # a progress bar is live: it prints the line above itself
            _Route.write(text)
            return len(text)
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()

    def isatty(self) -> bool:
        return sys.stderr.isatty()


def _scrubbed_excepthook(
    kind: type[BaseException], value: BaseException, tb: TracebackType | None
) -> None:
    """Print an uncaught exception's traceback masked and redacted, as logs are."""
    text = "".join(traceback.format_exception(kind, value, tb))
    sys.stderr.write(scrub_text(text))
    sys.stderr.flush()


def install_excepthook() -> None:
    """An internal error (exit 1) prints its traceback without the key or a fiscal code.

    A traceback quotes exception messages verbatim, and those of lower libraries (httpx's
    ``Illegal header value b'…'``) may hold the key in a form no processor saw.
    """
    sys.excepthook = _scrubbed_excepthook


LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
          "error": logging.ERROR}
"""``--log-level`` and ``DISPATCHER_LOG_LEVEL`` values."""


def command_log_level(name: str | None, *, quiet: bool, interactive: bool) -> int:
    """The level a command logs at: ``--quiet`` (errors only), the name, else the default.

    The default is warnings on a terminal (the progress bar and the summary say the rest) and
    INFO off one: the start, a progress line every few seconds, warnings and the end, never
    a line per row (``debug`` adds those).
    """
    if quiet:
        return logging.ERROR
    chosen = name or os.environ.get("DISPATCHER_LOG_LEVEL")
    if chosen:
        try:
            return LEVELS[chosen.strip().lower()]
        except KeyError:
            raise ValueError(f"log level {chosen!r} is not one of "
                             f"{', '.join(LEVELS)}") from None
    return logging.WARNING if interactive else logging.INFO


def configure_for_command(level: int | None = None, log_file: Path | None = None) -> None:
    """The one set-up every command gets: JSON off a terminal, the console on one.

    ``log_file`` (``--log-file``) also gets every event as JSON lines. Uncaught exceptions
    are printed scrubbed (:func:`install_excepthook`).
    """
    interactive = sys.stderr.isatty()
    if level is None:
        level = command_log_level(None, quiet=False, interactive=interactive)
    configure_logging(json=not interactive, stream=CurrentStderr(),  # type: ignore[arg-type]
                      level=level, log_file=log_file)
    install_excepthook()
