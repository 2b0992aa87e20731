"""Open a ``dispatcher preview --html`` page in headless Chromium, screenshot it, check it shows.

Issue 15 asks that the preview page be seen in a real browser, not only parsed. This script:

1. writes the preview page of the sample campaign (``sample_data/tari_2027.csv`` with
   ``sample_data/tari_2027.toml``; rows 2, 120 and 5 by default: a valid message, one whose
   cell holds raw HTML, which must show as text, and an invalid row with its problems);
2. has Chromium dump the DOM of a measuring copy (the page forbids scripts with its
   Content-Security-Policy; the copy drops that and gets the report's measuring script,
   which writes each ``<section id="row-N">``'s box into ``body[data-layout]``);
3. screenshots the page and checks the picture with Pillow: not blank, and inside each
   card's box the colours that card must show: the payment box and its pay button, the
   call-to-action buttons, the problems' background.

Usage (Debian: ``apt-get install chromium``; Pillow comes with the ``dev`` extra)::

    .venv/bin/python scripts/preview_screenshot.py                      # → docs/preview.png
    .venv/bin/python scripts/preview_screenshot.py --lang en --out /tmp/preview-en.png
    .venv/bin/python scripts/preview_screenshot.py --rows 2-4 --html /tmp/preview.html

Exit codes: 0 screenshot written and checked · 1 the check failed · 2 no Chromium (or a bad
option) · 3 Chromium failed.

The functions (:func:`write_preview`, :func:`inspect_preview`, :func:`check_cards`,
:func:`shoot`) are also used by ``tests/browser/test_preview_in_chromium.py``; the browser
plumbing is ``scripts/report_screenshot.py``'s.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
CAMPAIGN = ROOT / "sample_data" / "tari_2027.csv"
TEMPLATE = ROOT / "sample_data" / "tari_2027.toml"
DEFAULT_OUT = ROOT / "docs" / "preview.png"
DEFAULT_ROWS = "2,120,5"
SENDER = "Comune di Esempio · Tributi"
WIDTH = 1240
MIN_BUTTON_PIXELS = 2000  # a filled button is ~300 × 40 px; its outline alone is far less
MIN_FILL_PIXELS = 3000  # the payment box, the problems' header
VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
                  "source", "track", "wbr"})


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


shot = sys.modules.get("report_screenshot") or _load(
    "report_screenshot", ROOT / "scripts" / "report_screenshot.py")
find_chromium = shot.find_chromium
ChromiumError = shot.ChromiumError


@dataclass
class CardInfo:
    """One ``<section class="card">`` as Chromium parsed it: its facts and its text."""

    ident: str
    state: str
    buttons: int
    payment: bool
    remote: bool
    text: str = ""
    tags: set[str] = field(default_factory=set)  # element names inside the card's message


@dataclass
class PreviewPage:
    cards: list[CardInfo]
    boxes: dict[str, object]  # ident → report_screenshot.Box
    document_height: int
    title: str
    elements: set[str]  # every element name in the page


class _CardReader(HTMLParser):
    """Cards of a dumped DOM, with the text and the element names inside each."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.cards: list[CardInfo] = []
        self.elements: set[str] = set()
        self.title = ""
        self._depth = 0  # element depth inside the current card (0: outside)
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        self.elements.add(tag)
        if tag == "title" and not self.title:
            self._in_title = True
        if self._depth:
            self._depth += tag not in VOID  # a <br> has no end tag to come back from
            self.cards[-1].tags.add(tag)
        elif tag == "section" and "card" in (a.get("class") or "").split():
            self.cards.append(CardInfo(a.get("id") or "", a.get("data-state") or "",
                                       int(a.get("data-buttons") or 0),
                                       a.get("data-payment") == "1", a.get("data-remote") == "1"))
            self._depth = 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.add(tag)
        if self._depth:
            self.cards[-1].tags.add(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        if self._depth:
            self._depth -= 1

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        if self._depth:
            self.cards[-1].text += data


def _near(path: Path) -> Path:
    """``path`` relative to the working folder when inside it: the page shows the names."""
    relative = Path(os.path.relpath(path.resolve()))
    return path if relative.parts[:1] == ("..",) else relative


def write_preview(out: Path, *, campaign: Path = CAMPAIGN, template: Path | None = TEMPLATE,
                  rows: str = DEFAULT_ROWS, lang: str = "it", sender: str | None = SENDER
                  ) -> Path:
    """``dispatcher preview CAMPAIGN -t TEMPLATE --rows ROWS --html OUT``, in process."""
    from dispatcher.commands.validate import parse_rows
    from dispatcher.operations.preview import PreviewRequest, preview_campaign
    from dispatcher.vocabulary import Language

    result = preview_campaign(PreviewRequest(_near(campaign), template and _near(template),
                                             parse_rows(rows), Language(lang), sender, out))
    assert result.html is not None
    return result.html


def inspect_preview(html: Path, *, chromium: str, width: int = WIDTH,
                    timeout: float = 60) -> PreviewPage:
    """What Chromium parsed (``--dump-dom``), and where each card is laid out."""
    from dispatcher.preview.page import CSP

    page = html.read_text(encoding="utf-8")
    policy = f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
    if "</body>" not in page or policy not in page:
        raise ChromiumError(f"{html}: not a preview page (no </body> or no policy)")
    dom = shot._chromium(chromium, ["--dump-dom", html.resolve().as_uri()], timeout=timeout)
    reader = _CardReader()
    reader.feed(dom)
    reader.close()
    with tempfile.TemporaryDirectory(prefix="preview-measure-") as tmp:
        copy = Path(tmp) / "measure.html"
        copy.write_text(page.replace(policy, "", 1).replace(
            "</body>", shot.LAYOUT_SCRIPT + "</body>", 1), encoding="utf-8")
        measured = shot._chromium(chromium, [f"--window-size={width},2400", "--dump-dom",
                                             copy.as_uri()], timeout=timeout)
    layout = shot.read_dom(measured)
    if not layout.sections:
        raise ChromiumError("the measuring script did not run (no layout in the dumped DOM)")
    return PreviewPage(reader.cards, layout.sections, layout.document_height,
                       reader.title.strip(), reader.elements)


def check_cards(png: Path, page: PreviewPage) -> list[str]:
    """What is wrong with the screenshot (an empty list: every card shows what it should)."""
    from PIL import Image

    from dispatcher.preview.page import (
        BUTTON_COLOR,
        PAY_COLOR,
        PAYMENT_BACKGROUND,
        PROBLEM_BACKGROUND,
    )

    problems: list[str] = []
    with Image.open(png) as opened:
        image = opened.convert("RGB")
    colors = image.getcolors(image.width * image.height) or []
    if len(colors) < 16:
        problems.append(f"the screenshot is blank: {len(colors)} distinct colour(s)")
    if not page.cards:
        problems.append("the page has no card")

    def rgb(color: str) -> tuple[int, int, int]:
        return shot.Mark(color).rgb()

    for card in page.cards:
        box = page.boxes.get(card.ident)
        if box is None or box.bottom > image.height:
            problems.append(f"card {card.ident!r} is outside the screenshot")
            continue
        region = (int(box.x), int(box.y), int(box.x + box.width), int(box.bottom))
        wanted: list[tuple[str, str, int]] = []
        if card.payment:
            wanted += [("payment box", PAYMENT_BACKGROUND, MIN_FILL_PIXELS),
                       ("pay button", PAY_COLOR, MIN_BUTTON_PIXELS)]
        if card.buttons:
            wanted.append(("call-to-action button", BUTTON_COLOR, MIN_BUTTON_PIXELS))
        if card.state == "invalid":
            wanted.append(("problems header", PROBLEM_BACKGROUND, MIN_FILL_PIXELS // 2))
        for what, color, least in wanted:
            found = shot.count_color(image, region, rgb(color))
            if found < least:
                problems.append(f"card {card.ident!r}: {what} ({color}) shows on {found} "
                                f"pixel(s), fewer than {least}")
    return problems


def shoot(html: Path, out: Path, *, chromium: str) -> tuple[PreviewPage, list[str]]:
    """Measure, photograph the whole page and check it."""
    page = inspect_preview(html, chromium=chromium)
    shot.screenshot(html, out, chromium=chromium, width=WIDTH,
                    height=max(300, page.document_height + 24))
    return page, check_cards(out, page)


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help="where the PNG goes (default: docs/preview.png)")
    parser.add_argument("--campaign", type=Path, default=CAMPAIGN,
                        help="campaign file (default: the sample TARI campaign)")
    parser.add_argument("--template", type=Path, default=TEMPLATE,
                        help="its template (default: the sample's)")
    parser.add_argument("--rows", default=DEFAULT_ROWS, help=f"rows (default {DEFAULT_ROWS})")
    parser.add_argument("--lang", choices=("it", "en"), default="it")
    parser.add_argument("--html", type=Path, help="keep the page here (default: a temp file)")
    parser.add_argument("--chromium", metavar="PATH", help="the browser (default: found)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    chromium = find_chromium(args.chromium)
    if chromium is None:
        print("error: no Chromium found; on Debian: apt-get install chromium, or pass "
              "--chromium PATH", file=sys.stderr)
        return 2
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="preview-screenshot-") as tmp:
        html = args.html or Path(tmp) / "preview.html"
        from dispatcher.operations.errors import OperationRefused

        try:
            write_preview(html, campaign=args.campaign, template=args.template,
                          rows=args.rows, lang=args.lang)
        except (OperationRefused, ValueError) as exc:  # a bad file or row spec: one line
            print(f"error: {exc}", file=sys.stderr)
            return 2
        try:
            page, problems = shoot(html, args.out, chromium=chromium)
        except ChromiumError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 3
    from PIL import Image

    with Image.open(args.out) as image:
        size = image.size
    print(f"{args.out}: {size[0]}×{size[1]} px, {args.out.stat().st_size // 1024} KiB; "
          f"{len(page.cards)} card(s): {', '.join(c.ident for c in page.cards)}; "
          f"{time.monotonic() - started:.1f} s")
    for problem in problems:
        print(f"check failed: {problem}", file=sys.stderr)
    if problems:
        return 1
    print("check: every card shows its payment box, buttons and problems")
    return 0


if __name__ == "__main__":
    sys.exit(main())
