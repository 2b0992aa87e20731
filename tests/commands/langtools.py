"""What the language tests share: the labels of a catalog, and which ones an output holds."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.pofile import read_po

_PLACEHOLDER = re.compile(r"\{[^{}]*\}")
_EDGES = " \n.,:;()[]·→—-'`?"


def _pieces(text: str, other: str) -> set[str]:
    """The words of ``text`` between placeholders that ``other`` does not contain."""
    found = set()
    for piece in _PLACEHOLDER.split(text):
        piece = piece.strip(_EDGES)
        if re.search(r"[A-Za-zàèéìòù]{3,}", piece) and piece.lower() not in other.lower():
            found.add(piece)
    return found


def catalog_labels(catalog: Path) -> tuple[set[str], set[str]]:
    """(English labels, Italian labels) of one ``.po`` catalog."""
    english: set[str] = set()
    italian: set[str] = set()
    with catalog.open("rb") as handle:
        for message in read_po(handle, locale="it"):
            if not message.id:
                continue
            ids = [message.id] if isinstance(message.id, str) else list(message.id)
            strings = ([message.string] if isinstance(message.string, str)
                       else list(message.string))
            for source in ids:
                english |= _pieces(source, " ".join(strings))
            for target in strings:
                italian |= _pieces(target, " ".join(ids))
    return english, italian


def labels_found(labels: set[str], output: str) -> list[str]:
    """The labels that stand as words in ``output``."""
    return sorted(label for label in labels
                  if re.search(rf"(?<!\w){re.escape(label)}(?!\w)", output))
