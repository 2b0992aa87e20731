"""The outgoing message: its JSON body, its content hash, re-addressing and the stored form."""

from __future__ import annotations

import hashlib

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dispatcher.message import (
    Field,
    MessageBuilder,
    MessageContent,
    OutgoingMessage,
    PaymentData,
    ThirdPartyData,
)

CF = "RSSMRA85T10A562S"
OTHER = "AAAAAA00A00A000A"
TEXT = "Gentile contribuente, " + "x" * 80


def _full() -> OutgoingMessage:
    return OutgoingMessage(
        CF,
        MessageContent(
            "Avviso TARI 2027", TEXT, "2027-01-31T22:59:59Z",
            PaymentData(12345, "012345678901234542", True, "00000000000"),
            ThirdPartyData("PRATICA-1", "01HQRD0YCVDXF1XDW634N87XCG", True, False, "ONCE",
                           "sintesi", "Comune", "2026-12-01T10:00:00Z"),
            True,
        ),
        "ADVANCED", 3600,
    )


def test_the_body_has_only_the_fields_that_are_set_in_ios_shape() -> None:
    minimal = OutgoingMessage(CF, MessageContent("Avviso TARI 2027", TEXT))
    assert minimal.body() == {"fiscal_code": CF,
                              "content": {"subject": "Avviso TARI 2027", "markdown": TEXT}}
    body = _full().body()
    assert body["content"]["payment_data"] == {
        "amount": 12345, "notice_number": "012345678901234542",
        "invalid_after_due_date": True, "payee": {"fiscal_code": "00000000000"}}
    assert body["content"]["third_party_data"]["has_precondition"] == "ONCE"
    assert body["feature_level_type"] == "ADVANCED" and body["time_to_live"] == 3600
    assert orjson.loads(_full().to_json()) == body


def test_the_content_hash_is_of_the_canonical_body_without_the_recipient() -> None:
    message = _full()
    without = {k: v for k, v in message.body().items() if k != "fiscal_code"}
    canonical = orjson.dumps(without, option=orjson.OPT_SORT_KEYS)
    assert message.stored() == canonical
    assert message.content_hash == hashlib.sha256(canonical).hexdigest()


def test_re_addressing_changes_the_recipient_and_nothing_else() -> None:
    message = _full()
    tester = message.addressed_to(OTHER)
    assert tester.fiscal_code == OTHER and tester.body()["fiscal_code"] == OTHER
    assert tester.content == message.content and tester.content_hash == message.content_hash
    assert message.fiscal_code == CF  # the original is untouched


@given(amount=st.integers(1, 10**9), ttl=st.none() | st.integers(3600, 604800),
       subject=st.text(min_size=1, max_size=40), remote=st.booleans())
def test_the_stored_form_rebuilds_the_same_message(amount: int, ttl: int | None, subject: str,
                                                    remote: bool) -> None:
    message = OutgoingMessage(CF, MessageContent(
        subject, TEXT, None, PaymentData(amount, "012345678901234542"),
        ThirdPartyData("ID-1", has_remote_content=True) if remote else None), None, ttl)
    again = OutgoingMessage.from_stored(CF, message.stored())
    assert again == message and again.content_hash == message.content_hash


def test_the_builder_reads_fields_by_position_and_skips_half_a_payment() -> None:
    build = MessageBuilder([Field.SUBJECT, Field.MARKDOWN, Field.AMOUNT, Field.NOTICE_NUMBER,
                            Field.THIRD_PARTY_ID, Field.TIME_TO_LIVE])
    message = build(CF, ["Avviso TARI 2027", TEXT, 500, "012345678901234542", None, 7200])
    assert message.content.payment_data == PaymentData(500, "012345678901234542")
    assert message.content.third_party_data is None and message.time_to_live == 7200
    no_notice = build(CF, ["Avviso TARI 2027", TEXT, 500, None, "ID-9", None])
    assert no_notice.content.payment_data is None
    assert no_notice.content.third_party_data == ThirdPartyData("ID-9")


def test_a_builder_without_subject_or_text_is_refused() -> None:
    with pytest.raises(ValueError, match=r"content\.subject"):
        MessageBuilder([Field.MARKDOWN])
