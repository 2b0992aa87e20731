"""Structured logging: JSON lines for cron and log collectors, a readable console on a terminal.

Every event passes through two processors before it is rendered: one masks fiscal codes,
one removes the API key. Core modules log through ``structlog.get_logger()``; only the CLI
calls :func:`configure_logging`.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any, TextIO

import orjson
import structlog

from dispatcher.privacy import mask_fiscal_codes_in, redact


class MaskFiscalCodes:
    """Mask every fiscal code in every string value of the event."""

    def __call__(self, logger: Any, method: str, event: MutableMapping[str, Any]) -> Any:
        for key, value in list(event.items()):
            if isinstance(value, str):
                event[key] = mask_fiscal_codes_in(value)
        return event


class RedactSecrets:
    """Remove configured secrets (the API key) from every string value of the event."""

    def __init__(self, secrets: tuple[str, ...]) -> None:
        self.secrets = tuple(s for s in secrets if s)

    def __call__(self, logger: Any, method: str, event: MutableMapping[str, Any]) -> Any:
        if not self.secrets:
            return event
        for key, value in list(event.items()):
            if isinstance(value, str):
                event[key] = redact(value, self.secrets)
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
    if json is None:
        json = not stream.isatty()
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
        processors = [*shared, structlog.dev.ConsoleRenderer()]
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
