"""The preview room's parts: the CTA block read as the app reads it, markdown that cannot inject,
cards with remote content, both renderers, and an Italian text for every label."""

from __future__ import annotations

import ast
import io
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from rich.console import Console

from dispatcher.content.model import Attachment, Precondition, RemoteContent
from dispatcher.i18n import translator
from dispatcher.message import MessageContent, OutgoingMessage, PaymentData, ThirdPartyData
from dispatcher.preview import (
    FileFacts,
    build_card,
    page_html,
    render_card,
    render_html,
    split_front_matter,
    words,
)
from dispatcher.preview.markdown import render_rich
from dispatcher.vocabulary import InputVerdict

REPO = Path(__file__).resolve().parents[2]
CATALOG = REPO / "dispatcher" / "locale" / "it" / "LC_MESSAGES" / "preview.po"
CF = "DNGNCL87P28L736E"
BLOCK = """---
it:
  cta_1:
    text: "Paga"
    action: "ioit://PAYMENTS_HOME"
---
"""


@dataclass(frozen=True)
class RemoteRow:
    """A campaign row as the remote-content campaign input makes it: with ``remote``."""

    row: int
    fiscal_code: str
    state: InputVerdict
    message: OutgoingMessage | None
    problems: tuple = ()
    duplicate_of: int | None = None
    remote: RemoteContent | None = None


def _message(markdown: str, *, remote: bool = False, subject: str = "Avviso TARI 2027",
             ) -> OutgoingMessage:
    third = ThirdPartyData("PRATICA-7", "01ARZ3NDEKTSV4RRFFQ69G5FAV", True, True, "ONCE",
                           None, "Ufficio tributi") if remote else None
    content = MessageContent(subject, markdown, "2027-01-31T22:59:59.000Z",
                             PaymentData(123456, "301234567890123416", True, None), third)
    return OutgoingMessage(CF, content, "ADVANCED" if remote else None)


def _remote_content() -> RemoteContent:
    attachment = Attachment("a1", "avviso-TARI-2027.pdf", "0" * 64, 1024, "a1")
    return RemoteContent("PRATICA-7", "Il suo avviso TARI", "Testo remoto " * 10,
                         Precondition("Prima di aprire", "Dati riservati."), (attachment,))


def test_the_front_matter_gives_buttons_per_language_and_leaves_the_body() -> None:
    front = split_front_matter(BLOCK.replace("---\n", "---\nen:\n  cta_1:\n    text: Pay\n"
                                             "    action: ioit://PAYMENTS_HOME\n", 1)
                               + "# Titolo\n\nTesto")
    assert [b.text for b in front.buttons["it"]] == ["Paga"]
    assert [b.text for b in front.buttons["en"]] == ["Pay"]
    assert front.body == "# Titolo\n\nTesto"


@pytest.mark.parametrize("text", ["Solo testo\n---\nit: x", "---\nit:\n  cta_1: x\nnever closed"])
def test_a_text_without_a_closed_block_is_all_body(text: str) -> None:
    front = split_front_matter(text)
    assert front.buttons == {} and front.body == text


def test_yes_is_a_label_not_a_boolean() -> None:
    """YAML 1.2 like the app's js-yaml: ``text: yes`` is the word, not True."""
    front = split_front_matter("---\nit:\n  cta_1:\n    text: yes\n    action: ioit://X\n---\n")
    assert front.buttons["it"][0].text == "yes"


def test_html_output_fetches_nothing_and_runs_nothing() -> None:
    html = render_html("![logo](https://tracker.example/p.png) [x](javascript:alert(1)) "
                       "<img src=https://tracker.example/q.png onerror=alert(2)>")
    assert "<img" not in html and "javascript:" not in html.split("[x]")[0]
    assert '<a href="javascript' not in html
    assert "&lt;img src=https://tracker.example/q.png onerror=alert(2)&gt;" in html
    assert '<span class="md-image"' in html and "[logo]" in html


def test_a_line_break_in_a_paragraph_is_a_line_break() -> None:
    assert "uno<br />\ndue" in render_html("uno\ndue")
    assert render_rich("uno\ndue").plain == "uno\ndue"


def test_the_terminal_text_is_built_from_tokens_not_markup() -> None:
    text = render_rich("# Titolo\n\n[bold]non markup[/bold] e **grassetto**\n\n- uno\n- due\n\n"
                       "1. primo\n2. secondo\n\n[sito](https://comune.it)")
    assert text.plain == ("Titolo\n\n[bold]non markup[/bold] e grassetto\n\n• uno\n• due\n\n"
                          "1. primo\n2. secondo\n\nsito (https://comune.it)")
    bold = [span for span in text.spans if "bold" in str(span.style)]
    assert any(text.plain[s.start:s.end] == "grassetto" for s in bold)


def test_a_row_with_remote_content_shows_subject_precondition_and_attachments() -> None:
    row = RemoteRow(4, CF, InputVerdict.VALID, _message(BLOCK + "Testo del messaggio",
                                                        remote=True), remote=_remote_content())
    card = build_card(row, translator("it"))
    assert card.premium and card.remote is not None
    assert card.remote.remote_subject == "Il suo avviso TARI"
    assert card.remote.precondition_title == "Prima di aprire"
    assert card.remote.attachments == ("avviso-TARI-2027.pdf",)
    lines = words.remote_lines(card.remote, translator("it"))
    assert "Oggetto remoto: Il suo avviso TARI" in lines
    assert "Premessa: mostrata alla prima apertura del messaggio" in lines
    assert "Allegati: avviso-TARI-2027.pdf" in lines
    assert "Mittente originale: Ufficio tributi" in lines
    out = Console(file=io.StringIO(), width=100)
    out.print(render_card(card, translator("en")))
    shown = out.file.getvalue()
    assert "Remote subject: Il suo avviso TARI" in shown and "avviso-TARI-2027.pdf" in shown
    assert "\x1b[" not in shown  # not a terminal: no ANSI codes
    assert CF not in shown


def test_without_remote_content_the_flags_still_say_what_io_fetches() -> None:
    row = RemoteRow(4, CF, InputVerdict.VALID, _message("Testo " * 20, remote=True))
    card = build_card(row, translator("en"))
    lines = words.remote_lines(card.remote, translator("en"))
    assert "Attachments: fetched from the ente's server when opened." in lines
    assert card.remote.attachments == () and card.remote.remote_subject is None


def test_buttons_only_in_another_language_show_none_and_say_why() -> None:
    row = RemoteRow(2, CF, InputVerdict.VALID, _message(BLOCK + "Testo"))
    english = build_card(row, translator("en"))
    assert english.buttons == () and english.buttons_missing == "it"
    assert "buttons only for it" in words.buttons_missing(english, translator("en"))
    assert [b.text for b in build_card(row, translator("it")).buttons] == ["Paga"]


def test_the_payment_box_marks_a_notice_that_expires() -> None:
    card = build_card(RemoteRow(2, CF, InputVerdict.VALID, _message("Testo")), translator("it"))
    assert card.payment.due_date == "31/01/2027" and card.due_date == "31/01/2027"
    assert card.payment.payee is None and card.payment.invalid_after_due_date
    page = page_html([card], translator("it"), FileFacts("c.csv", None, 1, 1, 0, 0))
    assert "Non pagabile dopo la scadenza" in page and "l&#x27;ente del servizio" in page


def test_the_page_escapes_the_sender_the_subject_and_fiscal_codes_in_text() -> None:
    message = _message(f"Codice fiscale {CF} del destinatario", subject="Avviso <i>x</i>")
    card = build_card(RemoteRow(2, CF, InputVerdict.VALID, message), translator("en"),
                      sender="<script>x</script> Comune")
    page = page_html([card], translator("en"), FileFacts("<c>.csv", None, 1, 1, 0, 0))
    assert "<script>x" not in page and "&lt;script&gt;x&lt;/script&gt; Comune" in page
    assert "Avviso &lt;i&gt;x&lt;/i&gt;" in page and "&lt;c&gt;.csv" in page
    assert CF not in page and "DNGNCL*******36E" in page


def _gettext_literals() -> set[str]:
    """Every string literal handed to ``gettext`` (or its alias ``g``) in the preview code."""
    files = [*(REPO / "dispatcher" / "preview").glob("*.py"),
             REPO / "dispatcher" / "commands" / "preview.py"]
    found: set[str] = set()
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call) or not node.args:
                continue
            name = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
            first = node.args[0]
            if name in ("gettext", "g") and isinstance(first, ast.Constant) \
                    and isinstance(first.value, str):
                found.add(first.value)
    return found


def test_every_label_has_an_italian_text() -> None:
    with CATALOG.open("rb") as handle:
        catalog = read_po(handle, locale="it")
    translated = {m.id: m.string for m in catalog if m.id and m.string}
    wanted = (_gettext_literals() | set(words.PRECONDITIONS.values()) | set(words.BADGES)
              | set(words.SEVERITIES))
    assert len(wanted) > 30  # the scan found the code's labels
    missing = sorted(wanted - set(translated))
    assert missing == []
    placeholders = re.compile(r"\{[^{}]*\}")
    changed = [key for key in wanted
               if set(placeholders.findall(key)) != set(placeholders.findall(translated[key]))]
    assert changed == []
    t = translator("it")
    assert t.gettext("Notice number") == "Codice avviso"
