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
"""

from __future__ import annotations

import logging
import os
import sys
import traceback
from collections.abc import Callable, MutableMapping
from types import TracebackType
from typing import Any, TextIO

import orjson
import structlog

from dispatcher.privacy import mask_fiscal_codes_in, redact, registered_secrets


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


def configure_logging(
    *,
    json: bool | None = None,
    level: int = logging.INFO,
    secrets: tuple[str, ...] = (),
    stream: TextIO | None = None,
) -> None:
    """Configure structlog once per process.

    ``json=None`` picks JSON when the stream is not a terminal (cron, pipes, CI).
    """
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
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=factory,
        cache_logger_on_first_use=False,
    )
    # httpx logs every request (with its URL, which may hold a fiscal code) at INFO.
    for noisy in ("httpx", "httpcore", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


class CurrentStderr:
    """Whatever ``sys.stderr`` is at the moment of writing (a test runner swaps it)."""

    def write(self, text: str) -> int:
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


def configure_for_command(level: int | None = None) -> None:
    """The one set-up every command gets: JSON off a terminal, the console on one.

    Uncaught exceptions are printed scrubbed (:func:`install_excepthook`).
    """
    interactive = sys.stderr.isatty()
    if level is None:
        level = command_log_level(None, quiet=False, interactive=interactive)
    configure_logging(json=not interactive, stream=CurrentStderr(),  # type: ignore[arg-type]
                      level=level)
    install_excepthook()
