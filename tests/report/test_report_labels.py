"""Every code a report shows has words in Italian and English, and the hints say what to do."""

from __future__ import annotations

import pytest

from dispatcher.report import OUTCOME_LABELS, Language, hint, io_status_label, outcome_label
from dispatcher.report.labels import (
    IO_STATUSES,
    NOT_CHECKED,
    PAYMENT_STATUSES,
    READ_STATUSES,
    needs_attention,
    payment_status_label,
    read_status_label,
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


@pytest.mark.parametrize("lang", list(Language))
def test_a_refusal_at_submit_says_fix_and_retry_failed(lang: Language) -> None:
    for state in (RowState.REJECTED, RowState.FAILED):
        text = hint(state, None, lang)
        assert text and "--retry-failed" in text
        assert "--resend-ambiguous" not in text


@pytest.mark.parametrize("lang", list(Language))
def test_io_rejected_after_processing_says_resending_is_pointless(lang: Language) -> None:
    text = hint(RowState.SENT, "REJECTED", lang)
    assert text is not None
    assert ("inutile" if lang is Language.IT else "pointless") in text
    assert "--retry-failed" not in text
    submit = hint(RowState.REJECTED, None, lang)
    assert submit is not None and submit != text
    assert ("inutile" not in submit) and ("pointless" not in submit)


def test_ambiguous_rows_warn_about_a_second_copy() -> None:
    italian, english = hint(RowState.AMBIGUOUS, None, "it"), hint(RowState.AMBIGUOUS, None, "en")
    assert italian and "--resend-ambiguous" in italian and "doppio invio" in italian
    assert english and "--resend-ambiguous" in english and "second copy" in english


def test_io_failed_after_processing_has_its_own_hint() -> None:
    text = hint(RowState.SENT, "FAILED", "en")
    assert text and "IO could not deliver" in text
    assert text != hint(RowState.SENT, "REJECTED", "en")


@pytest.mark.parametrize(("state", "io_status"), [
    (RowState.SENT, "PROCESSED"), (RowState.SENT, "ACCEPTED"), (RowState.SENT, None),
    (RowState.SENT, NOT_CHECKED), (RowState.NO_PROFILE, None),
    (RowState.SENDER_NOT_ALLOWED, None), (RowState.INVALID, None), (RowState.DUPLICATE, None),
    (RowState.PENDING, None),
])
def test_rows_that_need_nothing_have_no_hint(state: RowState, io_status: str | None) -> None:
    assert hint(state, io_status) is None
    assert not needs_attention(state, io_status)


@pytest.mark.parametrize(("state", "io_status"), [
    (RowState.AMBIGUOUS, None), (RowState.FAILED, None), (RowState.REJECTED, None),
    (RowState.SENT, "REJECTED"), (RowState.SENT, "FAILED"),
    ("ambiguous", None), ("sent", "FAILED"),  # plain codes, as read from a ledger
])
def test_rows_needing_attention_have_a_hint(state, io_status) -> None:
    assert needs_attention(state, io_status)
    assert hint(state, io_status, "it") and hint(state, io_status, "en")


def test_an_io_status_of_an_unsent_row_does_not_make_it_need_attention() -> None:
    assert not needs_attention(RowState.NO_PROFILE, "REJECTED")
    assert hint(RowState.NO_PROFILE, "REJECTED") is None
