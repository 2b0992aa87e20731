"""One frozen Settings object per command, from the environment, an optional TOML file and flags.

The API key comes from ``IO_API_KEY`` or from the file named by ``IO_API_KEY_FILE``, never
from the command line, and its ``repr`` never shows it.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dispatcher.privacy import register_secret

PRODUCTION_BASE_URL = "https://api.io.pagopa.it/api/v1"

# 120 of IO's 150 requests per 5 s: the rest is left to the ente's other services and jobs,
# which share the same gateway budget (FACTS.md §6).
DEFAULT_RATE = "120/5s"


class ConfigError(Exception):
    """A setting is missing or malformed; the message says which and how to fix it."""


class Secret:
    """A string that never prints itself, and that the logs redact wherever it appears."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value
        register_secret(value)

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "Secret('********')" if self._value else "Secret('')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


_RATE = re.compile(
    r"^\s*(\d+(?:\.\d+)?)\s*(?:/\s*(\d+(?:\.\d+)?)?\s*(s|sec|m|min)?)?\s*$"
)


@dataclass(frozen=True)
class RateSpec:
    """A request budget such as ``150/5s``: ``requests`` per ``period`` seconds."""

    requests: float
    period: float

    @property
    def per_second(self) -> float:
        return self.requests / self.period

    @classmethod
    def parse(cls, text: str) -> RateSpec:
        """Parse ``150/5s``, ``30/s``, ``1800/1m`` or ``25`` (per second)."""
        match = _RATE.match(text)
        if not match:
            raise ConfigError(f"rate {text!r} is not like '150/5s' (requests / period)")
        requests = float(match.group(1))
        amount = float(match.group(2)) if match.group(2) else 1.0
        unit = match.group(3) or "s"
        period = amount * (60.0 if unit in ("m", "min") else 1.0)
        if requests <= 0 or period <= 0:
            raise ConfigError(f"rate {text!r} must be positive")
        return cls(requests=requests, period=period)

    def __str__(self) -> str:
        return f"{self.requests:g}/{self.period:g}s"


@dataclass(frozen=True)
class Settings:
    """Everything a command needs to talk to IO; built once, never mutated."""

    base_url: str = PRODUCTION_BASE_URL
    api_key: Secret = field(default_factory=lambda: Secret(""))
    rate: RateSpec = field(default_factory=lambda: RateSpec.parse(DEFAULT_RATE))
    concurrency: int = 16
    connect_timeout: float = 5.0
    read_timeout: float = 30.0

    def require_api_key(self) -> str:
        if not self.api_key:
            raise ConfigError(
                "no API key: set IO_API_KEY, or IO_API_KEY_FILE to a file holding the key"
            )
        return self.api_key.reveal()


def read_api_key(environ: dict[str, str] | os._Environ[str] | None = None) -> Secret:
    """Read the key from ``IO_API_KEY`` or the file named by ``IO_API_KEY_FILE``."""
    env = os.environ if environ is None else environ
    if env.get("IO_API_KEY"):
        return Secret(env["IO_API_KEY"].strip())
    key_file = env.get("IO_API_KEY_FILE")
    if key_file:
        path = Path(key_file)
        try:
            return Secret(path.read_text(encoding="utf-8").strip())
        except OSError as exc:
            raise ConfigError(f"cannot read IO_API_KEY_FILE {path}: {exc.strerror}") from None
    return Secret("")


def load_settings(
    *,
    config_file: Path | None = None,
    environ: dict[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Merge, lowest first: defaults, TOML file, environment, explicit flags (non-None)."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    if config_file is not None:
        try:
            data = tomllib.loads(config_file.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read config file {config_file}: {exc}") from None
        if "api_key" in data:
            raise ConfigError(
                f"{config_file}: do not put the API key in the config file; use IO_API_KEY_FILE"
            )
        values.update(data)
    if env.get("IO_BASE_URL"):
        values["base_url"] = env["IO_BASE_URL"]
    if env.get("IO_RATE"):
        values["rate"] = env["IO_RATE"]
    values.update({k: v for k, v in overrides.items() if v is not None})
    if isinstance(values.get("rate"), str):
        values["rate"] = RateSpec.parse(values["rate"])
    if "base_url" in values:
        values["base_url"] = str(values["base_url"]).rstrip("/")
    known = set(Settings.__dataclass_fields__) - {"api_key"}
    unknown = set(values) - known
    if unknown:
        raise ConfigError(f"unknown setting(s): {', '.join(sorted(unknown))}")
    return Settings(api_key=read_api_key(env), **values)
