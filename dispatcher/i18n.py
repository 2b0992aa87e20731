"""One language at a time: gettext catalogs for the texts, Babel for numbers, money and dates.

Every human-facing string is written in English in the source and wrapped in a translator's
``gettext``; the Italian text lives in ``dispatcher/locale/it/LC_MESSAGES/*.po``, one catalog
per room (``dispatcher.po`` for the commands, ``report.po`` for the report, ...), merged into
one translation when first used.
Why a ``.po`` read at run time (compiled in memory with Babel) instead of a committed ``.mo``:
the catalog stays a reviewable text file, and there is no build step a clone could forget.

Numbers, euro amounts and dates go through Babel in the chosen locale (``it_IT`` or ``en_GB``)
so that ``1.234,50 €`` and ``31/01/2027`` are never formatted by hand. Times shown to people
are in Europe/Rome: that is where the office and the citizens are.
"""

from __future__ import annotations

import gettext
import io
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal

from dispatcher.vocabulary import Language

__all__ = ["N_", "ROME", "Translator", "language_from_environment", "resolve_language",
           "translator"]

ROME = ZoneInfo("Europe/Rome")
DOMAIN = "dispatcher"
LOCALE_DIR = Path(__file__).parent / "locale"
_LOCALES = {Language.IT: "it_IT", Language.EN: "en_GB"}


def N_(message: str) -> str:
    """Marks an English text for the catalog where it is defined (a table, an exception);
    whoever prints it translates it then, in the language of that moment."""
    return message


def language_from_environment(environ: Mapping[str, str] | None = None) -> Language:
    """The language ``LC_ALL``/``LC_MESSAGES``/``LANG`` ask for; Italian when none says.

    Italian is the default because the offices using the tool are Italian; ``C``/``POSIX``
    (what cron gives) says nothing about a language, so it falls through to Italian too.
    ``DISPATCHER_LANG`` (``it``/``en``) comes first: it chooses this tool's language without
    changing the locale of everything else a crontab runs.
    """
    env = os.environ if environ is None else environ
    own = (env.get("DISPATCHER_LANG") or "").strip().lower()
    if own in (Language.IT.value, Language.EN.value):
        return Language(own)
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = (env.get(name) or "").strip().lower()
        if not value or value in ("c", "posix") or value.startswith("c."):
            continue
        return Language.EN if value.startswith("en") else Language.IT
    return Language.IT


def resolve_language(flag: str | Language | None,
                     environ: Mapping[str, str] | None = None) -> Language:
    """``--lang`` when given (``it``/``en``, any case), else the environment's language.

    Raises ``ValueError`` naming the accepted values for anything else.
    """
    if flag is None or flag == "":
        return language_from_environment(environ)
    try:
        return Language(str(flag).strip().lower())
    except ValueError:
        raise ValueError(f"--lang must be it or en, not {flag!r}") from None


@cache
def _translations(language: Language) -> gettext.NullTranslations:
    if language == Language.EN:
        return gettext.NullTranslations()
    catalog = Catalog(locale=language.value, domain=DOMAIN)
    for path in sorted((LOCALE_DIR / language.value / "LC_MESSAGES").glob("*.po")):
        with path.open("rb") as handle:
            part = read_po(handle, locale=language.value, domain=DOMAIN)
        for message in part:
            if message.id and message.string:
                catalog[message.id] = message
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


@dataclass(frozen=True)
class Translator:
    """Texts and formats of one language. Get one with :func:`translator`."""

    language: Language

    @property
    def locale(self) -> Locale:
        return Locale.parse(_LOCALES[self.language])

    def gettext(self, message: str) -> str:
        """``message`` (English source text) in this language."""
        return _translations(self.language).gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return _translations(self.language).ngettext(singular, plural, n)

    def number(self, value: int | float | Decimal) -> str:
        """``80.000`` in Italian, ``80,000`` in English."""
        return format_decimal(value, locale=self.locale)

    def euro(self, cents: int) -> str:
        """An amount in euro cents as the locale writes money: ``1.234,50 €``."""
        return format_currency(Decimal(cents) / 100, "EUR", locale=self.locale)

    def date(self, value: date | datetime) -> str:
        """A calendar date, short form: ``31/01/2027``."""
        if isinstance(value, datetime):
            value = value.astimezone(ROME).date() if value.tzinfo else value.date()
        return format_date(value, format="short" if self.language == Language.EN
                           else "dd/MM/yyyy", locale=self.locale)

    def datetime(self, value: datetime) -> str:
        """A moment, in Europe/Rome: ``31/01/2027 14:05``."""
        moment = value.astimezone(ROME) if value.tzinfo else value.replace(tzinfo=ROME)
        return format_datetime(moment, "dd/MM/yyyy HH:mm", tzinfo=ROME, locale=self.locale)


@cache
def translator(language: Language | str) -> Translator:
    """The translator of ``language`` (cached: catalogs are read once per process)."""
    return Translator(Language(language))
