"""Structured logging: JSON lines for cron and log collectors, a readable console on a terminal.

Every event passes through two processors before it is rendered: one masks fiscal codes,
one removes the API key (every key the settings read, :func:`~dispatcher.privacy.register_secret`).
Core modules log through ``structlog.get_logger()``; the CLI calls :func:`configure_logging`
once, for every command, before the command runs: JSON lines when stderr is not a terminal
(cron, pipes, log collectors), a readable console when it is, without colour under
``NO_COLOR`` or in a file.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import orjson
import structlog

from dispatcher.privacy import mask_fiscal_codes_in, redact, registered_secrets


class MaskFiscalCodes:
    """Mask every fiscal code in every string value of the event."""

    def __call__(self, logger: Any, method: str, event: MutableMapping[str, Any]) -> Any:
        for key, value in list(event.items()):
            if isinstance(value, str):
                event[key] = mask_fiscal_codes_in(value)
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
            if isinstance(value, str):
                event[key] = redact(value, secrets)
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
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        MaskFiscalCodes(),
        RedactSecrets(secrets),
    ]
    if json and hasattr(stream, "buffer"):
        processors = [
            *shared,
            structlog.processors.dict_tracebacks,
            structlog.processors.JSONRenderer(serializer=_orjson_dumps),
        ]
        factory: Any = structlog.BytesLoggerFactory(stream.buffer)
    elif json:  # a text-only stream (tests, StringIO)
        processors = [
            *shared,
            structlog.processors.dict_tracebacks,
            structlog.processors.JSONRenderer(serializer=_orjson_text),
        ]
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


def configure_for_command() -> None:
    """The one set-up every command gets: JSON off a terminal, the console on one.

    On a terminal only warnings and errors are logged (the progress bar and the summary say
    the rest); off a terminal, the INFO events too, for the log collector.
    """
    interactive = sys.stderr.isatty()
    configure_logging(json=not interactive, stream=CurrentStderr(),  # type: ignore[arg-type]
                      level=logging.WARNING if interactive else logging.INFO)
