"""See a message before sending it: rows of a campaign as the IO app shows them.

The pieces, each with one job::

    card = build_card(row, translator(lang), sender="Comune di Esempio")   # card.py
    print_cards([card], t, console)                                         # terminal.py
    write_page(path, [card], t, facts)                                      # page.py (0600)

``markdown.py`` splits IO's call-to-action front matter from the text and renders the
markdown (raw HTML stays text, images are never fetched); ``words.py`` holds the sentences
both renderers say. ``dispatcher preview`` (operations/preview.py) puts them together.
"""

from dispatcher.preview.card import Card, FileFacts, Issue, Payment, Remote, build_card
from dispatcher.preview.markdown import Button, FrontMatter, render_html, split_front_matter
from dispatcher.preview.page import page_html, write_page
from dispatcher.preview.terminal import print_cards, render_card

__all__ = [
    "Button",
    "Card",
    "FileFacts",
    "FrontMatter",
    "Issue",
    "Payment",
    "Remote",
    "build_card",
    "page_html",
    "print_cards",
    "render_card",
    "render_html",
    "split_front_matter",
    "write_page",
]
