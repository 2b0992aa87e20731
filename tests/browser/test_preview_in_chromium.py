"""The preview page in a real browser: headless Chromium parses it, lays it out, and draws it.

A small campaign with everything a card can show (CTA buttons, a payment, remote content,
Premium, raw HTML typed in a cell, an invalid row, a duplicate) goes through ``dispatcher
preview --html``; Chromium's DOM must hold the cards and none of the injected markup, and the
screenshot must show each card's payment box, buttons and problems. The checks are those of
``scripts/preview_screenshot.py``, which makes ``docs/preview.png`` from the sample campaign.

Skipped only when no Chromium binary is found (Debian: ``apt-get install chromium``).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from browsertools import load_script, needs_chromium

shot = load_script("preview_screenshot")
CHROMIUM = shot.find_chromium()

pytestmark = needs_chromium(CHROMIUM, "the preview")

CF1, CF2 = "DNGNCL87P28L736E", "CNTLCU87R57L219G"
NOTICE = "301234567890123416"
TEMPLATE = '''subject = "Avviso TARI 2027: il suo pagamento"
markdown = """
---
it:
  cta_1:
    text: "Paga ora"
    action: "ioit://PAYMENTS_HOME"
  cta_2:
    text: "Sito del Comune"
    action: "iohandledlink://https://www.comune.esempio.it/tari"
---
# Avviso di pagamento

Gentile **{nome}**, nota dell'ufficio: {nota}

- Importo: {importo|euro}
"""
'''
ROWS = "\n".join([
    "codice_fiscale;nome;nota;importo;codice_avviso;scadenza;third_party_id;configuration_id;"
    "has_remote_content;livello",
    f"{CF1};Nicola;<script>document.title='pwned'</script><b>urgente</b>;49580;{NOTICE};"
    "30/06/2027;;;;",
    f"TOTALE;Totale;nessuna;999;{NOTICE};30/06/2027;;;;",
    f"{CF2};Lucia;nessuna;123456;{NOTICE};30/06/2027;PRATICA-0002;01ARZ3NDEKTSV4RRFFQ69G5FAV;"
    "true;ADVANCED",
    f"{CF1};Nicola;ancora;49580;{NOTICE};30/06/2027;;;;",
]) + "\n"


@pytest.fixture(scope="module")
def shown(tmp_path_factory: pytest.TempPathFactory):
    """(the page, its screenshot, what Chromium parsed and laid out, the check's problems)."""
    workdir = tmp_path_factory.mktemp("preview-browser")
    (workdir / "c.csv").write_text(ROWS, encoding="utf-8")
    (workdir / "t.toml").write_text(TEMPLATE, encoding="utf-8")
    html = shot.write_preview(workdir / "preview.html", campaign=workdir / "c.csv",
                              template=workdir / "t.toml", rows="2-5", lang="it")
    png = workdir / "preview.png"
    page, problems = shot.shoot(html, png, chromium=CHROMIUM)
    return html, png, page, problems


def test_chromium_parses_one_card_per_row_with_what_it_should_show(shown) -> None:
    _, _, page, _ = shown
    assert page.title.startswith("Anteprima dei messaggi")
    cards = {card.ident: card for card in page.cards}
    assert list(cards) == ["row-2", "row-3", "row-4", "row-5"]
    assert [c.state for c in page.cards] == ["valid", "invalid", "valid", "duplicate"]
    assert cards["row-2"].buttons == 2 and cards["row-2"].payment
    assert cards["row-4"].remote and "Contenuto remoto" in cards["row-4"].text
    assert "Premium" in cards["row-4"].text
    assert "Non inviato" in cards["row-3"].text and "fiscal_code_format" in cards["row-3"].text
    for ident, box in ((c, page.boxes[c]) for c in cards):
        assert box.width > 300 and box.height > 80, ident


def test_markup_typed_in_a_cell_reaches_the_browser_as_text(shown) -> None:
    _, _, page, _ = shown
    card = next(c for c in page.cards if c.ident == "row-2")
    assert "<script>document.title='pwned'</script><b>urgente</b>" in card.text
    assert "script" not in page.elements and "b" not in card.tags
    assert "img" not in page.elements and "link" not in page.elements
    assert page.title != "pwned"
    assert {"h1", "strong", "ul", "li"} <= card.tags  # the markdown itself did render


def test_the_screenshot_shows_payments_buttons_and_problems(shown) -> None:
    _, png, page, problems = shown
    assert problems == []
    from PIL import Image

    with Image.open(png) as image:
        assert image.width == shot.WIDTH
        assert image.height >= max(box.bottom for box in page.boxes.values())


def test_the_check_fails_when_the_buttons_and_boxes_do_not_show(shown, tmp_path: Path) -> None:
    """The same page with the buttons and the payment box hidden by CSS: DOM intact."""
    html, *_ = shown
    hidden = tmp_path / "hidden.html"
    hidden.write_text(html.read_text(encoding="utf-8").replace(
        "</style>", ".cta,.payment{visibility:hidden}</style>", 1), encoding="utf-8")
    page, problems = shot.shoot(hidden, tmp_path / "hidden.png", chromium=CHROMIUM)
    assert len(page.cards) == 4
    failing = {(p.split("'")[1], p.split(": ", 1)[1].split(" (")[0]) for p in problems}
    assert ("row-2", "call-to-action button") in failing
    assert ("row-2", "payment box") in failing and ("row-4", "pay button") in failing
    assert not any(ident == "row-3" for ident, _ in failing)  # its problems still show
