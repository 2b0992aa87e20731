"""Words for every code a report shows: row outcomes, IO statuses, reasons, column titles.

The ledger speaks in codes (``no_profile``, ``REJECTED``) because codes are stable and easy to
filter on; the people who read a report (an office clerk in Excel, a manager reading the HTML
page) need words in their language. The tables here hold the English source texts, marked
with :func:`N_` so Babel's extractor finds them; every text a person reads goes through the
translator of :mod:`dispatcher.i18n`, whose Italian lives in ``locale/it/.../report.po``.
One mechanism for the whole room: no label carries its own Italian copy.

A *reason* says why a row still has to be reached another way (a letter, an e-mail, a call):
the outcome, or for a sent message IO's verdict after processing.
"""

from __future__ import annotations

from dispatcher.i18n import Translator, translator
from dispatcher.ledger import NOT_CHECKED
from dispatcher.vocabulary import Language, MessageStatus, RowState

__all__ = [
    "ATTENTION_IO_STATUSES",
    "ATTENTION_STATES",
    "IO_STATUSES",
    "NOT_CHECKED",
    "N_",
    "OUTCOMES",
    "OUTCOME_LABELS",
    "PAYMENT_STATUSES",
    "READ_STATUSES",
    "REASONS",
    "Language",
    "io_status_label",
    "needs_attention",
    "outcome_label",
    "payment_status_label",
    "read_status_label",
    "reason_key",
    "reason_label",
    "tr",
]


def N_(message: str) -> str:
    """Mark ``message`` for the catalog; it is translated where it is shown."""
    return message


def tr(lang: Language | str) -> Translator:
    """The translator of ``lang`` (``it``/``en``, or a :class:`Language`)."""
    return translator(Language(lang))


OUTCOMES: dict[RowState, str] = {
    RowState.PENDING: N_("Not yet processed (resumable)"),
    RowState.SENDING: N_("In flight"),
    RowState.INVALID: N_("Invalid row (not sent)"),
    RowState.DUPLICATE: N_("Duplicate (not sent)"),
    RowState.NO_PROFILE: N_("The citizen does not have IO"),
    RowState.SENDER_NOT_ALLOWED: N_("Service turned off by the citizen"),
    RowState.SENT: N_("Sent (accepted by IO)"),
    RowState.REJECTED: N_("Refused by IO at submit (not stored)"),
    RowState.FAILED: N_("Not sent: failed after retries"),
    RowState.AMBIGUOUS: N_("Uncertain outcome: check before resending"),
    RowState.ALREADY_SENT: N_("Already sent by this service (not resent)"),
}
"""Every :class:`RowState`, in the order a summary lists them."""

IO_STATUSES: dict[str, str] = {
    MessageStatus.PROCESSED: N_("Delivered"),
    MessageStatus.ACCEPTED: N_("Accepted by IO, being processed"),
    MessageStatus.THROTTLED: N_("Delayed at IO (temporary)"),
    MessageStatus.REJECTED: N_("Rejected by IO: no IO profile or service blocked"),
    MessageStatus.FAILED: N_("Delivery failed at IO"),
    NOT_CHECKED: N_("Status not checked yet"),
}
"""IO's ``MessageStatusValue`` (FACTS §3.4) plus our ``NOT_CHECKED``."""

READ_STATUSES: dict[str, str] = {
    "READ": N_("Read"),
    "UNREAD": N_("Unread"),
    "UNAVAILABLE": N_("Read status not shared"),
}

PAYMENT_STATUSES: dict[str, str] = {
    "PAID": N_("Paid"),
    "NOT_PAID": N_("Not paid"),
}

IO_REJECTED, IO_FAILED = "io_rejected", "io_failed"
"""Reasons of sent messages that IO ended REJECTED / FAILED after processing."""

REASONS: dict[str, str] = {
    RowState.AMBIGUOUS: N_("Uncertain: IO cannot tell whether the message arrived"),
    RowState.REJECTED: N_("Refused by IO at submit: not sent"),
    RowState.FAILED: N_("Not sent: IO could not be reached"),
    IO_REJECTED: N_("Rejected by IO after the send: not delivered"),
    IO_FAILED: N_("IO failed to deliver the message"),
    RowState.NO_PROFILE: N_("The citizen does not have the IO app"),
    RowState.SENDER_NOT_ALLOWED: N_("The citizen turned this service off in IO"),
    RowState.INVALID: N_("Invalid row in the file: not sent"),
}
"""Why a row still needs another channel, in the order the report lists them (a decision
to take first, then what a fix may still send, then what only another channel reaches)."""

_AFTER_PROCESSING: dict[str, str] = {MessageStatus.REJECTED: IO_REJECTED,
                                     MessageStatus.FAILED: IO_FAILED}

ATTENTION_STATES = (RowState.AMBIGUOUS, RowState.FAILED, RowState.REJECTED)
"""Row outcomes an operator must look at; sent rows that IO ended REJECTED/FAILED join them."""

ATTENTION_IO_STATUSES = (MessageStatus.REJECTED, MessageStatus.FAILED)

OUTCOME_LABELS: dict[RowState, str] = dict(OUTCOMES)
"""English outcome labels (the source texts), for callers that translate them themselves."""


def outcome_label(state: RowState | str, lang: Language | str = Language.IT) -> str:
    """The label of a row outcome; an unknown code is shown as it is."""
    try:
        return tr(lang).gettext(OUTCOMES[RowState(state)])
    except ValueError:
        return str(state)


def _label(table: dict[str, str], code: str | None, lang: Language | str) -> str | None:
    if code is None:
        return None
    text = table.get(code)
    return tr(lang).gettext(text) if text else code


def io_status_label(status: str | None, lang: Language | str = Language.IT) -> str | None:
    """The label of an IO status (``None`` stays ``None``; an unknown one is shown as it is)."""
    return _label(IO_STATUSES, status, lang)


def read_status_label(status: str | None, lang: Language | str = Language.IT) -> str | None:
    return _label(READ_STATUSES, status, lang)


def payment_status_label(status: str | None, lang: Language | str = Language.IT) -> str | None:
    return _label(PAYMENT_STATUSES, status, lang)


def needs_attention(state: RowState | str, io_status: str | None) -> bool:
    """Ambiguous, failed or refused at submit; or sent and then REJECTED/FAILED by IO."""
    return state in ATTENTION_STATES or (
        state == RowState.SENT and io_status in ATTENTION_IO_STATUSES
    )


def reason_key(state: RowState | str, io_status: str | None) -> str | None:
    """Why a row must be reached another way, or ``None``: delivered, on its way, or sent
    before (``already_sent``), a ``duplicate`` of a row that goes, or not decided yet."""
    if state == RowState.SENT:
        return _AFTER_PROCESSING.get(io_status or "")
    return str(state) if str(state) in REASONS else None


def reason_label(key: str, lang: Language | str = Language.IT) -> str:
    return tr(lang).gettext(REASONS[key])
