"""Problems are values: a row, a column, a code; the words live in one table.

Every rule in ``rules.py`` reports a :class:`ProblemCode`. The code is what programs, tests and
the ledger rely on; the sentence shown to a person comes from :data:`MESSAGES`, in Italian or
English, filled with the row's context (the offending value, a length, another row number).
Fiscal codes inside messages are always masked, because messages reach logs and the ledger.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import polars as pl

from dispatcher.vocabulary import Language


class Severity(StrEnum):
    """``error`` makes a row invalid; ``warning`` is shown but sent; ``notice`` is information."""

    ERROR = "error"
    WARNING = "warning"
    NOTICE = "notice"


class ProblemCode(StrEnum):
    # recipient
    FISCAL_CODE_MISSING = "fiscal_code_missing"
    FISCAL_CODE_FORMAT = "fiscal_code_format"
    FISCAL_CODE_CHECKSUM = "fiscal_code_checksum"
    FISCAL_CODE_BIRTH_DATE = "fiscal_code_birth_date"
    FISCAL_CODE_TEMPORARY = "fiscal_code_temporary"
    # content after rendering
    SUBJECT_MISSING = "subject_missing"
    SUBJECT_TOO_SHORT = "subject_too_short"
    SUBJECT_TOO_LONG = "subject_too_long"
    MARKDOWN_MISSING = "markdown_missing"
    MARKDOWN_TOO_SHORT = "markdown_too_short"
    MARKDOWN_TOO_LONG = "markdown_too_long"
    PLACEHOLDER_MISSING = "placeholder_missing"
    PLACEHOLDER_EMPTY = "placeholder_empty"
    PLACEHOLDER_BAD_VALUE = "placeholder_bad_value"
    # payment
    AMOUNT_NOT_CENTS = "amount_not_cents"
    AMOUNT_FORMAT = "amount_format"
    AMOUNT_RANGE = "amount_range"
    NOTICE_NUMBER_FORMAT = "notice_number_format"
    NOTICE_NUMBER_CHECK_DIGITS = "notice_number_check_digits"
    PAYMENT_INCOMPLETE = "payment_incomplete"
    PAYEE_FORMAT = "payee_format"
    PAYEE_CHECKSUM = "payee_checksum"
    # other typed fields
    DATE_FORMAT = "date_format"
    BOOLEAN_FORMAT = "boolean_format"
    CHOICE_INVALID = "choice_invalid"
    TIME_TO_LIVE_RANGE = "time_to_live_range"
    THIRD_PARTY_ID_MISSING = "third_party_id_missing"
    CONFIGURATION_ID_MISSING = "configuration_id_missing"
    CONFIGURATION_ID_FORMAT = "configuration_id_format"
    ATTACHMENTS_NEED_ADVANCED = "attachments_need_advanced"
    THIRD_PARTY_ID_SHARED = "third_party_id_shared"
    THIRD_PARTY_ID_FORMAT = "third_party_id_format"
    CTA_FORMAT = "cta_format"
    # remote content and attachments (remote_rules.py, attachments.py)
    REMOTE_SUBJECT_TOO_SHORT = "remote_subject_too_short"
    REMOTE_SUBJECT_TOO_LONG = "remote_subject_too_long"
    REMOTE_MARKDOWN_TOO_SHORT = "remote_markdown_too_short"
    REMOTE_MARKDOWN_TOO_LONG = "remote_markdown_too_long"
    REMOTE_DETAILS_INCOMPLETE = "remote_details_incomplete"
    REMOTE_CONTENT_MISSING = "remote_content_missing"
    REMOTE_CONTENT_NOT_DECLARED = "remote_content_not_declared"
    PRECONDITION_INCOMPLETE = "precondition_incomplete"
    PRECONDITION_MISSING = "precondition_missing"
    PRECONDITION_NOT_DECLARED = "precondition_not_declared"
    ATTACHMENTS_MISSING = "attachments_missing"
    ATTACHMENTS_NOT_DECLARED = "attachments_not_declared"
    ATTACHMENT_MISSING = "attachment_missing"
    ATTACHMENT_NOT_PDF = "attachment_not_pdf"
    ATTACHMENT_ENCRYPTED = "attachment_encrypted"
    ATTACHMENT_TOO_LARGE = "attachment_too_large"
    ATTACHMENT_NAME = "attachment_name"
    ATTACHMENT_ID_DUPLICATE = "attachment_id_duplicate"
    ATTACHMENT_NOT_PDFA = "attachment_not_pdfa"
    ATTACHMENT_VALIDATOR = "attachment_validator"
    # the cell as read from the file (reported by the reader, see CELL_PROBLEM_SCHEMA)
    INVALID_BYTES = "invalid_bytes"
    EXCEL_NUMBER = "excel_number"
    # warnings
    SUBJECT_PERSONAL_DATA = "subject_personal_data"
    MARKDOWN_HTML = "markdown_html"
    DUE_DATE_PAST = "due_date_past"
    SEND_AFTER_DUE_DATE = "send_after_due_date"
    REMOTE_NOT_SECURE = "remote_not_secure"
    COURTESY_TEXT_LONG = "courtesy_text_long"
    ATTACHMENTS_WITHOUT_FILES = "attachments_without_files"
    # notice
    DUPLICATE = "duplicate"


_WARNINGS = {
    ProblemCode.SUBJECT_PERSONAL_DATA, ProblemCode.MARKDOWN_HTML, ProblemCode.DUE_DATE_PAST,
    ProblemCode.SEND_AFTER_DUE_DATE,
    ProblemCode.REMOTE_NOT_SECURE, ProblemCode.COURTESY_TEXT_LONG,
    ProblemCode.ATTACHMENTS_WITHOUT_FILES,
}


def severity_of(code: ProblemCode) -> Severity:
    if code is ProblemCode.DUPLICATE:
        return Severity.NOTICE
    return Severity.WARNING if code in _WARNINGS else Severity.ERROR


_LIMITS_EN = "counted like IO does: UTF-16 units, an emoji counts 2"
_LIMITS_IT = "contati come fa IO: unità UTF-16, un'emoji conta 2"

# code -> (English, Italian). Fields: value, column, length, placeholder, helper, unit, choices,
# other_row.
MESSAGES: dict[ProblemCode, tuple[str, str]] = {
    ProblemCode.FISCAL_CODE_MISSING: (
        "the fiscal code is empty",
        "il codice fiscale è vuoto",
    ),
    ProblemCode.FISCAL_CODE_FORMAT: (
        "{value!r} ({length} characters) is not a fiscal code (16: 6 letters, 2 digits, a "
        "letter, 2 digits, a letter, 3 digits, a letter)",
        "{value!r} ({length} caratteri) non è un codice fiscale (16: 6 lettere, 2 cifre, "
        "una lettera, 2 cifre, una lettera, 3 cifre, una lettera)",
    ),
    ProblemCode.FISCAL_CODE_CHECKSUM: (
        "{value}: the check character (the last one) does not match; probably a typo",
        "{value}: il carattere di controllo (l'ultimo) non torna; probabile errore di battitura",
    ),
    ProblemCode.FISCAL_CODE_BIRTH_DATE: (
        "{value}: the birth date inside the fiscal code does not exist",
        "{value}: la data di nascita contenuta nel codice fiscale non esiste",
    ),
    ProblemCode.FISCAL_CODE_TEMPORARY: (
        "{value} is an 11-digit (temporary or company) code: IO reaches only people with a "
        "16-character fiscal code",
        "{value} è un codice numerico di 11 cifre (provvisorio o di un ente): IO raggiunge solo "
        "persone con un codice fiscale di 16 caratteri",
    ),
    ProblemCode.SUBJECT_MISSING: (
        "no subject: the cell is empty and there is no template subject",
        "manca l'oggetto: la cella è vuota e il modello non ha un oggetto",
    ),
    ProblemCode.SUBJECT_TOO_SHORT: (
        f"the subject is {{length}} characters long, IO needs at least 10 ({_LIMITS_EN})",
        f"l'oggetto è lungo {{length}} caratteri, IO ne chiede almeno 10 ({_LIMITS_IT})",
    ),
    ProblemCode.SUBJECT_TOO_LONG: (
        f"the subject is {{length}} characters long, IO allows at most 120 ({_LIMITS_EN})",
        f"l'oggetto è lungo {{length}} caratteri, IO ne accetta al massimo 120 ({_LIMITS_IT})",
    ),
    ProblemCode.MARKDOWN_MISSING: (
        "no message text: the cell is empty and there is no template text",
        "manca il testo: la cella è vuota e il modello non ha un testo",
    ),
    ProblemCode.MARKDOWN_TOO_SHORT: (
        f"the text is {{length}} characters long, IO needs at least 80 ({_LIMITS_EN})",
        f"il testo è lungo {{length}} caratteri, IO ne chiede almeno 80 ({_LIMITS_IT})",
    ),
    ProblemCode.MARKDOWN_TOO_LONG: (
        f"the text is {{length}} characters long, IO allows at most 10000 ({_LIMITS_EN})",
        f"il testo è lungo {{length}} caratteri, IO ne accetta al massimo 10000 ({_LIMITS_IT})",
    ),
    ProblemCode.PLACEHOLDER_MISSING: (
        "the template uses {{{placeholder}}} but the file has no such column",
        "il modello usa {{{placeholder}}} ma il file non ha questa colonna",
    ),
    ProblemCode.PLACEHOLDER_EMPTY: (
        "the template uses {{{placeholder}}} but this cell is empty",
        "il modello usa {{{placeholder}}} ma questa cella è vuota",
    ),
    ProblemCode.PLACEHOLDER_BAD_VALUE: (
        "{value!r} cannot be shown as {helper} (placeholder {{{placeholder}}})",
        "{value!r} non si può mostrare come {helper} (segnaposto {{{placeholder}}})",
    ),
    ProblemCode.AMOUNT_NOT_CENTS: (
        "{value!r} looks like euros, but amounts are in euro cents (write 1250 for € 12,50), "
        'unless the template declares amount_unit = "euro"',
        "{value!r} sembra in euro, ma gli importi vanno in centesimi (1250 per € 12,50), "
        'a meno che il modello dichiari amount_unit = "euro"',
    ),
    ProblemCode.AMOUNT_FORMAT: (
        "{value!r} is not an amount in {unit}",
        "{value!r} non è un importo in {unit}",
    ),
    ProblemCode.AMOUNT_RANGE: (
        "amount {value} is out of range: IO takes 1 to 9999999999 euro cents",
        "l'importo {value} è fuori intervallo: IO accetta da 1 a 9999999999 centesimi",
    ),
    ProblemCode.NOTICE_NUMBER_FORMAT: (
        "{value!r} is not a pagoPA notice number (18 digits, the first 0-3; "
        "did a spreadsheet drop the leading zeros?)",
        "{value!r} non è un numero avviso pagoPA (18 cifre, la prima da 0 a 3; "
        "il foglio di calcolo ha tolto gli zeri iniziali?)",
    ),
    ProblemCode.NOTICE_NUMBER_CHECK_DIGITS: (
        "{value!r}: the check digits (the last two) do not match: the notice cannot be paid",
        "{value!r}: le cifre di controllo (le ultime due) non tornano: l'avviso non è pagabile",
    ),
    ProblemCode.PAYMENT_INCOMPLETE: (
        "a payment needs both amount and notice_number, but {column} is empty",
        "un pagamento richiede importo e numero avviso, ma {column} è vuoto",
    ),
    ProblemCode.PAYEE_FORMAT: (
        "{value!r} is not an organisation fiscal code (11 digits)",
        "{value!r} non è un codice fiscale di ente (11 cifre)",
    ),
    ProblemCode.PAYEE_CHECKSUM: (
        "{value!r}: 11 digits, but not a valid organisation fiscal code (check digit or office)",
        "{value!r}: 11 cifre, ma non è un codice fiscale di ente valido (cifra di controllo)",
    ),
    ProblemCode.DATE_FORMAT: (
        "{value!r} is not a date or does not exist in Italian time "
        "(write 2027-01-31, 31/01/2027 or 2027-01-31T12:00:00+01:00)",
        "{value!r} non è una data o non esiste nell'ora italiana "
        "(scrivere 2027-01-31, 31/01/2027 o 2027-01-31T12:00:00+01:00)",
    ),
    ProblemCode.BOOLEAN_FORMAT: (
        "{value!r} is not yes or no (write sì/no, true/false, vero/falso or 1/0)",
        "{value!r} non è sì o no (scrivere sì/no, true/false, vero/falso o 1/0)",
    ),
    ProblemCode.CHOICE_INVALID: (
        "{value!r} is not one of {choices}",
        "{value!r} non è uno tra {choices}",
    ),
    ProblemCode.TIME_TO_LIVE_RANGE: (
        "{value!r} is not a whole number of seconds from 3600 to 604800",
        "{value!r} non è un numero intero di secondi tra 3600 e 604800",
    ),
    ProblemCode.THIRD_PARTY_ID_MISSING: (
        "remote-content fields are set but third_party_id is empty",
        "ci sono campi di contenuto remoto ma third_party_id è vuoto",
    ),
    ProblemCode.CONFIGURATION_ID_MISSING: (
        "remote content (third_party_id) needs a configuration_id",
        "il contenuto remoto (third_party_id) richiede un configuration_id",
    ),
    ProblemCode.THIRD_PARTY_ID_FORMAT: (
        "{value!r} cannot be a third_party_id: IO puts it in the address of the content "
        "server (/messages/ID), so use letters, digits and . _ ~ - only (up to 128; not . or "
        "..), e.g. REF-2027-0501 instead of REF/2027/0501",
        "{value!r} non può essere un third_party_id: IO lo mette nell'indirizzo del server "
        "dei contenuti (/messages/ID), quindi solo lettere, cifre e . _ ~ - (fino a 128; non "
        ". o ..), per esempio REF-2027-0501 invece di REF/2027/0501",
    ),
    ProblemCode.CONFIGURATION_ID_FORMAT: (
        "{value!r} is not a ULID (26 characters, like 01ARZ3NDEKTSV4RRFFQ69G5FAV)",
        "{value!r} non è un ULID (26 caratteri, come 01ARZ3NDEKTSV4RRFFQ69G5FAV)",
    ),
    ProblemCode.ATTACHMENTS_NEED_ADVANCED: (
        "attachments need feature_level_type ADVANCED (Premium)",
        "gli allegati richiedono feature_level_type ADVANCED (Premium)",
    ),
    ProblemCode.THIRD_PARTY_ID_SHARED: (
        "third_party_id {value!r} is also used for another citizen in row {other_row}: "
        "the id identifies one message for one recipient",
        "third_party_id {value!r} è usato anche per un altro cittadino alla riga {other_row}: "
        "l'id identifica un messaggio per un destinatario",
    ),
    ProblemCode.CTA_FORMAT: (
        "the call-to-action front matter is not as IO reads it: {value}",
        "l'intestazione delle call-to-action non è come la legge IO: {value}",
    ),
    ProblemCode.REMOTE_SUBJECT_TOO_SHORT: (
        f"the remote subject is {{length}} characters long, IO needs at least 10 ({_LIMITS_EN})",
        f"l'oggetto remoto è lungo {{length}} caratteri, IO ne chiede almeno 10 ({_LIMITS_IT})",
    ),
    ProblemCode.REMOTE_SUBJECT_TOO_LONG: (
        f"the remote subject is {{length}} characters long, IO allows at most 120 "
        f"({_LIMITS_EN})",
        f"l'oggetto remoto è lungo {{length}} caratteri, IO ne accetta al massimo 120 "
        f"({_LIMITS_IT})",
    ),
    ProblemCode.REMOTE_MARKDOWN_TOO_SHORT: (
        f"the remote text is {{length}} characters long, IO needs at least 80 ({_LIMITS_EN})",
        f"il testo remoto è lungo {{length}} caratteri, IO ne chiede almeno 80 ({_LIMITS_IT})",
    ),
    ProblemCode.REMOTE_MARKDOWN_TOO_LONG: (
        f"the remote text is {{length}} characters long, IO allows at most 10000 "
        f"({_LIMITS_EN})",
        f"il testo remoto è lungo {{length}} caratteri, IO ne accetta al massimo 10000 "
        f"({_LIMITS_IT})",
    ),
    ProblemCode.REMOTE_DETAILS_INCOMPLETE: (
        "remote content needs both a remote subject and a remote text, but {column} is empty",
        "il contenuto remoto richiede sia l'oggetto sia il testo remoto, ma {column} è vuoto",
    ),
    ProblemCode.REMOTE_CONTENT_MISSING: (
        "has_remote_content is true but the row has no remote subject and text: IO would show "
        "the citizen an error",
        "has_remote_content è vero ma la riga non ha oggetto e testo remoti: IO mostrerebbe "
        "un errore al cittadino",
    ),
    ProblemCode.REMOTE_CONTENT_NOT_DECLARED: (
        "the row has a remote subject and text but has_remote_content is false: IO would "
        "never show them",
        "la riga ha oggetto e testo remoti ma has_remote_content è falso: IO non li "
        "mostrerebbe mai",
    ),
    ProblemCode.PRECONDITION_INCOMPLETE: (
        "a precondition needs both a title and a text, but {column} is empty",
        "una precondizione richiede sia il titolo sia il testo, ma {column} è vuoto",
    ),
    ProblemCode.PRECONDITION_MISSING: (
        "has_precondition is {value} but the row has no precondition title and text: IO "
        "would show the citizen an error",
        "has_precondition è {value} ma la riga non ha titolo e testo della precondizione: IO "
        "mostrerebbe un errore al cittadino",
    ),
    ProblemCode.PRECONDITION_NOT_DECLARED: (
        "the row has a precondition but has_precondition is NEVER: IO would never show it "
        "(leave has_precondition empty for ALWAYS, or write ONCE)",
        "la riga ha una precondizione ma has_precondition è NEVER: IO non la mostrerebbe mai "
        "(lasciare has_precondition vuoto per ALWAYS, o scrivere ONCE)",
    ),
    ProblemCode.ATTACHMENTS_MISSING: (
        "has_attachments is true but the row lists no attachment file: IO would show the "
        "citizen an error",
        "has_attachments è vero ma la riga non indica alcun file allegato: IO mostrerebbe un "
        "errore al cittadino",
    ),
    ProblemCode.ATTACHMENTS_NOT_DECLARED: (
        "the row has attachments but has_attachments is false: IO would drop them",
        "la riga ha allegati ma has_attachments è falso: IO li scarterebbe",
    ),
    ProblemCode.ATTACHMENT_MISSING: ("attachment {value}", "allegato {value}"),
    ProblemCode.ATTACHMENT_NOT_PDF: ("attachment {value}", "allegato {value}"),
    ProblemCode.ATTACHMENT_ENCRYPTED: ("attachment {value}", "allegato {value}"),
    ProblemCode.ATTACHMENT_TOO_LARGE: ("attachment {value}", "allegato {value}"),
    ProblemCode.ATTACHMENT_NAME: ("attachment {value}", "allegato {value}"),
    ProblemCode.ATTACHMENT_NOT_PDFA: ("attachment {value}", "allegato {value}"),
    ProblemCode.ATTACHMENT_VALIDATOR: ("attachment {value}", "allegato {value}"),
    ProblemCode.ATTACHMENT_ID_DUPLICATE: (
        "two attachments of this message have the id {value!r} (the same file listed twice, "
        "or a file named like a campaign-wide attachment): each id must be unique within "
        "the message",
        "due allegati di questo messaggio hanno l'id {value!r} (lo stesso file indicato due "
        "volte, o un file con il nome di un allegato comune alla campagna): ogni id deve "
        "essere unico nel messaggio",
    ),
    ProblemCode.INVALID_BYTES: (
        "the cell holds bytes that are not UTF-8 ({value}): re-export the file as CSV UTF-8",
        "la cella contiene byte che non sono UTF-8 ({value}): riesportare il file come CSV UTF-8",
    ),
    ProblemCode.EXCEL_NUMBER: (
        "Excel stored {value} as a number, which cannot hold this identifier exactly: format "
        "the column as Text and enter the values again",
        "Excel ha salvato {value} come numero, che non può contenere esattamente questo "
        "identificativo: formattare la colonna come Testo e reinserire i valori",
    ),
    ProblemCode.SUBJECT_PERSONAL_DATA: (
        "the subject contains personal data from column {column}: AgID guidelines ask to keep "
        "personal data out of the subject",
        "l'oggetto contiene dati personali della colonna {column}: le linee guida AgID chiedono "
        "di non metterli nell'oggetto",
    ),
    ProblemCode.MARKDOWN_HTML: (
        "the text contains raw HTML ({value}): the IO app does not render it",
        "il testo contiene HTML ({value}): l'app IO non lo interpreta",
    ),
    ProblemCode.DUE_DATE_PAST: (
        "the due date {value} is already past",
        "la scadenza {value} è già passata",
    ),
    ProblemCode.REMOTE_NOT_SECURE: (
        "remote content without require_secure_channels: IO forwards the courtesy text by "
        "e-mail and shows it in the push notification; set require_secure_channels to true "
        "for sensitive content",
        "contenuto remoto senza require_secure_channels: IO inoltra il testo di cortesia per "
        "e-mail e lo mostra nella notifica; impostare require_secure_channels a vero per "
        "contenuti riservati",
    ),
    ProblemCode.COURTESY_TEXT_LONG: (
        "the courtesy text is {value} characters long: the e-mail forward of a remote-content "
        "message shows only the first 134",
        "il testo di cortesia è lungo {value} caratteri: l'inoltro per e-mail di un messaggio "
        "a contenuto remoto ne mostra solo i primi 134",
    ),
    ProblemCode.ATTACHMENTS_WITHOUT_FILES: (
        "has_attachments is true but the campaign gives no attachment files: your own "
        "content server must serve them, or IO shows the citizen an error",
        "has_attachments è vero ma la campagna non indica file allegati: deve servirli il "
        "vostro server dei contenuti, altrimenti IO mostra un errore al cittadino",
    ),
    ProblemCode.SEND_AFTER_DUE_DATE: (
        "send after {value} is later than the due date: the citizen would get the message "
        "once it is due",
        "invia dal {value} è dopo la scadenza: il cittadino riceverebbe il messaggio a "
        "scadenza già passata",
    ),
    ProblemCode.DUPLICATE: (
        "same fiscal code as row {other_row}: one message per person, this row is not sent",
        "stesso codice fiscale della riga {other_row}: un messaggio per persona, questa riga "
        "non viene inviata",
    ),
}


# Sentences for problems said once for the whole file (see file_problems.py).
FILE_MESSAGES: dict[str, tuple[str, str]] = {
    "suggestion": ("did you mean {{{suggestion}}}?", "forse si intendeva {{{suggestion}}}?"),
    "columns_found": ("the file's columns: {columns}", "le colonne del file: {columns}"),
    "from_template": (
        "it comes from the template: every row that uses it has this problem",
        "deriva dal modello: ogni riga che lo usa ha questo problema",
    ),
    "unreadable": (
        "could not be validated: reading it failed unexpectedly ({cause}); nothing was sent. "
        "Check the file (export it again as CSV UTF-8 or .xlsx) and report this error",
        "non è stato possibile validarlo: la lettura non è riuscita ({cause}); non è stato "
        "inviato nulla. Controllare il file (riesportarlo come CSV UTF-8 o .xlsx) e segnalare "
        "questo errore",
    ),
}


def file_message(key: str, language: Language = Language.EN, **context: object) -> str:
    """A sentence of :data:`FILE_MESSAGES` in ``language``."""
    english, italian = FILE_MESSAGES[key]
    return (italian if language == "it" else english).format(**context)


def message_for(code: ProblemCode, language: Language = Language.EN, **context: object) -> str:
    """The sentence for ``code`` in ``language``, with ``context`` filled in."""
    english, italian = MESSAGES[code]
    return (italian if language == "it" else english).format(**context)


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong (or worth a look) in one row; ``column`` is the file's own header."""

    row: int
    column: str | None
    code: ProblemCode
    severity: Severity
    message: str

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR

    @property
    def is_warning(self) -> bool:
        return self.severity is Severity.WARNING


# Problems the reader finds in single cells (bytes that are not UTF-8, an identifier that
# Excel stored as a number): one row per cell, ``column`` the internal column name, ``code``
# a ProblemCode value, ``value`` the text for the message's ``{value}``. ``Campaign`` makes
# those rows invalid and reports each problem with the others of its row.
CELL_PROBLEM_SCHEMA = {"__row": pl.Int64, "column": pl.String, "code": pl.String,
                       "value": pl.String}


def no_cell_problems() -> pl.DataFrame:
    """An empty frame of :data:`CELL_PROBLEM_SCHEMA` (a file read without such problems)."""
    return pl.DataFrame(schema=CELL_PROBLEM_SCHEMA)


class CampaignFileError(Exception):
    """The file (or template) as a whole cannot be used; the message names it and says why."""

    def __init__(self, path: object, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason
