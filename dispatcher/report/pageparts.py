"""What every part of the HTML page shares: the reader's language and escaping.

Numbers, shares and moments go through the translator's Babel formats (``1.234``, ``14,3 %``,
``15/01/2027 09:00`` in Europe/Rome); nothing is formatted by hand.
"""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape

from dispatcher.i18n import Translator
from dispatcher.report.labels import Language, tr

__all__ = ["Format", "e"]


def e(value: object) -> str:
    """``value`` as HTML text (``None`` is empty)."""
    return escape("" if value is None else str(value))


class Format:
    """The page's language: texts, numbers and Rome times."""

    def __init__(self, lang: Language | str) -> None:
        self.lang = Language(lang)
        self.tr: Translator = tr(self.lang)

    def t(self, message: str, **values: object) -> str:
        """``message`` translated, then its ``{placeholders}`` filled."""
        text = self.tr.gettext(message)
        return text.format(**values) if values else text

    def n(self, singular: str, plural: str, count: int, **values: object) -> str:
        return self.tr.ngettext(singular, plural, count).format(n=self.integer(count), **values)

    def integer(self, n: int) -> str:
        return self.tr.number(n)

    def decimal(self, x: float, digits: int = 1) -> str:
        return self.tr.number(round(x, digits))

    def share(self, part: int, whole: int) -> str:
        return f"{self.decimal(100 * part / whole)} %" if whole else "–"

    def moment(self, at: float | datetime | None) -> str:
        if at is None:
            return "–"
        moment = at if isinstance(at, datetime) else datetime.fromtimestamp(at, UTC)
        return self.tr.datetime(moment)
