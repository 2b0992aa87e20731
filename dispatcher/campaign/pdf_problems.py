"""What can be wrong with an attachment, in words an office can act on, in both languages.

IO itself only checks that an attachment's bytes start with ``%PDF`` (anything else is a 415
when the citizen opens the message); the IO guide asks for PDF/A. So the pre-flight reports
each reason separately, with a stable :class:`PdfProblemCode` for programs and tests, and an
English and an Italian sentence for people. The sentences never contain the file's path (the
caller names the row, column and file); names and validator output that could hold a fiscal
code (attachments are often named after the recipient) are masked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from babel.numbers import format_decimal

from dispatcher.privacy import mask_fiscal_codes_in
from dispatcher.vocabulary import Language

__all__ = ["PdfProblem", "PdfProblemCode", "human_size"]


class PdfProblemCode(StrEnum):
    """Why an attachment is refused. A ``str``, so callers may compare with plain strings."""

    MISSING = "pdf_missing"
    UNREADABLE = "pdf_unreadable"
    NOT_PDF = "pdf_not_pdf"
    DAMAGED = "pdf_damaged"
    ENCRYPTED = "pdf_encrypted"
    TOO_LARGE = "pdf_too_large"
    NAME = "pdf_name"
    PDFA_NOT_DECLARED = "pdfa_not_declared"
    PDFA_UNKNOWN_LEVEL = "pdfa_unknown_level"
    OUTPUT_INTENT = "pdfa_output_intent"
    FONT_NOT_EMBEDDED = "pdf_font_not_embedded"
    JAVASCRIPT = "pdf_javascript"
    LAUNCH_ACTION = "pdf_launch_action"
    EMBEDDED_FILES = "pdfa_embedded_files"
    TRANSPARENCY = "pdfa1_transparency"
    VALIDATOR_FAILED = "pdfa_validator_failed"
    VALIDATOR_TIMEOUT = "pdfa_validator_timeout"
    CONVERSION_FAILED = "pdfa_conversion_failed"


@dataclass(frozen=True, slots=True)
class PdfProblem:
    """One reason an attachment is not acceptable: a code and the sentence in each language."""

    code: str
    english: str
    italian: str

    def text(self, language: Language | str) -> str:
        """The sentence in ``language`` (``it`` or ``en``)."""
        return self.italian if Language(language) == Language.IT else self.english


_LOCALES = {Language.IT: "it_IT", Language.EN: "en_GB"}
_UNITS = (("GB", 1000**3), ("MB", 1000**2), ("kB", 1000))


def human_size(size: int, language: Language | str = Language.EN) -> str:
    """``12.4 MB`` / ``12,4 MB``: decimal units, one decimal, in the locale's notation."""
    locale = _LOCALES[Language(language)]
    for unit, factor in _UNITS:
        if size >= factor:
            return f"{format_decimal(size / factor, format='#,##0.#', locale=locale)} {unit}"
    return f"{format_decimal(size, locale=locale)} bytes" if Language(language) == Language.EN \
        else f"{format_decimal(size, locale=locale)} byte"


def _list(items: Sequence[str], more: int, language: Language) -> str:
    joined = ", ".join(items)
    if more > 0:
        joined += f" and {more} more" if language == Language.EN else f" e altri {more}"
    return joined


# -- the problems, one builder each ------------------------------------------------------------


def missing() -> PdfProblem:
    return PdfProblem(PdfProblemCode.MISSING,
                      "the file does not exist: check the path (relative to the campaign file)",
                      "il file non esiste: controllare il percorso (relativo al file della "
                      "campagna)")


_UNREADABLE = {
    "folder": ("it is a folder", "è una cartella"),
    "special": ("it is not a regular file", "non è un file normale"),
    "permission": ("permission denied", "permesso negato"),
}


def unreadable(kind: str) -> PdfProblem:
    """``kind``: ``folder``, ``special``, ``permission``, or the system's error name."""
    en, it = _UNREADABLE.get(kind, (kind, kind))
    return PdfProblem(PdfProblemCode.UNREADABLE,
                      f"the file cannot be read ({en}): check that it is a file and its "
                      "permissions",
                      f"il file non si può leggere ({it}): controllare che sia un file e i "
                      "suoi permessi")


def not_pdf(start: bytes) -> PdfProblem:
    shown = repr(start[:8])[1:]
    return PdfProblem(PdfProblemCode.NOT_PDF,
                      f"not a PDF: the file starts with {shown}, not %PDF (IO refuses it); "
                      "save or export it as PDF/A",
                      f"non è un PDF: il file inizia con {shown} e non con %PDF (IO lo rifiuta); "
                      "salvarlo o esportarlo come PDF/A")


def damaged(detail: str) -> PdfProblem:
    detail = mask_fiscal_codes_in(detail)
    return PdfProblem(PdfProblemCode.DAMAGED,
                      f"the PDF is damaged and does not open ({detail}); export it again",
                      f"il PDF è danneggiato e non si apre ({detail}); esportarlo di nuovo")


def password_protected() -> PdfProblem:
    return PdfProblem(PdfProblemCode.ENCRYPTED,
                      "the PDF is protected by a password: the citizen could not open it; "
                      "save it without protection",
                      "il PDF è protetto da password: il cittadino non potrebbe aprirlo; "
                      "salvarlo senza protezione")


def encrypted() -> PdfProblem:
    return PdfProblem(PdfProblemCode.ENCRYPTED,
                      "the PDF is encrypted (restrictions on printing or copying): PDF/A forbids "
                      "encryption; save it without security settings",
                      "il PDF è cifrato (limiti di stampa o copia): il PDF/A non ammette la "
                      "cifratura; salvarlo senza impostazioni di sicurezza")


def too_large(size: int, cap: int) -> PdfProblem:
    en = f"{human_size(size, Language.EN)} ({size:,} bytes)"
    it = f"{human_size(size, Language.IT)} ({format_decimal(size, locale='it_IT')} byte)"
    return PdfProblem(PdfProblemCode.TOO_LARGE,
                      f"the file is {en}, over the limit of {human_size(cap, Language.EN)}; "
                      "reduce it (fewer pages, smaller images)",
                      f"il file è di {it}, oltre il limite di {human_size(cap, Language.IT)}; "
                      "ridurlo (meno pagine, immagini più leggere)")


def bad_name(name: str) -> PdfProblem:
    shown = mask_fiscal_codes_in(name)
    return PdfProblem(PdfProblemCode.NAME,
                      f"the attachment name {shown!r} does not end in .pdf: the app shows it "
                      "by its name; rename it",
                      f"il nome dell'allegato {shown!r} non finisce con .pdf: l'app lo mostra "
                      "con questo nome; rinominarlo")


def pdfa_not_declared(detail_en: str, detail_it: str) -> PdfProblem:
    why_en, why_it = f" ({detail_en})", f" ({detail_it})"
    return PdfProblem(PdfProblemCode.PDFA_NOT_DECLARED,
                      f"not a PDF/A: the file's metadata declare no PDF/A level{why_en}; "
                      "export it as PDF/A-2 (or convert it with --convert-pdfa)",
                      f"non è un PDF/A: i metadati del file non dichiarano un livello PDF/A"
                      f"{why_it}; esportarlo come PDF/A-2 (o convertirlo con --convert-pdfa)")


def pdfa_unknown_level(part: str, conformance: str) -> PdfProblem:
    declared = f"part {part!r}, conformance {conformance!r}"
    dichiarato = f"parte {part!r}, conformità {conformance!r}"
    return PdfProblem(PdfProblemCode.PDFA_UNKNOWN_LEVEL,
                      f"the PDF/A level declared ({declared}) does not exist; "
                      "export it again as PDF/A-2",
                      f"il livello PDF/A dichiarato ({dichiarato}) non esiste; "
                      "esportarlo di nuovo come PDF/A-2")


def no_output_intent(detail_en: str, detail_it: str) -> PdfProblem:
    return PdfProblem(PdfProblemCode.OUTPUT_INTENT,
                      f"{detail_en}: PDF/A needs one to fix its colours; export it again as "
                      "PDF/A (or convert it with --convert-pdfa)",
                      f"{detail_it}: il PDF/A ne richiede uno per fissare i colori; esportarlo "
                      "di nuovo come PDF/A (o convertirlo con --convert-pdfa)")


def fonts_not_embedded(fonts: Sequence[tuple[str, int]], more: int) -> PdfProblem:
    en = _list([f"{name} (page {page})" for name, page in fonts], more, Language.EN)
    it = _list([f"{name} (pagina {page})" for name, page in fonts], more, Language.IT)
    return PdfProblem(PdfProblemCode.FONT_NOT_EMBEDDED,
                      f"fonts not embedded: {en}; the citizen's phone may show other letters. "
                      "Export with 'embed all fonts' (PDF/A does)",
                      f"caratteri non incorporati: {it}; il telefono del cittadino potrebbe "
                      "mostrare altre lettere. Esportare con 'incorpora tutti i caratteri' "
                      "(il PDF/A lo fa)")


Place = tuple[str, int | None]
"""Where an action sits: a kind from :data:`_PLACES` and a page number when it has one."""

_PLACES = {
    "opening": ("when the document opens", "all'apertura del documento"),
    "names": ("document scripts", "script del documento"),
    "events": ("document events", "eventi del documento"),
    "page": ("page {page}", "pagina {page}"),
    "annotation": ("a link or field on page {page}", "un link o campo a pagina {page}"),
    "field": ("a form field", "un campo del modulo"),
    "bookmark": ("a bookmark", "un segnalibro"),
}


def _places(places: Sequence[Place], more: int, language: Language) -> str:
    index = 0 if language == Language.EN else 1
    shown = [_PLACES[kind][index].format(page=page) for kind, page in places]
    return _list(list(dict.fromkeys(shown)), more, language)


def javascript(places: Sequence[Place], more: int) -> PdfProblem:
    where, dove = _places(places, more, Language.EN), _places(places, more, Language.IT)
    return PdfProblem(PdfProblemCode.JAVASCRIPT,
                      f"the PDF contains JavaScript ({where}), which PDF/A forbids; remove it "
                      "or print the document to a new PDF/A",
                      f"il PDF contiene JavaScript ({dove}), vietato nel PDF/A; rimuoverlo o "
                      "stampare il documento in un nuovo PDF/A")


def launch_action(places: Sequence[Place], more: int) -> PdfProblem:
    where, dove = _places(places, more, Language.EN), _places(places, more, Language.IT)
    return PdfProblem(PdfProblemCode.LAUNCH_ACTION,
                      f"the PDF would start a program or open a file (a launch action: "
                      f"{where}), which PDF/A forbids; remove it",
                      f"il PDF avvierebbe un programma o aprirebbe un file (azione 'launch': "
                      f"{dove}), vietato nel PDF/A; rimuoverla")


def embedded_files(level: str, names: Sequence[str], more: int) -> PdfProblem:
    shown = [mask_fiscal_codes_in(name) for name in names]
    if level.startswith("1"):
        en = f"PDF/A-1 allows no embedded files, and this one has {_list(shown, more, Language.EN)}"
        it = f"il PDF/A-1 non ammette file allegati al suo interno, e questo ha " \
             f"{_list(shown, more, Language.IT)}"
    else:
        en = f"PDF/A-2 allows only PDF/A files inside, and these are not: " \
             f"{_list(shown, more, Language.EN)}"
        it = f"il PDF/A-2 ammette al suo interno solo file PDF/A, e questi non lo sono: " \
             f"{_list(shown, more, Language.IT)}"
    return PdfProblem(PdfProblemCode.EMBEDDED_FILES,
                      f"{en}; remove them or attach them separately",
                      f"{it}; rimuoverli o allegarli a parte")


def transparency(pages: Sequence[int], more: int) -> PdfProblem:
    where = _list([str(page) for page in pages], more, Language.EN)
    dove = _list([str(page) for page in pages], more, Language.IT)
    return PdfProblem(PdfProblemCode.TRANSPARENCY,
                      f"PDF/A-1 allows no transparency, and this file uses it (page {where}); "
                      "export it as PDF/A-2 instead",
                      f"il PDF/A-1 non ammette trasparenze, e questo file le usa (pagina "
                      f"{dove}); esportarlo invece come PDF/A-2")


def validator_failed(program: str, lines: Sequence[str]) -> PdfProblem:
    quoted = mask_fiscal_codes_in(" | ".join(lines)) or "no output"
    quotato = quoted if lines else "nessun messaggio"
    return PdfProblem(PdfProblemCode.VALIDATOR_FAILED,
                      f"the PDF/A validator {program} refused the file: {quoted}",
                      f"il validatore PDF/A {program} ha rifiutato il file: {quotato}")


def validator_timeout(program: str, seconds: float) -> PdfProblem:
    return PdfProblem(PdfProblemCode.VALIDATOR_TIMEOUT,
                      f"the PDF/A validator {program} did not finish within {seconds:g} s; "
                      "the file was not judged (give it more time or check the validator)",
                      f"il validatore PDF/A {program} non ha finito entro {seconds:g} s; "
                      "il file non è stato giudicato (dargli più tempo o controllare il "
                      "validatore)")


def pages_lost(expected: int, found: int) -> PdfProblem:
    return PdfProblem(PdfProblemCode.CONVERSION_FAILED,
                      f"the PDF/A made by Ghostscript has {found} page(s) instead of {expected}; "
                      "export the document as PDF/A from the program that made it",
                      f"il PDF/A prodotto da Ghostscript ha {found} pagine invece di {expected}; "
                      "esportare il documento come PDF/A dal programma che lo ha creato")


def conversion_timeout(seconds: float) -> PdfProblem:
    return PdfProblem(PdfProblemCode.CONVERSION_FAILED,
                      f"Ghostscript did not finish converting the file within {seconds:g} s",
                      f"Ghostscript non ha finito di convertire il file entro {seconds:g} s")


def conversion_failed(lines: Sequence[str]) -> PdfProblem:
    quoted = mask_fiscal_codes_in(" | ".join(lines)) or "no message"
    quotato = quoted if lines else "nessun messaggio"
    return PdfProblem(PdfProblemCode.CONVERSION_FAILED,
                      f"Ghostscript could not convert the file to PDF/A: {quoted}",
                      f"Ghostscript non è riuscito a convertire il file in PDF/A: {quotato}")
