"""Who may read the content store over HTTP: IO's backend, holding the configuration's key.

The remote-content configuration tells IO a header name (``details_authentication.
header_key_name``) and a key; IO sends that header with every call. The server reads the key
from ``IO_CONTENT_KEY`` or the file named by ``IO_CONTENT_KEY_FILE`` (never argv), checked
like the IO key (:func:`dispatcher.settings.read_api_key`, so it is redacted everywhere), and
compares in constant time: the answer time must not tell an attacker how much of a guess
was right.
"""

from __future__ import annotations

import hmac
import os
import re
from collections.abc import Mapping

from dispatcher.settings import ConfigError, Secret, read_api_key

__all__ = ["DEFAULT_HEADER_KEY_NAME", "KEY_VARIABLE", "KeyCheck", "check_header_name",
           "read_content_key"]

KEY_VARIABLE = "IO_CONTENT_KEY"
DEFAULT_HEADER_KEY_NAME = "X-Functions-Key"
"""Nothing in IO's specs fixes the name; this is the Azure Functions convention IO's own
services use. Whatever it is, it must be the configuration's ``header_key_name``."""

_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")  # RFC 9110 field-name


def read_content_key(environ: Mapping[str, str] | None = None) -> Secret:
    """The key IO must present, from ``IO_CONTENT_KEY`` / ``IO_CONTENT_KEY_FILE``.

    Raises :class:`ConfigError` when neither is set: a content server without a key would
    serve every citizen's content to anyone who guesses an id and a fiscal code.
    """
    env = dict(os.environ if environ is None else environ)
    key = read_api_key(env, variable=KEY_VARIABLE)
    if not key:
        raise ConfigError(
            f"no content key: set {KEY_VARIABLE}, or {KEY_VARIABLE}_FILE to a file holding "
            "it (the key of the remote-content configuration's details_authentication)")
    return key


def check_header_name(name: str) -> str:
    """``name`` as a valid HTTP header name, lower-cased (headers are case-insensitive)."""
    cleaned = name.strip()
    if not _TOKEN.fullmatch(cleaned):
        raise ConfigError(f"header name {name!r} is not a valid HTTP header name")
    if cleaned.lower() == "fiscal_code" or cleaned.lower().startswith("x-pagopa-lollipop-"):
        raise ConfigError(f"header name {name!r} is one IO already uses for something else")
    return cleaned.lower()


class KeyCheck:
    """The key header's verdict on one request: 401 missing, 403 wrong, None accepted.

    It judges the raw header bytes as the ASGI server hands them over (``raw_header`` is the
    lower-cased name to look for): no decoding per request, and a non-ASCII value is simply
    wrong.
    """

    __slots__ = ("_key", "header", "raw_header")

    def __init__(self, header: str, key: Secret) -> None:
        if not key:
            raise ConfigError("the content server needs a key")
        self.header = check_header_name(header)
        self.raw_header = self.header.encode("ascii")
        self._key = key.reveal().encode("ascii")

    def refusal(self, presented: bytes | None) -> int | None:
        if not presented:
            return 401
        if not presented.isascii():
            return 403
        return None if hmac.compare_digest(presented, self._key) else 403
