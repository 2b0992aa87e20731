"""Body decoding follows IO's io-ts codecs: inclusive limits in UTF-16 units, exact objects."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from simtools import ALLOWED_CF, MARKDOWN, NOTICE_NUMBER, SimFactory, message_body

from dispatcher.simulator.validation import decode_new_message, utf16_length

pytestmark = pytest.mark.anyio

EMOJI = "\N{GRINNING FACE}"  # outside the BMP: two UTF-16 code units


def _decode(**changes: Any) -> tuple[Any, list[str]]:
    return decode_new_message(message_body(**changes))


def test_utf16_length_counts_astral_characters_twice() -> None:
    assert utf16_length("abc") == 3
    assert utf16_length("àèì") == 3
    assert utf16_length(EMOJI) == 2
    assert utf16_length("a" + EMOJI) == 3


@pytest.mark.parametrize(
    ("subject", "ok"),
    [
        ("x" * 9, False),
        ("x" * 10, True),
        ("x" * 120, True),
        ("x" * 121, False),
        (EMOJI * 5, True),  # 5 characters, 10 code units
        ("x" * 119 + EMOJI, False),  # 120 characters, 121 code units
        (EMOJI * 60, True),  # exactly 120 code units
    ],
)
def test_subject_length_is_inclusive_and_in_utf16_units(subject: str, ok: bool) -> None:
    message, errors = _decode(content={"subject": subject})
    assert (message is not None) is ok, errors
    if not ok:
        assert errors == [
            f'value ["{subject}"] at [root.content.subject] is not a valid '
            "[string of 10 to 120 characters (UTF-16 code units)]"
        ]


@pytest.mark.parametrize(("length", "ok"), [(79, False), (80, True), (10000, True),
                                             (10001, False)])
def test_markdown_length_bounds_are_inclusive(length: int, ok: bool) -> None:
    message, _ = _decode(content={"markdown": "m" * length})
    assert (message is not None) is ok


@settings(max_examples=80, deadline=None)
@given(st.text(min_size=0, max_size=130))
def test_any_subject_is_accepted_exactly_when_its_utf16_length_is_in_range(subject: str) -> None:
    message, _ = _decode(content={"subject": subject})
    assert (message is not None) == (10 <= len(subject.encode("utf-16-le", "surrogatepass"))
                                     // 2 <= 120)


@pytest.mark.parametrize(("ttl", "ok"), [(3599, False), (3600, True), (604800, True),
                                         (604801, False), (3600.0, True), (3600.5, False),
                                         ("3600", False), (True, False)])
def test_time_to_live_is_an_inclusive_integer_range(ttl: Any, ok: bool) -> None:
    message, errors = _decode(time_to_live=ttl)
    assert (message is not None) is ok
    if not ok:
        assert "is not a valid [integer >= 3600 and < 604800 | 604800]" in errors[0]


def test_defaults_are_filled_in_and_unknown_fields_dropped() -> None:
    message, errors = decode_new_message({
        "fiscal_code": ALLOWED_CF,
        "content": {"subject": "Promemoria scadenza TARI", "markdown": MARKDOWN,
                    "prescription_data": {"nre": "x"}, "colour": "red",
                    "payment_data": {"amount": 100, "notice_number": NOTICE_NUMBER,
                                     "extra": 1},
                    "third_party_data": {"id": "t1", "configuration_id":
                                         "01ARZ3NDEKTSV4RRFFQ69G5FAV"}},
        "time_to_live": None,
        "priority": "high",
    })
    assert errors == []
    assert message is not None
    assert message.time_to_live == 3600
    assert message.feature_level_type == "STANDARD"
    assert message.content == {
        "subject": "Promemoria scadenza TARI",
        "markdown": MARKDOWN,
        "payment_data": {"amount": 100, "notice_number": NOTICE_NUMBER,
                         "invalid_after_due_date": False},
        "third_party_data": {"id": "t1", "has_attachments": False, "has_remote_content": False,
                             "configuration_id": "01ARZ3NDEKTSV4RRFFQ69G5FAV"},
    }


@pytest.mark.parametrize(
    ("content", "path"),
    [
        ({"payment_data": {"amount": 0, "notice_number": NOTICE_NUMBER}},
         "content.payment_data.amount"),
        ({"payment_data": {"amount": 10_000_000_000, "notice_number": NOTICE_NUMBER}},
         "content.payment_data.amount"),
        ({"payment_data": {"amount": 1, "notice_number": "402000100000019421"}},
         "content.payment_data.notice_number"),
        ({"payment_data": {"amount": 1, "notice_number": "30200010000001942"}},
         "content.payment_data.notice_number"),
        ({"payment_data": {"amount": 1, "notice_number": NOTICE_NUMBER,
                           "payee": {"fiscal_code": "1234567890"}}},
         "content.payment_data.payee.fiscal_code"),
        ({"due_date": "2024-13-01T00:00:00Z"}, "content.due_date"),
        ({"due_date": "tomorrow"}, "content.due_date"),
        ({"third_party_data": {"id": ""}}, "content.third_party_data.id"),
        ({"third_party_data": {"id": "x", "configuration_id": "not-a-ulid"}},
         "content.third_party_data.configuration_id"),
        ({"third_party_data": {"id": "x", "has_precondition": "SOMETIMES"}},
         "content.third_party_data.has_precondition"),
        ({"require_secure_channels": "yes"}, "content.require_secure_channels"),
    ],
)
def test_each_constraint_reports_the_failing_path(content: dict[str, Any], path: str) -> None:
    message, errors = _decode(content=content)
    assert message is None
    assert len(errors) == 1
    assert f"at [root.{path}]" in errors[0]


def test_the_amount_bounds_are_inclusive() -> None:
    for amount in (1, 9_999_999_999):
        message, _ = _decode(content={"payment_data": {"amount": amount,
                                                       "notice_number": NOTICE_NUMBER}})
        assert message is not None


@pytest.mark.parametrize("code", ["rssmra85t10a562s", "RSSMRA85T10A562", "RSSMRA85T10A562S\n",
                                  "RSSMRA85Z10A562S", 12])
def test_a_malformed_fiscal_code_is_refused(code: Any) -> None:
    message, errors = _decode(fiscal_code=code)
    assert message is None
    assert "at [root.fiscal_code]" in errors[0]


def test_omocodia_letters_are_valid_fiscal_code_digits() -> None:
    assert _decode(fiscal_code="RSSMRA85T1LA562S")[0] is not None


def test_due_dates_are_normalised_to_utc_milliseconds() -> None:
    message, _ = _decode(content={"due_date": "2030-01-31T23:30:00+01:00"})
    assert message is not None
    assert message.content["due_date"] == "2030-01-31T22:30:00.000Z"


def test_every_failure_is_listed_not_only_the_first() -> None:
    _, errors = decode_new_message({"content": {"subject": 1}, "feature_level_type": "GOLD"})
    paths = [e.split(" at ")[1].split("]")[0] for e in errors]
    assert paths == ["[root.feature_level_type", "[root.content.subject", "[root.content.markdown"]


async def test_a_bad_body_is_a_400_problem_naming_every_failure(make_sim: SimFactory) -> None:
    async with make_sim() as sim:
        response = await sim.send({"fiscal_code": ALLOWED_CF,
                                   "content": {"subject": "short", "markdown": "short"}})
        assert response.status_code == 400
        assert response.headers["content-type"] == "application/problem+json"
        problem = response.json()
        assert problem["title"] == "Invalid message structure"
        assert problem["status"] == 400
        assert "root.content.subject" in problem["detail"]
        assert "root.content.markdown" in problem["detail"]


@pytest.mark.parametrize("raw", [b"", b"not json", b"[1, 2]", b'"text"'])
async def test_a_body_that_is_no_object_is_a_400(make_sim: SimFactory, raw: bytes) -> None:
    async with make_sim() as sim:
        response = await sim.api.post("/messages", content=raw)
        assert response.status_code == 400
        assert response.json()["detail"].endswith("at [root] is not a valid [NewMessage]")
