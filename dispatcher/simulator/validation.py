"""Request decoding with IO's runtime rules, which are not quite the spec's.

IO decodes bodies with io-ts codecs (FACTS.md §3): length limits are inclusive and counted in
UTF-16 code units (an emoji costs 2), integers are JS numbers (``3600.0`` is an integer),
booleans are real booleans, and unknown fields are dropped without complaint (``exact``). The
decoder returns a normalised copy with the codec defaults filled in (``time_to_live`` 3600,
``feature_level_type`` STANDARD, ...) or the list of failures in io-ts' reporter style,
``value [x] at [root.content.subject] is not a valid [...]``, which becomes the 400 ``detail``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson

from dispatcher.simulator.clock import iso_millis

FISCAL_CODE_PATTERN = (
    "^[A-Z]{6}[0-9LMNPQRSTUV]{2}[ABCDEHLMPRST][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z]$"
)
FISCAL_CODE = re.compile(FISCAL_CODE_PATTERN)
FISCAL_CODE_TYPE = f'string that matches the pattern "{FISCAL_CODE_PATTERN}"'
"""io-ts' name for the FiscalCode codec, hence the 400 title ``Invalid <name>``."""

ORGANIZATION_FISCAL_CODE = re.compile(r"^[0-9]{11}$")
NOTICE_NUMBER = re.compile(r"^[0123][0-9]{17}$")
_NOTICE_NUMBER_TYPE = f'string that matches the pattern "{NOTICE_NUMBER.pattern}"'
ULID = re.compile(r"^[0-9a-hjkmnp-tv-zA-HJKMNP-TV-Z]{26}$")
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

FEATURE_LEVELS = ("STANDARD", "ADVANCED")
PRECONDITIONS = ("ALWAYS", "ONCE", "NEVER")
TTL_MIN, TTL_MAX, TTL_DEFAULT = 3600, 604800, 3600
AMOUNT_MIN, AMOUNT_MAX = 1, 9_999_999_999

_MISSING: Any = object()


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A decoded ``NewMessage``: only known fields, defaults applied."""

    fiscal_code: str | None
    time_to_live: int
    feature_level_type: str
    content: dict[str, Any]

    @property
    def payment_data(self) -> dict[str, Any] | None:
        return self.content.get("payment_data")

    @property
    def third_party_data(self) -> dict[str, Any] | None:
        return self.content.get("third_party_data")


def utf16_length(text: str) -> int:
    """``String.prototype.length`` in JavaScript: characters beyond the BMP count twice."""
    return len(text) if text.isascii() else len(text.encode("utf-16-le", "surrogatepass")) // 2


def parse_json(body: bytes) -> Any:
    """The body as JSON, or the raw text when it is not JSON (reported as an invalid value)."""
    if not body:
        return _MISSING
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError:
        return body[:200].decode("utf-8", "replace")


def decode_fiscal_code_payload(raw: Any) -> tuple[str | None, list[str]]:
    """``FiscalCodePayload`` = ``{"fiscal_code": FiscalCode}``."""
    report = _Report()
    if not isinstance(raw, dict):
        report.fail("", raw, "FiscalCodePayload")
        return None, report.errors
    code = report.pattern(raw.get("fiscal_code", _MISSING), "fiscal_code", FISCAL_CODE,
                          FISCAL_CODE_TYPE)
    return code, report.errors


def decode_new_message(raw: Any) -> tuple[NewMessage | None, list[str]]:
    report = _Report()
    if not isinstance(raw, dict):
        report.fail("", raw, "NewMessage")
        return None, report.errors
    code = raw.get("fiscal_code", _MISSING)
    if code is not _MISSING:
        code = report.pattern(code, "fiscal_code", FISCAL_CODE, FISCAL_CODE_TYPE)
    ttl = _or_default(raw, "time_to_live", TTL_DEFAULT)
    ttl = report.integer(ttl, "time_to_live", TTL_MIN, TTL_MAX)
    level = _or_default(raw, "feature_level_type", "STANDARD")
    level = report.enum(level, "feature_level_type", FEATURE_LEVELS, "FeatureLevelType")
    content = _content(report, raw.get("content", _MISSING), "content")
    addresses = raw.get("default_addresses", _MISSING)
    if addresses is not _MISSING:  # accepted by the codec, then ignored by IO
        if not isinstance(addresses, dict):
            report.fail("default_addresses", addresses, "NewMessageDefaultAddresses")
        elif "email" in addresses:
            report.pattern(addresses["email"], "default_addresses.email", _EMAIL, "EmailString")
    if report.errors or content is None:
        return None, report.errors
    return NewMessage(None if code is _MISSING else code, ttl, level, content), []


def _or_default(raw: dict[str, Any], name: str, default: Any) -> Any:
    """io-ts ``withDefault``: a missing or null field takes the default."""
    value = raw.get(name)
    return default if value is None else value


def _content(report: _Report, raw: Any, path: str) -> dict[str, Any] | None:
    if not isinstance(raw, dict):
        report.fail(path, raw, "MessageContent")
        return None
    out: dict[str, Any] = {
        "subject": report.text(raw.get("subject", _MISSING), f"{path}.subject", 10, 120),
        "markdown": report.text(raw.get("markdown", _MISSING), f"{path}.markdown", 80, 10000),
    }
    optional = {
        "require_secure_channels": report.boolean,
        "due_date": report.timestamp,
        "payment_data": lambda v, p: _payment_data(report, v, p),
        "third_party_data": lambda v, p: _third_party_data(report, v, p),
        "eu_covid_cert": lambda v, p: _eu_covid_cert(report, v, p),
    }
    for name, decode in optional.items():
        if name in raw:
            out[name] = decode(raw[name], f"{path}.{name}")
    return out


def _payment_data(report: _Report, raw: Any, path: str) -> dict[str, Any] | None:
    if not isinstance(raw, dict):
        report.fail(path, raw, "PaymentData")
        return None
    out: dict[str, Any] = {
        "amount": report.integer(raw.get("amount", _MISSING), f"{path}.amount",
                                 AMOUNT_MIN, AMOUNT_MAX),
        "notice_number": report.pattern(raw.get("notice_number", _MISSING),
                                        f"{path}.notice_number", NOTICE_NUMBER,
                                        _NOTICE_NUMBER_TYPE),
        "invalid_after_due_date": report.boolean(_or_default(raw, "invalid_after_due_date", False),
                                                 f"{path}.invalid_after_due_date"),
    }
    if "payee" in raw:
        payee = raw["payee"]
        if not isinstance(payee, dict):
            report.fail(f"{path}.payee", payee, "Payee")
        else:
            code = report.pattern(payee.get("fiscal_code", _MISSING), f"{path}.payee.fiscal_code",
                                  ORGANIZATION_FISCAL_CODE, "OrganizationFiscalCode")
            out["payee"] = {"fiscal_code": code}
    return out


def _third_party_data(report: _Report, raw: Any, path: str) -> dict[str, Any] | None:
    if not isinstance(raw, dict):
        report.fail(path, raw, "ThirdPartyData")
        return None
    out: dict[str, Any] = {
        "id": report.text(raw.get("id", _MISSING), f"{path}.id", 1, None),
        "has_attachments": report.boolean(_or_default(raw, "has_attachments", False),
                                          f"{path}.has_attachments"),
        "has_remote_content": report.boolean(_or_default(raw, "has_remote_content", False),
                                             f"{path}.has_remote_content"),
    }
    if "original_sender" in raw:
        out["original_sender"] = report.text(raw["original_sender"], f"{path}.original_sender",
                                             1, None)
    if "original_receipt_date" in raw:
        out["original_receipt_date"] = report.timestamp(raw["original_receipt_date"],
                                                        f"{path}.original_receipt_date")
    if "has_precondition" in raw:
        out["has_precondition"] = report.enum(raw["has_precondition"],
                                              f"{path}.has_precondition", PRECONDITIONS,
                                              "HasPrecondition")
    if "summary" in raw:
        out["summary"] = report.text(raw["summary"], f"{path}.summary", 1, None)
    if "configuration_id" in raw:
        out["configuration_id"] = report.pattern(raw["configuration_id"],
                                                 f"{path}.configuration_id", ULID, "Ulid")
    return out


def _eu_covid_cert(report: _Report, raw: Any, path: str) -> dict[str, Any] | None:
    if not isinstance(raw, dict) or not isinstance(raw.get("auth_code"), str):
        report.fail(path, raw, "EUCovidCert")
        return None
    return {"auth_code": raw["auth_code"]}


class _Report:
    """Collects failures; each check returns the (normalised) value, or None if it failed."""

    __slots__ = ("errors",)

    def __init__(self) -> None:
        self.errors: list[str] = []

    def fail(self, path: str, value: Any, expected: str) -> None:
        shown = "undefined" if value is _MISSING else orjson.dumps(value).decode()
        if len(shown) > 200:
            shown = shown[:200] + "…"
        where = f"root.{path}" if path else "root"
        self.errors.append(f"value [{shown}] at [{where}] is not a valid [{expected}]")

    def text(self, value: Any, path: str, low: int, high: int | None) -> str | None:
        if isinstance(value, str):
            n = utf16_length(value)
            if n >= low and (high is None or n <= high):
                return value
        expected = ("non empty string" if (low, high) == (1, None)
                    else f"string of {low} to {high} characters (UTF-16 code units)")
        self.fail(path, value, expected)
        return None

    def pattern(self, value: Any, path: str, regex: re.Pattern[str], name: str) -> str | None:
        if isinstance(value, str) and regex.fullmatch(value):
            return value
        self.fail(path, value, name)
        return None

    def integer(self, value: Any, path: str, low: int, high: int) -> int | None:
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # JSON numbers are JS numbers: 3600.0 is the integer 3600
        if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high:
            return value
        self.fail(path, value, f"integer >= {low} and < {high} | {high}")
        return None

    def boolean(self, value: Any, path: str) -> bool | None:
        if isinstance(value, bool):
            return value
        self.fail(path, value, "boolean")
        return None

    def enum(self, value: Any, path: str, allowed: tuple[str, ...], name: str) -> str | None:
        if isinstance(value, str) and value in allowed:
            return value
        self.fail(path, value, f"{name} ({' | '.join(allowed)})")
        return None

    def timestamp(self, value: Any, path: str) -> str | None:
        """ISO-8601 date-time, normalised to ``toISOString()`` form (UTC, milliseconds, Z)."""
        if isinstance(value, str) and _TIMESTAMP.fullmatch(value):
            try:
                moment = datetime.fromisoformat(value)
            except ValueError:
                pass
            else:
                if moment.tzinfo is None:  # IO parses zone-less times in server time: UTC
                    moment = moment.replace(tzinfo=UTC)
                return iso_millis(moment)
        self.fail(path, value, "UTCISODateFromString (e.g. 2018-10-13T00:00:00.000Z)")
        return None
