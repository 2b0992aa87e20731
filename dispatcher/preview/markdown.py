"""A message text as the IO app reads it: CTA front matter apart, the rest as safe markdown.

The app takes a ``---`` front matter block off the top of the text (the ``front-matter`` npm
parser), turns the block of *its own* language (``it`` or ``en``; no fallback to the other:
io-app ``messages.ts``) into at most two buttons, and renders the rest as markdown. A
preview must do the same, or it shows buttons a citizen will never see.

One parser for both outputs (markdown-it, CommonMark, raw HTML off), so the terminal and
the page cannot disagree about what a text says. Raw HTML in a cell stays literal text:
the app does not render it, and a page made from a campaign file must not run what a row
typed. A line break inside a paragraph is a line break, as in the app (its text views keep
the newlines of a paragraph). Images are never fetched (the page makes no request): they
show as a placeholder with their description. Link targets are shown beside the link
text, so a wrong address is seen before 80,000 people get it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from html import escape
from typing import Any

import yaml
from markdown_it import MarkdownIt
from markdown_it.token import Token
from rich.text import Text

from dispatcher.campaign.template import CTA_KEYS, CTA_LOCALES, _Yaml12Loader

__all__ = ["Button", "FrontMatter", "render_html", "render_rich", "split_front_matter"]


@dataclass(frozen=True, slots=True)
class Button:
    """A call-to-action button: its label and the IO link it opens."""

    text: str
    action: str


@dataclass(frozen=True, slots=True)
class FrontMatter:
    """The buttons of each language block, and the text the app renders below them."""

    buttons: dict[str, tuple[Button, ...]]  # "it"/"en" → its buttons, in order
    body: str


def split_front_matter(markdown: str) -> FrontMatter:
    """Buttons per language and the body; a text without a ``---`` block is all body.

    A block the app cannot read gives no buttons (the app drops it silently); validation has
    already refused such a text, so here it only has to not crash.
    """
    lines = markdown.removeprefix("\ufeff").split("\n")
    if lines[0].rstrip("\r") != "---":
        return FrontMatter({}, markdown)
    end = next((i for i in range(1, len(lines)) if lines[i].rstrip("\r") in ("---", "...")),
               None)
    if end is None:
        return FrontMatter({}, markdown)
    body = "\n".join(lines[end + 1:])
    try:
        data = yaml.load("\n".join(lines[1:end]), Loader=_Yaml12Loader)  # a SafeLoader
    except yaml.YAMLError:
        return FrontMatter({}, body)
    buttons: dict[str, tuple[Button, ...]] = {}
    for locale in CTA_LOCALES:
        block = data.get(locale) if isinstance(data, dict) else None
        if isinstance(block, dict):
            found = tuple(Button(str(cta["text"]), str(cta["action"]).strip())
                          for key in CTA_KEYS if isinstance(cta := block.get(key), dict)
                          and isinstance(cta.get("text"), str)
                          and isinstance(cta.get("action"), str))
            if found:
                buttons[locale] = found
    return FrontMatter(buttons, body)


@cache
def _parser() -> MarkdownIt:
    parser = MarkdownIt("commonmark", {"html": False, "breaks": True, "linkify": False,
                                       "typographer": False})
    parser.add_render_rule("image", _image_html)
    parser.add_render_rule("link_open", _link_open_html)
    parser.add_render_rule("link_close", _link_close_html)
    return parser


def _image_html(renderer: Any, tokens: Sequence[Token], idx: int, options: Any,
                env: Any) -> str:
    """No ``<img>``: the page fetches nothing. The description says what would show."""
    alt = renderer.renderInlineAsText(tokens[idx].children or [], options, env)
    src = str(tokens[idx].attrGet("src") or "")
    return (f'<span class="md-image" title="{escape(src)}">[{escape(alt or "image")}]'
            "</span>")


def _link_open_html(renderer: Any, tokens: Sequence[Token], idx: int, options: Any,
                    env: Any) -> str:
    tokens[idx].attrSet("rel", "noopener noreferrer nofollow")
    return str(renderer.renderToken(tokens, idx, options, env))


def _link_close_html(renderer: Any, tokens: Sequence[Token], idx: int, options: Any,
                     env: Any) -> str:
    """The target after the link text: ``text (ioit://…)``, as the terminal shows it."""
    opening = next(t for t in reversed(tokens[:idx]) if t.type == "link_open")
    href = str(opening.attrGet("href") or "")
    return f'</a> <span class="md-href">({escape(href)})</span>'


def render_html(markdown: str) -> str:
    """Safe HTML of ``markdown``: every character of the text escaped, raw HTML literal."""
    return _parser().render(markdown)


# -- the terminal -------------------------------------------------------------------------

_HEADING = {"h1": "bold underline", "h2": "bold", "h3": "bold"}
_BLOCKS = frozenset({"paragraph_open", "heading_open", "bullet_list_open", "ordered_list_open",
                     "blockquote_open", "hr", "code_block", "fence"})


def render_rich(markdown: str) -> Text:
    """``markdown`` as Rich text: headings bold, lists with their markers, links with targets.

    Built from :class:`~rich.text.Text` pieces, never from markup: ``[bold]`` in a cell is
    just text.
    """
    writer = _RichWriter()
    for token in _parser().parse(markdown):
        writer.block(token)
    return writer.text


class _RichWriter:
    """Walks the block tokens; one blank line between top-level blocks, one line per item."""

    def __init__(self) -> None:
        self.text = Text()
        self._lists: list[int | None] = []  # per open list: the next number, None for bullets
        self._marker = ""  # the marker the next line of a list item starts with
        self._quote = 0
        self._style = ""

    def _indent(self) -> str:
        return "  " * max(0, len(self._lists) - 1) + ("│ " * self._quote)

    def _start_block(self, token: Token) -> None:
        """A blank line before a top-level block, a line break before a nested one."""
        plain = self.text.plain
        if plain:
            wanted = 2 if token.level == 0 else 1
            self.text.append("\n" * max(0, wanted - (len(plain) - len(plain.rstrip("\n")))))

    def block(self, token: Token) -> None:
        kind = token.type
        if kind in _BLOCKS and not (kind == "paragraph_open" and self._marker):
            self._start_block(token)  # (an item's first paragraph is on the marker's line)
        if kind == "heading_open":
            self._style = _HEADING.get(token.tag, "bold")
        elif kind == "heading_close":
            self._style = ""
        elif kind == "bullet_list_open":
            self._lists.append(None)
        elif kind == "ordered_list_open":
            self._lists.append(int(token.attrGet("start") or 1))
        elif kind in ("bullet_list_close", "ordered_list_close"):
            self._lists.pop()
        elif kind == "list_item_open":
            number = self._lists[-1]
            if number is None:
                self._marker = "• "
            else:
                self._marker = f"{number}. "
                self._lists[-1] = number + 1
            if self.text.plain and not self.text.plain.endswith("\n"):
                self.text.append("\n")
        elif kind == "blockquote_open":
            self._quote += 1
        elif kind == "blockquote_close":
            self._quote -= 1
        elif kind == "hr":
            self.text.append(self._indent() + "─" * 24, style="dim")
        elif kind in ("code_block", "fence"):
            for i, line in enumerate(token.content.rstrip("\n").split("\n")):
                self.text.append(("\n" if i else "") + self._indent() + "  " + line, style="dim")
        elif kind == "inline":
            self._inline(token.children or [])

    def _inline(self, children: Sequence[Token]) -> None:
        lead = self._indent() + self._marker
        follow = " " * len(lead)
        self._marker = ""
        self.text.append(lead)
        styles = [self._style] if self._style else []
        links: list[str] = []
        for child in children:
            kind = child.type
            style = " ".join(styles)
            if kind == "text":
                self.text.append(child.content, style=style)
            elif kind == "code_inline":
                self.text.append(child.content, style=f"{style} reverse".strip())
            elif kind in ("softbreak", "hardbreak"):
                self.text.append("\n" + follow)
            elif kind == "strong_open":
                styles.append("bold")
            elif kind == "em_open":
                styles.append("italic")
            elif kind in ("strong_close", "em_close", "link_close") and styles:
                styles.pop()
                if kind == "link_close" and links:
                    self.text.append(f" ({links.pop()})", style="dim")
            elif kind == "link_open":
                styles.append("underline")
                links.append(str(child.attrGet("href") or ""))
            elif kind == "image":
                alt = "".join(c.content for c in child.children or []) or "image"
                self.text.append(f"[{alt}]", style="dim")
