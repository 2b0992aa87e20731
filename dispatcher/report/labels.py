"""Human labels, in Italian and English, for every row outcome and every IO status.

The ledger speaks in codes (``no_profile``, ``REJECTED``) because codes are stable and easy to
filter on; the people who read a report (an office clerk in Excel, a manager reading the HTML
page) need words, and in Italy mostly Italian ones. Every code has both languages here, in one
table per vocabulary, so a test can prove that none is missing.

Hints say what to do about a row that needs attention. They separate the two "rejections" that
operators confuse: a 4xx at submit (IO stored nothing: fix the cause and retry) and REJECTED
after processing (no IO profile or the service is blocked: resending is pointless).
"""

from __future__ import annotations

from dataclasses import dataclass

from dispatcher.ledger import NOT_CHECKED
from dispatcher.vocabulary import Language, MessageStatus, RowState


@dataclass(frozen=True, slots=True)
class Label:
    """One text in both languages."""

    it: str
    en: str

    def text(self, lang: Language | str) -> str:
        return self.en if lang == Language.EN else self.it


OUTCOMES: dict[RowState, Label] = {
    RowState.PENDING: Label("Non ancora elaborato (riprendibile)", "Not yet processed (resumable)"),
    RowState.SENDING: Label("In invio", "In flight"),
    RowState.INVALID: Label("Riga non valida (non inviato)", "Invalid row (not sent)"),
    RowState.DUPLICATE: Label("Duplicato (non inviato)", "Duplicate (not sent)"),
    RowState.NO_PROFILE: Label("Il cittadino non ha l'app IO", "The citizen does not have IO"),
    RowState.SENDER_NOT_ALLOWED: Label(
        "Servizio disattivato dal cittadino", "Service turned off by the citizen"
    ),
    RowState.SENT: Label("Inviato (accettato da IO)", "Sent (accepted by IO)"),
    RowState.REJECTED: Label(
        "Rifiutato da IO all'invio (non memorizzato)", "Refused by IO at submit (not stored)"
    ),
    RowState.FAILED: Label(
        "Non inviato: errore dopo i tentativi", "Not sent: failed after retries"
    ),
    RowState.AMBIGUOUS: Label(
        "Esito incerto: verificare prima di reinviare", "Uncertain outcome: check before resending"
    ),
    RowState.ALREADY_SENT: Label(
        "Già inviato dal servizio (non reinviato)", "Already sent by this service (not resent)"
    ),
}
"""Every :class:`RowState`, in the order a summary lists them."""

IO_STATUSES: dict[str, Label] = {
    MessageStatus.PROCESSED: Label("Consegnato", "Delivered"),
    MessageStatus.ACCEPTED: Label(
        "Accettato da IO, in elaborazione", "Accepted by IO, being processed"
    ),
    MessageStatus.THROTTLED: Label(
        "In ritardo presso IO (temporaneo)", "Delayed at IO (temporary)"
    ),
    MessageStatus.REJECTED: Label(
        "Respinto da IO: cittadino senza IO o servizio bloccato",
        "Rejected by IO: no IO profile or service blocked",
    ),
    MessageStatus.FAILED: Label("Consegna fallita presso IO", "Delivery failed at IO"),
    NOT_CHECKED: Label("Stato non ancora verificato", "Status not checked yet"),
}
"""IO's ``MessageStatusValue`` (FACTS §3.4) plus our ``NOT_CHECKED``."""

READ_STATUSES: dict[str, Label] = {
    "READ": Label("Letto", "Read"),
    "UNREAD": Label("Non letto", "Unread"),
    "UNAVAILABLE": Label("Lettura non condivisa dal cittadino", "Read status not shared"),
}

PAYMENT_STATUSES: dict[str, Label] = {
    "PAID": Label("Pagato", "Paid"),
    "NOT_PAID": Label("Non pagato", "Not paid"),
}

HINTS: dict[str, Label] = {
    RowState.AMBIGUOUS: Label(
        "La richiesta potrebbe essere arrivata a IO: controllare la casella del cittadino o il "
        "back office IO prima di usare --resend-ambiguous (rischio di doppio invio).",
        "The request may have reached IO: check the citizen's inbox or the IO back office "
        "before using --resend-ambiguous (it may send a second copy).",
    ),
    RowState.REJECTED: Label(
        "IO ha rifiutato la richiesta (vedi codice HTTP e dettaglio) e non ha memorizzato il "
        "messaggio: correggere la causa, poi rilanciare con --retry-failed.",
        "IO refused the request (see HTTP status and detail) and stored nothing: fix the "
        "cause, then run again with --retry-failed.",
    ),
    RowState.FAILED: Label(
        "Mai arrivato a IO: correggere la causa indicata nel dettaglio, poi rilanciare con "
        "--retry-failed.",
        "Never reached IO: fix the cause shown in the detail, then run again with "
        "--retry-failed.",
    ),
    RowState.ALREADY_SENT: Label(
        "Lo stesso messaggio era già stato inviato a questo cittadino da questo servizio (il "
        "dettaglio dice quando e con quale campagna): non è stato reinviato. Solo se serve "
        "davvero una seconda copia, rilanciare con --allow-resend.",
        "This service had already sent the same message to this citizen (the detail says when "
        "and by which campaign): it was not sent again. Only if a second copy is really "
        "wanted, run again with --allow-resend.",
    ),
    MessageStatus.REJECTED: Label(
        "Il cittadino non ha un profilo IO o ha bloccato il servizio: reinviare è inutile; "
        "usare un altro canale.",
        "The citizen has no IO profile or blocked the service: resending is pointless; use "
        "another channel.",
    ),
    MessageStatus.FAILED: Label(
        "IO non è riuscito a consegnare il messaggio (errore permanente lato IO): valutare un "
        "nuovo invio o un altro canale.",
        "IO could not deliver the message (a permanent failure on IO's side): consider a new "
        "send or another channel.",
    ),
}
"""What to do: keyed by :class:`RowState` for submit outcomes, by IO status after processing."""

ATTENTION_STATES = (RowState.AMBIGUOUS, RowState.FAILED, RowState.REJECTED)
"""Row outcomes an operator must look at; sent rows that IO ended REJECTED/FAILED join them."""

ATTENTION_IO_STATUSES = (MessageStatus.REJECTED, MessageStatus.FAILED)

OUTCOME_LABELS: dict[RowState, str] = {state: label.en for state, label in OUTCOMES.items()}
"""English outcome labels, for the terminal summary of ``run``."""


def outcome_label(state: RowState | str, lang: Language | str = Language.IT) -> str:
    """The label of a row outcome; an unknown code is shown as it is."""
    try:
        return OUTCOMES[RowState(state)].text(lang)
    except ValueError:
        return str(state)


def io_status_label(status: str | None, lang: Language | str = Language.IT) -> str | None:
    """The label of an IO status (``None`` stays ``None``; an unknown one is shown as it is)."""
    if status is None:
        return None
    label = IO_STATUSES.get(status)
    return label.text(lang) if label else status


def read_status_label(status: str | None, lang: Language | str = Language.IT) -> str | None:
    label = READ_STATUSES.get(status or "")
    return label.text(lang) if label else status


def payment_status_label(status: str | None, lang: Language | str = Language.IT) -> str | None:
    label = PAYMENT_STATUSES.get(status or "")
    return label.text(lang) if label else status


def needs_attention(state: RowState | str, io_status: str | None) -> bool:
    """Ambiguous, failed or refused at submit; or sent and then REJECTED/FAILED by IO."""
    return state in ATTENTION_STATES or (
        state == RowState.SENT and io_status in ATTENTION_IO_STATUSES
    )


def hint(
    state: RowState | str, io_status: str | None, lang: Language | str = Language.IT
) -> str | None:
    """What to do about a row, or ``None`` when nothing is to be done."""
    if state == RowState.SENT:
        label = HINTS.get(io_status or "") if io_status in ATTENTION_IO_STATUSES else None
    else:
        label = HINTS.get(str(state)) if state in ATTENTION_STATES else None
    return label.text(lang) if label else None
