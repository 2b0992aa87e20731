"""Masking of personal data and secrets before anything reaches a log or the screen.

Fiscal codes are personal data: logs show ``RSSMRA*******01U`` (first six letters, the
last three characters), enough for an operator to recognise a row, not to identify a person.
"""

from __future__ import annotations

import re

# Same shape IO accepts (omocodia letters allowed), matched anywhere in free text.
FISCAL_CODE_IN_TEXT = re.compile(
    r"(?<![A-Z0-9])([A-Z]{6})[0-9LMNPQRSTUV]{2}[ABCDEHLMPRST][0-9LMNPQRSTUV]{2}[A-Z]"
    r"[0-9LMNPQRSTUV]([0-9LMNPQRSTUV]{2}[A-Z])(?![A-Z0-9])",
    re.IGNORECASE,
)


def mask_fiscal_code(fiscal_code: str) -> str:
    """Mask one fiscal code, keeping the first six and the last three characters."""
    code = fiscal_code.strip()
    if len(code) <= 9:
        return "*" * len(code)
    return code[:6] + "*" * (len(code) - 9) + code[-3:]


def mask_fiscal_codes_in(text: str) -> str:
    """Mask every fiscal code found inside free text (URLs, error details, messages)."""
    return FISCAL_CODE_IN_TEXT.sub(lambda m: m.group(1) + "*******" + m.group(2), text)


def redact(text: str, secrets: tuple[str, ...]) -> str:
    """Replace each secret (the API key) with a fixed marker."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[REDACTED]")
    return text


_SECRETS: set[str] = set()


def register_secret(secret: str) -> None:
    """Never show ``secret`` (the API key): every log line and message is redacted of it.

    Settings register the key as soon as they read it, so no command can forget to.
    """
    if secret:
        _SECRETS.add(secret)


def registered_secrets() -> tuple[str, ...]:
    return tuple(_SECRETS)
