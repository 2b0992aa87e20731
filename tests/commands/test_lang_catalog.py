"""Every text the commands print has its Italian translation, with the same placeholders.

The msgids are extracted from the code with Babel's own extractor (``_``, ``ngettext``,
``N_``), exactly as a translator's tool would, so a new English line without an Italian
one fails here rather than on an office's screen.
"""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po

from dispatcher.i18n import LOCALE_DIR

REPO = Path(__file__).resolve().parents[2]
SOURCES = [*sorted((REPO / "dispatcher" / "commands").glob("*.py")),
           *(REPO / "dispatcher" / "operations" / name
             for name in ("errors.py", "run.py", "starting.py"))]
PLACEHOLDER = re.compile(r"\{[^{}]*\}")


def _used() -> dict[str | tuple[str, ...], str]:
    """msgid (a tuple for plurals) → where the code uses it."""
    found: dict[str | tuple[str, ...], str] = {}
    for path in SOURCES:
        for line, message, _comments, _context in extract_from_file("python", str(path)):
            key = message if isinstance(message, str) else tuple(message)
            found.setdefault(key, f"{path.relative_to(REPO)}:{line}")
    return found


def _catalog() -> dict[str, object]:
    """Every Italian catalog merged, as the translator merges them: msgid → msgstr."""
    merged: dict[str, object] = {}
    for path in sorted((LOCALE_DIR / "it" / "LC_MESSAGES").glob("*.po")):
        with path.open("rb") as handle:
            for message in read_po(handle, locale="it"):
                if message.id and message.string:
                    key = message.id if isinstance(message.id, str) else message.id[0]
                    merged[key] = message.string
    return merged


def test_the_extractor_finds_the_commands_texts() -> None:
    used = _used()
    assert len(used) > 100  # the commands' lines, not an empty scan
    assert "row {row}, column {column}" in used
    assert ("OK: {n} message(s) ready", "OK: {n} message(s) ready") in used


def test_every_text_used_in_the_code_has_an_italian_translation() -> None:
    catalog = _catalog()
    missing = [f"{where}: {key!r}" for key, where in _used().items()
               if (key if isinstance(key, str) else key[0]) not in catalog]
    assert not missing, "no Italian text for:\n" + "\n".join(missing)


def test_translations_keep_every_placeholder_and_every_plural_form() -> None:
    catalog = _catalog()
    wrong = []
    for key in _used():
        english = [key] if isinstance(key, str) else list(key)
        italian = catalog.get(english[0])
        if italian is None:
            continue  # reported by the test above
        forms = [italian] if isinstance(italian, str) else list(italian)
        if not isinstance(key, str) and (len(forms) < 3 or not all(forms)):
            wrong.append(f"{english[0]!r}: Italian needs 3 plural forms (CLDR)")
        for index, form in enumerate(forms):
            source = set(PLACEHOLDER.findall(english[0] if index == 0 else english[-1]))
            found = set(PLACEHOLDER.findall(form))
            # a singular may say "one" instead of {n}; nothing else may go or come
            singular = index == 0 and not isinstance(key, str)
            if not (found <= source if singular else found == source):
                wrong.append(f"{english[0]!r} → {form!r}")
    assert not wrong, "\n".join(wrong)
