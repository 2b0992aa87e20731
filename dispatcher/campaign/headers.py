"""Column names as offices write them, mapped to the fields the IO payload needs.

A header is reduced to a *key*: accents removed, lower-cased, every character that is not a
letter or a digit dropped. ``Codice Fiscale``, ``codice_fiscale`` and ``CODICE-FISCALE`` all
become ``codicefiscale``, which the alias table maps to ``fiscal_code``. Template placeholders
go through the same function, so ``{Scadenza}`` finds the column ``data_scadenza``.
Columns that are not payload fields are kept under their key as template variables.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from dispatcher.campaign.problems import CampaignFileError

# Canonical field -> aliases (written loosely; they are keyed like headers).
FIELD_ALIASES: dict[str, tuple[str, ...]] = {
    "fiscal_code": (
        "fiscal_code", "codice_fiscale", "cf", "taxcode", "tax_code", "cod_fisc",
        "cod_fiscale", "codice_fiscale_destinatario", "cf_destinatario", "cf_contribuente",
        "codice_fiscale_contribuente",
    ),
    "subject": ("subject", "oggetto", "titolo", "title"),
    "markdown": ("markdown", "testo", "messaggio", "corpo", "body", "text", "message"),
    "amount": (
        "amount", "importo", "importo_centesimi", "importo_in_centesimi", "amount_cents",
        "importo_dovuto",
    ),
    "notice_number": (
        "notice_number", "codice_avviso", "numero_avviso", "nav", "codice_avviso_pagamento",
        "numero_avviso_pagamento", "avviso",
    ),
    "due_date": ("due_date", "scadenza", "data_scadenza", "data_di_scadenza"),
    "invalid_after_due_date": (
        "invalid_after_due_date", "non_pagabile_dopo_scadenza", "invalido_dopo_scadenza",
    ),
    "payee_fiscal_code": (
        "payee_fiscal_code", "payee", "cf_ente", "codice_fiscale_ente", "ente_creditore",
        "cf_ente_creditore", "codice_fiscale_ente_creditore",
    ),
    "feature_level_type": ("feature_level_type", "livello", "livello_messaggio"),
    "third_party_id": ("third_party_id", "id_contenuto_remoto", "id_terza_parte"),
    "configuration_id": ("configuration_id", "id_configurazione"),
    "has_remote_content": ("has_remote_content", "contenuto_remoto"),
    "has_attachments": ("has_attachments", "allegati", "con_allegati"),
    "has_precondition": ("has_precondition", "precondizione"),
    "summary": ("summary", "sommario", "riepilogo"),
    "original_sender": ("original_sender", "mittente_originale"),
    "original_receipt_date": (
        "original_receipt_date", "data_ricezione", "data_ricezione_originale",
    ),
    "remote_subject": ("remote_subject", "oggetto_remoto", "titolo_remoto"),
    "remote_markdown": ("remote_markdown", "remote_text", "testo_remoto", "messaggio_remoto"),
    "precondition_title": ("precondition_title", "titolo_precondizione"),
    "precondition_markdown": (
        "precondition_markdown", "precondition_text", "testo_precondizione",
    ),
    "attachments": (
        "attachments", "attachment_files", "allegati_file", "file_allegati", "file_allegato",
        "percorsi_allegati",
    ),
    "time_to_live": ("time_to_live", "ttl"),
    # not sent to IO: the row waits in the ledger until then (dispatcher.schedule)
    "send_after": ("send_after", "invia_dal", "inviare_dal", "invio_dal", "data_invio"),
    "require_secure_channels": ("require_secure_channels", "canali_sicuri"),
}

FIELDS: tuple[str, ...] = tuple(FIELD_ALIASES)

# Keys of columns that hold personal data: their values must not appear in a subject.
PERSONAL_KEYS: frozenset[str] = frozenset({
    "nome", "cognome", "nominativo", "name", "surname", "firstname", "lastname", "fullname",
    "ragionesociale", "denominazione", "email", "mail", "pec", "telefono", "cellulare",
    "phone", "indirizzo", "address", "datanascita", "datadinascita", "birthdate",
    "luogonascita", "luogodinascita", "residenza",
})

_NOT_ALNUM = re.compile(r"[\W_]+")


def header_key(name: str) -> str:
    """``'Data di Scadenza '`` → ``'datadiscadenza'``: accents, case and punctuation ignored."""
    decomposed = unicodedata.normalize("NFKD", name)
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _NOT_ALNUM.sub("", bare.casefold())


_ALIAS_TO_FIELD: dict[str, str] = {
    header_key(alias): field for field, aliases in FIELD_ALIASES.items() for alias in aliases
}


def column_name(name: str) -> str:
    """The internal column name for a header or placeholder: a field, else its key."""
    key = header_key(name)
    return _ALIAS_TO_FIELD.get(key, key)


@dataclass(frozen=True)
class Columns:
    """The file's header resolved: internal names in file order, and their original labels."""

    names: tuple[str, ...]
    labels: dict[str, str]  # internal name -> header as written in the file
    unnamed: tuple[int, ...]  # positions of columns with an empty header

    def label(self, name: str) -> str:
        """How to call a column in a message: the file's header, else the field name."""
        return self.labels.get(name, name)


def resolve_headers(headers: list[str | None], path: object) -> Columns:
    """Map raw header cells to internal names; two headers meaning the same thing is an error."""
    names: list[str] = []
    labels: dict[str, str] = {}
    unnamed: list[int] = []
    for position, raw in enumerate(headers):
        text = (raw or "").strip()
        if not header_key(text):
            unnamed.append(position)
            continue
        name = column_name(text)
        if name in labels:
            raise CampaignFileError(
                path,
                f"columns {labels[name]!r} and {text!r} both mean {name!r}; keep only one",
            )
        labels[name] = text
        names.append(name)
    return Columns(tuple(names), labels, tuple(unnamed))
