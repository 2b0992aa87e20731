"""Every code a report shows has words in Italian and English, and the reasons say why a row
still needs another channel."""

from __future__ import annotations

import pytest

from dispatcher.report import OUTCOME_LABELS, Language, io_status_label, outcome_label
from dispatcher.report.labels import (
    IO_STATUSES,
    NOT_CHECKED,
    PAYMENT_STATUSES,
    READ_STATUSES,
    REASONS,
    needs_attention,
    payment_status_label,
    read_status_label,
    reason_key,
    reason_label,
)
from dispatcher.vocabulary import RowState

IO_STATUS_CODES = ("PROCESSED", "ACCEPTED", "THROTTLED", "REJECTED", "FAILED", "NOT_CHECKED")
"""IO's MessageStatusValue (FACTS §3.4) and our own NOT_CHECKED."""


def _both(label_of, code):
    return label_of(code, Language.IT), label_of(code, Language.EN)


@pytest.mark.parametrize("state", list(RowState), ids=str)
def test_every_row_outcome_has_distinct_italian_and_english_words(state: RowState) -> None:
    italian, english = _both(outcome_label, state)
    assert italian.strip() and english.strip()
    assert italian != english
    assert italian != state.value and english != state.value  # words, not the code again
    assert OUTCOME_LABELS[state] == english  # the terminal summary of `run` speaks English


@pytest.mark.parametrize("status", IO_STATUS_CODES)
def test_every_io_status_has_distinct_italian_and_english_words(status: str) -> None:
    italian, english = _both(io_status_label, status)
    assert italian and english and italian != english
    assert status not in (italian, english)


def test_the_io_status_table_is_exactly_ios_vocabulary_plus_not_checked() -> None:
    assert set(IO_STATUSES) == set(IO_STATUS_CODES)
    assert NOT_CHECKED == "NOT_CHECKED"


@pytest.mark.parametrize(("label_of", "codes"), [
    (read_status_label, ("READ", "UNREAD", "UNAVAILABLE")),
    (payment_status_label, ("PAID", "NOT_PAID")),
])
def test_read_and_payment_statuses_have_both_languages(label_of, codes) -> None:
    table = READ_STATUSES if label_of is read_status_label else PAYMENT_STATUSES
    assert set(table) == set(codes)
    for code in codes:
        italian, english = _both(label_of, code)
        assert italian and english and italian != english and code not in (italian, english)


def test_the_phrases_an_italian_office_reads() -> None:
    assert outcome_label(RowState.NO_PROFILE) == "Il cittadino non ha l'app IO"
    assert outcome_label(RowState.SENDER_NOT_ALLOWED) == "Servizio disattivato dal cittadino"
    assert outcome_label(RowState.AMBIGUOUS) == "Esito incerto: verificare prima di reinviare"
    assert io_status_label("PROCESSED") == "Consegnato"
    assert read_status_label("READ") == "Letto"
    assert payment_status_label("PAID") == "Pagato"


def test_italian_is_the_default_and_the_language_can_be_a_plain_string() -> None:
    assert outcome_label(RowState.SENT) == outcome_label(RowState.SENT, "it")
    assert outcome_label("no_profile", "en") == "The citizen does not have IO"
    assert io_status_label("PROCESSED", "en") == "Delivered"
    assert outcome_label(RowState.SENT, "en") != outcome_label(RowState.SENT, "it")


def test_unknown_codes_are_shown_as_they_are_and_none_stays_none() -> None:
    assert outcome_label("exploded") == "exploded"
    assert io_status_label("SOMETHING_NEW") == "SOMETHING_NEW"
    assert io_status_label(None) is None
    assert read_status_label(None) is None and payment_status_label(None) is None
    assert read_status_label("LATER") == "LATER"


@pytest.mark.parametrize(("state", "io_status", "key"), [
    (RowState.INVALID, None, "invalid"), (RowState.NO_PROFILE, None, "no_profile"),
    (RowState.SENDER_NOT_ALLOWED, None, "sender_not_allowed"),
    (RowState.REJECTED, None, "rejected"), (RowState.FAILED, None, "failed"),
    (RowState.AMBIGUOUS, None, "ambiguous"), (RowState.SENT, "REJECTED", "io_rejected"),
    (RowState.SENT, "FAILED", "io_failed"), ("no_profile", None, "no_profile"),
])
def test_rows_io_did_not_reach_have_a_reason(state, io_status, key) -> None:
    assert reason_key(state, io_status) == key
    assert reason_label(key, "it") != reason_label(key, "en")


@pytest.mark.parametrize(("state", "io_status"), [
    (RowState.SENT, "PROCESSED"), (RowState.SENT, "ACCEPTED"), (RowState.SENT, None),
    (RowState.SENT, NOT_CHECKED), (RowState.SENT, "THROTTLED"), (RowState.DUPLICATE, None),
    (RowState.ALREADY_SENT, None), (RowState.PENDING, None), (RowState.SENDING, None),
])
def test_rows_that_went_or_may_still_go_have_no_reason(state, io_status) -> None:
    assert reason_key(state, io_status) is None


def test_every_reason_has_words_in_both_languages() -> None:
    for key in REASONS:
        italian, english = reason_label(key, "it"), reason_label(key, "en")
        assert italian and english and italian != english and key not in (italian, english)


@pytest.mark.parametrize(("state", "io_status"), [
    (RowState.SENT, "PROCESSED"), (RowState.SENT, "ACCEPTED"), (RowState.SENT, None),
    (RowState.SENT, NOT_CHECKED), (RowState.NO_PROFILE, None),
    (RowState.SENDER_NOT_ALLOWED, None), (RowState.INVALID, None), (RowState.DUPLICATE, None),
    (RowState.PENDING, None),
])
def test_rows_that_need_no_operator_look_do_not_need_attention(state, io_status) -> None:
    assert not needs_attention(state, io_status)


@pytest.mark.parametrize(("state", "io_status"), [
    (RowState.AMBIGUOUS, None), (RowState.FAILED, None), (RowState.REJECTED, None),
    (RowState.SENT, "REJECTED"), (RowState.SENT, "FAILED"),
    ("ambiguous", None), ("sent", "FAILED"),  # plain codes, as read from a ledger
])
def test_rows_needing_attention(state, io_status) -> None:
    assert needs_attention(state, io_status)


def test_an_io_status_of_an_unsent_row_does_not_make_it_need_attention() -> None:
    assert not needs_attention(RowState.NO_PROFILE, "REJECTED")
