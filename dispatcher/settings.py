"""One frozen Settings object per command, from the environment, an optional TOML file and flags.

The API key comes from ``IO_API_KEY`` or from the file named by ``IO_API_KEY_FILE``, never
from the command line, and its ``repr`` never shows it. It is checked as it is read: a key
that IO cannot take (two lines, a non-ASCII letter, a space inside) would otherwise fail on
every request, or worse end up in error texts, so it is a :class:`ConfigError` (exit 4) whose
message says what is wrong and where, never what the key holds.
"""

from __future__ import annotations

import os
import re
import tomllib
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dispatcher.privacy import register_secret
from dispatcher.schedule import SendWindow

PRODUCTION_BASE_URL = "https://api.io.pagopa.it/api/v1"

# 120 of IO's 150 requests per 5 s: the rest is left to the ente's other services and jobs,
# which share the same gateway budget (FACTS.md §6).
DEFAULT_RATE = "120/5s"


class ConfigError(Exception):
    """A setting is missing or malformed; the message says which and how to fix it."""


class Secret:
    """A string that never prints itself, and that the logs redact wherever it appears.

    A non-empty value must be a key IO can take (:func:`check_api_key_characters`);
    ``source`` names where it came from, for messages (``IO_API_KEY``, the key file).
    """

    __slots__ = ("_value", "source")

    def __init__(self, value: str, *, source: str = "the API key") -> None:
        register_secret(value)  # first: even a refused value is never to be shown
        if value:
            check_api_key_characters(value, source)
        self._value = value
        self.source = source

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
    journal: Path | None = None  # the service's send journal; default: the state directory
    content_store: Path | None = None  # the service's remote-content store; default: beside it
    send_window: SendWindow | None = None  # new requests only in these hours (Europe/Rome)
    # The service's MANAGE key (remote-content configurations): IO_MANAGE_KEY(_FILE) only.
    manage_key: Secret = field(default_factory=lambda: Secret("", source="IO_MANAGE_KEY"))

    def require_api_key(self) -> str:
        if not self.api_key:
            raise ConfigError(
                "no API key: set IO_API_KEY, or IO_API_KEY_FILE to a file holding the key"
            )
        return self.api_key.reveal()

    def require_manage_key(self) -> str:
        if not self.manage_key:
            raise ConfigError(
                "no manage key: set IO_MANAGE_KEY, or IO_MANAGE_KEY_FILE to a file holding the "
                "service's MANAGE key (remote-content configurations need it)"
            )
        return self.manage_key.reveal()


_KEY_ADVICE = (
    "IO keys are printable ASCII (letters and digits) with no spaces: copy the primary key "
    "again from the IO back office (the key itself is not shown)"
)
_KEY_FILE_MAX_BYTES = 4096  # a key is 32 characters; anything this big is another file


def _character_kind(char: str) -> str:
    """What a refused character is, in words that never show the character itself."""
    if char == " ":
        return "a space"
    if char == "\t":
        return "a tab"
    if ord(char) < 0x20 or ord(char) == 0x7F:
        return "a control character"
    category = unicodedata.category(char)
    if category == "Zs":
        return "a Unicode space (such as a non-breaking space)"
    if category == "Cf":
        return "an invisible formatting character (such as a zero-width space)"
    if category.startswith("C") or category in ("Zl", "Zp"):
        return "a control character"
    return "a non-ASCII character (such as an accented letter or a typographic quote)"


def check_api_key_characters(key: str, source: str = "the API key") -> None:
    """Refuse a key IO cannot take: anything but printable ASCII without whitespace.

    HTTP header values must be ASCII (httpx raises ``UnicodeEncodeError`` otherwise) and a
    line break would split the header. The message gives the kind of the first bad character
    and its position (1-based), and how many there are; never a character of the key.
    """
    bad = [(i, c) for i, c in enumerate(key, start=1) if not "!" <= c <= "~"]
    if not bad:
        return
    position, char = bad[0]
    others = f" ({len(bad)} such characters in all)" if len(bad) > 1 else ""
    raise ConfigError(
        f"{source}: the API key has {_character_kind(char)} at position {position} of "
        f"{len(key)}{others}. {_KEY_ADVICE}"
    )


def check_api_key(text: str, source: str) -> Secret:
    """The key as read from ``source``: surrounding whitespace removed, then checked.

    A trailing newline (how editors end a file) is fine. Several non-empty lines are not:
    IO takes one key per request, and the primary and secondary key saved together would be
    sent as one broken header. The message counts the lines and never shows them.
    """
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) > 1:
        for line in lines:
            register_secret(line.strip())
        raise ConfigError(
            f"{source} holds {len(lines)} non-empty lines; IO takes one key: keep the primary "
            "key alone in it, on one line (the secondary key is a spare for when you rotate "
            "the primary; the lines are not shown)"
        )
    return Secret(text.strip(), source=source)


def read_api_key(environ: dict[str, str] | os._Environ[str] | None = None, *,
                 variable: str = "IO_API_KEY") -> Secret:
    """Read and check the key from ``IO_API_KEY`` or the file named by ``IO_API_KEY_FILE``.

    ``variable`` names another key read the same way (``IO_CONTENT_KEY`` and
    ``IO_CONTENT_KEY_FILE``: the key IO sends to the content server).

    Raises :class:`ConfigError` for a file that cannot be read or is not text, and for a key
    IO cannot take (:func:`check_api_key`).
    """
    env = os.environ if environ is None else environ
    if env.get(variable):
        return check_api_key(env[variable], variable)
    key_file = env.get(f"{variable}_FILE")
    if key_file:
        path = Path(key_file)
        source = f"{variable}_FILE {path}"
        try:
            with path.open("rb") as stream:
                data = stream.read(_KEY_FILE_MAX_BYTES + 1)
        except OSError as exc:
            raise ConfigError(f"cannot read {source}: {exc.strerror}") from None
        if len(data) > _KEY_FILE_MAX_BYTES:
            raise ConfigError(f"{source} is larger than {_KEY_FILE_MAX_BYTES} bytes: it is not "
                              "a key file. Put the service's primary key alone in it")
        try:
            text = data.decode("utf-8-sig")  # a byte-order mark (Windows Notepad) is no part
        except UnicodeDecodeError as exc:
            raise ConfigError(
                f"{source}: byte {exc.start + 1} of the file is not UTF-8 text, so the key "
                f"cannot be ASCII. {_KEY_ADVICE}"
            ) from None
        return check_api_key(text, source)
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
        if "manage_key" in data:
            raise ConfigError(f"{config_file}: do not put the manage key in the config file; "
                              "use IO_MANAGE_KEY_FILE")
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
    for name in ("journal", "content_store"):
        if values.get(name) is not None:
            values[name] = Path(str(values[name])).expanduser()
    if "base_url" in values:
        values["base_url"] = str(values["base_url"]).strip().rstrip("/")
    if isinstance(values.get("send_window"), str):
        try:
            values["send_window"] = SendWindow.parse(values["send_window"])
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
    known = set(Settings.__dataclass_fields__) - {"api_key", "manage_key"}
    unknown = set(values) - known
    if unknown:
        raise ConfigError(f"unknown setting(s): {', '.join(sorted(unknown))}")
    return Settings(api_key=read_api_key(env),
                    manage_key=read_api_key(env, variable="IO_MANAGE_KEY"), **values)
