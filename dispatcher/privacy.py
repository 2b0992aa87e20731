"""Masking of personal data and secrets before anything reaches a log or the screen.

Fiscal codes are personal data: logs show ``RSSMRA*******01U`` (first six letters, the
last three characters), enough for an operator to recognise a row, not to identify a person.
"""

from __future__ import annotations

import functools
import html
import json
import re
from urllib.parse import SplitResult, quote, quote_plus, urlsplit

# Same shape IO accepts (omocodia letters allowed), matched anywhere in free text, even glued
# to what comes before it: SPID writes ``TINIT-RSSMRA…``, a cell may read ``ITRSSMRA…``.
FISCAL_CODE_IN_TEXT = re.compile(
    r"([A-Z]{6})[0-9LMNPQRSTUV]{2}[ABCDEHLMPRST][0-9LMNPQRSTUV]{2}[A-Z]"
    r"[0-9LMNPQRSTUV]([0-9LMNPQRSTUV]{2}[A-Z])(?![A-Z0-9])",
    re.IGNORECASE,
)


def mask_fiscal_code(fiscal_code: str) -> str:
    """Mask one fiscal code, keeping the first six and the last three characters."""
    code = fiscal_code.strip()
    if len(code) <= 9:
        return "*" * len(code)
    return code[:6] + "*" * (len(code) - 9) + code[-3:]


_CODE_LIKE = re.compile(r"[A-Z0-9]{10,17}", re.IGNORECASE)


def looks_like_fiscal_code(value: str) -> bool:
    """A 16-character code (omocodia too), an 11-digit one, or a near miss of either.

    A near miss is 10 to 17 letters and digits, at least five of them digits (a person's code
    has seven): a code with a typo is still personal. ``TOTALE``, ``SOMMA TOTALE 2027``,
    ``N/A`` or an empty cell are not, and are shown so the user can find the row.
    """
    compact = "".join(value.split())
    if FISCAL_CODE_IN_TEXT.fullmatch(compact):
        return True
    return bool(_CODE_LIKE.fullmatch(compact)) and sum(ch.isdigit() for ch in compact) >= 5


def mask_if_fiscal_code(value: str) -> str:
    """``value`` masked when it :func:`looks like a fiscal code <looks_like_fiscal_code>`."""
    return mask_fiscal_code(value) if looks_like_fiscal_code(value) else value


IO_TEST_CITIZEN = "AAAAAA00A00A000A"
"""IO's public test citizen: nobody's personal data, and advice must be able to name it."""


def mask_fiscal_codes_in(text: str) -> str:
    """Mask every fiscal code found inside free text (URLs, error details, messages); IO's
    public test citizen stays readable."""
    return FISCAL_CODE_IN_TEXT.sub(
        lambda m: m.group(0) if m.group(0).upper() == IO_TEST_CITIZEN
        else m.group(1) + "*******" + m.group(2), text)


REDACTED = "[REDACTED]"


def _backslashed(raw: bytes) -> str:
    """``raw`` as Python's ``repr`` escapes it, quotes aside: ``\\\\``, ``\\n``, ``\\xe9``."""
    named = {0x5C: "\\\\", 0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r"}
    return "".join(
        named.get(b, chr(b) if 0x20 <= b < 0x7F else f"\\x{b:02x}") for b in raw
    )


def _quoted_variants(text: str) -> set[str]:
    """``text`` inside a ``repr`` that escapes neither quote, the single or the double one."""
    return {text, text.replace("'", "\\'"), text.replace('"', '\\"')}


def _escapings(text: str) -> set[str]:
    """``text`` as each printer we meet writes it: ``repr`` of str and of bytes, URL, JSON,
    HTML (the standard library's and Jinja's), CSV."""
    return {
        text,
        *_quoted_variants(text.encode("unicode_escape").decode("ascii")),
        *_quoted_variants(repr(text)[1:-1]),
        *_quoted_variants(_backslashed(text.encode("utf-8", "surrogatepass"))),
        quote(text, safe=""),
        quote(text),
        quote_plus(text),
        json.dumps(text)[1:-1],
        json.dumps(text, ensure_ascii=False)[1:-1],
        html.escape(text),
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        .replace("'", "&#39;").replace('"', "&#34;"),
        text.replace('"', '""'),
    }


@functools.lru_cache(maxsize=64)
def printed_forms(secret: str) -> tuple[str, ...]:
    """Every way ``secret`` may appear in text we write, longest first.

    An error text rarely holds the key as it is: httpx shows a refused header as a bytes
    ``repr`` (``Illegal header value b'…\\n…'``), a ``repr`` escapes quotes and backslashes,
    a URL percent-encodes (``quote``, ``quote_plus``), JSON and HTML escape their own
    characters, CSV doubles quotes; and one printer's output is often another's input (the
    ``repr`` of an exception whose message holds a bytes ``repr``; a JSON log line of one), so
    two levels are covered. Longest first, so a longer form is replaced whole before a
    shorter one could cut it.
    """
    if not secret:
        return ()
    forms = {twice for once in _escapings(secret) for twice in _escapings(once)}
    return tuple(sorted((form for form in forms if form), key=len, reverse=True))


def redact(text: str, secrets: tuple[str, ...]) -> str:
    """Replace each secret (the API key), in each of its :func:`printed_forms`, with a marker."""
    for secret in secrets:
        for form in printed_forms(secret):
            if form in text:
                text = text.replace(form, REDACTED)
    return text


_SECRETS: set[str] = set()


def register_secret(secret: str) -> None:
    """Never show ``secret`` (the API key): every log line and message is redacted of it.

    Settings register the key as soon as they read it, so no command can forget to; its
    printed forms are worked out here, once.
    """
    if secret:
        _SECRETS.add(secret)
        printed_forms(secret)


def registered_secrets() -> tuple[str, ...]:
    return tuple(_SECRETS)


def without_secrets(text: str | None) -> str | None:
    """``text`` with every registered secret removed: the last gate before a database."""
    return None if text is None else redact(text, registered_secrets())


def shown_url(url: str) -> str:
    """``url`` fit to print: without user info, query and fragment (they may hold secrets)."""
    try:
        parts = urlsplit(url.strip())
        host = parts.netloc.rsplit("@", 1)[-1]
    except ValueError:
        return "(the URL, not shown: it does not parse)"
    return SplitResult(parts.scheme, host, parts.path, "", "").geturl()
