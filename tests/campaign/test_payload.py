"""Rendered payloads are exactly IO's ``NewMessage``, checked against the official spec."""

from __future__ import annotations

import copy
import hashlib
import re
from typing import Any

import jsonschema
import orjson
import pytest
import yaml
from campaign_helpers import CF1, CF2, FIXTURES, MARKDOWN, NOW, SPEC_DIR, SUBJECT, row, rows_csv

from dispatcher.campaign import CampaignOptions, load_campaign
from dispatcher.vocabulary import InputVerdict

SPECS = {
    "services-func": (SPEC_DIR / "io-messages.services-func.openapi.index.yaml", "definitions"),
    "commons": (SPEC_DIR / "io-functions-commons.openapi.definitions_v2.yaml", None),
}
# Objects that must not carry unknown keys (IO would drop them silently).
CLOSED = ("NewMessage", "MessageContent", "PaymentData", "Payee", "ThirdPartyData")

FORMATS = {
    "FiscalCode": r"^[A-Z]{6}[0-9LMNPQRSTUV]{2}[ABCDEHLMPRST][0-9LMNPQRSTUV]{2}[A-Z]"
                  r"[0-9LMNPQRSTUV]{3}[A-Z]$",
    "OrganizationFiscalCode": r"^[0-9]{11}$",
    "Ulid": r"^[0-9a-hjkmnp-tv-zA-HJKMNP-TV-Z]{26}$",
    # what the docs ask for: UTC with an explicit Z and milliseconds
    "UTCISODateFromString": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$",
}


def _convert(node: Any, prefix: str) -> Any:
    """Swagger 2 → JSON Schema 2020-12: local $refs, x-extensible-enum as a real enum."""
    if isinstance(node, dict):
        out = {k: _convert(v, prefix) for k, v in node.items()
               if k not in ("example", "x-import", "description")}
        if "$ref" in out:
            assert out["$ref"].startswith(prefix), f"external reference {out['$ref']}"
            out["$ref"] = "#/$defs/" + out["$ref"][len(prefix):]
        if "x-extensible-enum" in out:
            out["enum"] = out.pop("x-extensible-enum")
        for bound in ("Maximum", "Minimum"):  # draft-4 booleans → 2020-12 numbers
            if out.get(f"exclusive{bound}") is True:
                out[f"exclusive{bound}"] = out.pop(bound.lower())
        return out
    if isinstance(node, list):
        return [_convert(item, prefix) for item in node]
    return node


def new_message_schema(name: str) -> dict[str, Any]:
    path, section = SPECS[name]
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    definitions = document[section] if section else document
    prefix = f"#/{section}/" if section else "#/"
    defs: dict[str, Any] = {}
    pending = ["NewMessage"]
    while pending:  # only the closure of NewMessage: the rest of the spec is not ours
        key = pending.pop()
        if key not in defs:
            defs[key] = _convert(definitions[key], prefix)
            pending += re.findall(r"#/\$defs/(\w+)", orjson.dumps(defs[key]).decode())
    for key in CLOSED:
        defs[key] = {**defs[key], "unevaluatedProperties": False}
    return {"$schema": "https://json-schema.org/draft/2020-12/schema",
            "$ref": "#/$defs/NewMessage", "$defs": defs}


def _utf16_length(check: str) -> Any:
    """minLength/maxLength as IO's codec counts: JavaScript ``s.length`` (UTF-16 units)."""

    def validate(_validator: Any, limit: int, instance: Any, _schema: Any) -> Any:
        if isinstance(instance, str):
            units = len(instance.encode("utf-16-le")) // 2
            if (units < limit) if check == "min" else (units > limit):
                yield jsonschema.ValidationError(f"{instance!r}: {units} UTF-16 units")

    return validate


IOValidator = jsonschema.validators.extend(
    jsonschema.Draft202012Validator,
    {"minLength": _utf16_length("min"), "maxLength": _utf16_length("max")},
)


def validator(name: str) -> Any:
    checker = jsonschema.FormatChecker()
    for format_name, pattern in FORMATS.items():
        checker.checks(format_name)(lambda value, p=pattern: bool(re.match(p, value)))
    schema = new_message_schema(name)
    jsonschema.Draft202012Validator.check_schema(schema)
    return IOValidator(schema, format_checker=checker)


@pytest.fixture(scope="module", params=sorted(SPECS))
def spec(request: pytest.FixtureRequest) -> Any:
    return validator(request.param)


FULL_HEADER = (
    "fiscal_code,subject,markdown,amount,notice_number,due_date,invalid_after_due_date,"
    "payee_fiscal_code,feature_level_type,third_party_id,configuration_id,has_remote_content,"
    "has_attachments,has_precondition,summary,original_sender,original_receipt_date,"
    "time_to_live,require_secure_channels"
)
FULL_ROW = row(CF1, SUBJECT + " 📅", MARKDOWN, "1250", "001234567890123413", "31/01/2027",
               "sì", "00123450587", "advanced", "PRATICA-42", "01ARZ3NDEKTSV4RRFFQ69G5FAV",
               "true", "true", "once", "Esito della pratica", "Ufficio Tributi",
               "2026-12-01T09:00:00+01:00", "7200", "no")


def test_a_row_with_every_field_renders_the_documented_shape(load) -> None:
    payload = load(rows_csv(FULL_ROW, header=FULL_HEADER)).preview().message.body()
    assert payload == {
        "fiscal_code": CF1,
        "time_to_live": 7200,
        "feature_level_type": "ADVANCED",
        "content": {
            "subject": SUBJECT + " 📅",
            "markdown": MARKDOWN,
            "due_date": "2027-01-31T22:59:59.000Z",
            "payment_data": {"amount": 1250, "notice_number": "001234567890123413",
                             "invalid_after_due_date": True,
                             "payee": {"fiscal_code": "00123450587"}},
            "third_party_data": {"id": "PRATICA-42",
                                 "configuration_id": "01ARZ3NDEKTSV4RRFFQ69G5FAV",
                                 "has_remote_content": True, "has_attachments": True,
                                 "has_precondition": "ONCE", "summary": "Esito della pratica",
                                 "original_sender": "Ufficio Tributi",
                                 "original_receipt_date": "2026-12-01T08:00:00.000Z"},
            "require_secure_channels": False,
        },
    }


@pytest.mark.io_spec
def test_payloads_validate_against_the_official_new_message_schema(load, spec) -> None:
    full = load(rows_csv(FULL_ROW, header=FULL_HEADER)).preview().message.body()
    minimal = load(rows_csv(row())).preview().message.body()
    for payload in (full, minimal):
        spec.validate(payload)


@pytest.mark.io_spec
def test_the_schema_check_is_strict_enough_to_catch_mistakes(load, spec) -> None:
    good = load(rows_csv(FULL_ROW, header=FULL_HEADER)).preview().message.body()
    mistakes = [
        ("content", "subject", "too short"),
        ("content", "subject", "x" * 119 + "📅"),  # 120 code points, 121 UTF-16 units
        ("content", "due_date", "2027-01-31"),
        ("content", "payment_data", {"amount": "1250", "notice_number": "001234567890123413"}),
        ("content", "unknown_field", 1),
        (None, "fiscal_code", "rssmra80a01h501u"),
        (None, "time_to_live", 60),
    ]
    for parent, key, value in mistakes:
        bad = copy.deepcopy(good)
        (bad[parent] if parent else bad)[key] = value
        assert not spec.is_valid(bad), (parent, key)


@pytest.mark.io_spec
@pytest.mark.parametrize(
    ("csv_name", "template"),
    [("windows1252.csv", "template_tari.toml"), ("windows1252.csv", "template_tari.md"),
     ("semicolon_bom.csv", None), ("crlf_quoted.csv", None), ("emoji_subjects.csv", None),
     ("omocodia.csv", None)],
)
def test_every_valid_fixture_row_validates(csv_name: str, template: str | None, spec) -> None:
    campaign = load_campaign(FIXTURES / csv_name,
                             template=FIXTURES / template if template else None,
                             options=CampaignOptions(now=NOW))
    valid = [r for r in campaign.rows() if r.state is InputVerdict.VALID]
    assert valid
    for item in valid:
        spec.validate(item.message.body())


def test_content_hash_is_of_the_body_without_the_fiscal_code(load) -> None:
    campaign = load(rows_csv(row(CF1), row(CF2), row(CF1, SUBJECT + "!")))
    first, second, third = list(campaign.rows())
    assert first.content_hash == second.content_hash  # same content, another person
    assert third.state is InputVerdict.DUPLICATE and third.content_hash is None
    body = {k: v for k, v in first.message.body().items() if k != "fiscal_code"}  # type: ignore[union-attr]
    canonical = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
    assert first.content_hash == hashlib.sha256(canonical).hexdigest()
    assert first.message.stored() == canonical  # type: ignore[union-attr]
    other = load(rows_csv(row(CF1, SUBJECT + "!"))).preview()
    assert other.content_hash != first.content_hash  # type: ignore[union-attr]
