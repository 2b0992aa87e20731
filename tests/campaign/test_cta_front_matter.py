"""IO's call-to-action front matter, checked as the app reads it, before anything is sent.

The app drops buttons it cannot read without a word, so a typo in the block would reach every
citizen as a message without its "Paga ora" button: a template with a bad block is refused
at load, a bad block in a CSV ``markdown`` column is an error on its row.
"""

from __future__ import annotations

import csv
import io

import pytest
from campaign_helpers import CF1, CF2, CF3, SUBJECT, codes_by_row

from dispatcher.campaign import CampaignFileError
from dispatcher.campaign.template import cta_problem
from dispatcher.vocabulary import InputVerdict

BODY = ("Gentile contribuente, le ricordiamo la scadenza del pagamento della tassa sui "
        "rifiuti. Grazie.")
GOOD = ('---\nit:\n  cta_1:\n    text: "Paga ora"\n    action: "iohandledlink://https://'
        'www.comune.example.it/tari"\n  cta_2:\n    text: "Informazioni"\n    action: '
        '"iohandledlink://https://www.comune.example.it/info"\nen:\n  cta_1:\n    text: '
        '"Pay now"\n    action: "iohandledlink://https://www.comune.example.it/tari"\n---\n')
NO_ACTION = '---\nit:\n  cta_1:\n    text: "Paga ora"\n---\n'


def markdown_csv(*markdowns: str) -> str:
    """A CSV with one row per markdown, quoted the way Excel quotes multi-line cells."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["fiscal_code", "subject", "markdown"])
    for code, text in zip((CF1, CF2, CF3), markdowns, strict=False):
        writer.writerow([code, SUBJECT, text])
    return out.getvalue()


def template_toml(markdown: str) -> str:
    return f"subject = \"{SUBJECT}\"\nmarkdown = '''\n{markdown}'''\n"


@pytest.mark.parametrize("text", [
    BODY,                                                          # no front matter at all
    GOOD + BODY,
    '---\nen:\n  cta_1: {text: "Pay", action: "iohandledlink://https://x.it"}\n---\n' + BODY,
    '---\nit:\n  cta_1: {text: Paga, action: "ioit://messages"}\n...\n' + BODY,  # ... closes
    "\ufeff" + GOOD + BODY,                                        # a byte order mark
    "---\nit:\n  cta_1:\n    text: yes\n    action: ioit://no\n---\n",  # YAML 1.2: yes is text
    BODY + "\n---\nit: not a front matter, a rule in the middle of the text\n---\n",
])
def test_well_formed_blocks_and_texts_without_one_pass(text: str) -> None:
    assert cta_problem(text) is None


@pytest.mark.parametrize(("text", "problem"), [
    (NO_ACTION, "it.cta_1 has no action"),
    ('---\nit:\n  cta_1:\n    action: "iohandledlink://https://x.it"\n---\n',
     "it.cta_1 has no text"),
    ('---\nit:\n  cta_2: {text: a, action: b}\n---\n', "it has no cta_1"),
    ('---\nit:\n  cta_1: {text: Paga, action: "https://www.comune.example.it"}\n---\n',
     "it.cta_1 action 'https://www.comune.example.it' is not an IO link: the app shows no "
     "button for it"),
    ('---\nit:\n  cta_1: {text: "", action: b}\n---\n', "it.cta_1 text is empty"),
    ('---\nit:\n  cta_1: {text: 12, action: b}\n---\n', "it.cta_1 text is not text"),
    ('---\nit:\n  cta_1: {text: a, action: b}\n  cta_3: {text: a, action: b}\n---\n',
     "it.cta_3 is not cta_1 or cta_2"),
    ('---\nit:\n  cta_1: Paga ora\n---\n', "it.cta_1 must hold text and action"),
    ('---\nit: [cta_1]\n---\n', "it must hold cta_1"),
    ('---\nde:\n  cta_1: {text: a, action: b}\n---\n', "unknown block de"),
    ('---\nen:\n  cta_1: {text: a, action: b}\nen_GB: {}\n---\n', "unknown block en_GB"),
    ("---\n---\n", "must hold an it: and/or an en: section"),
    ("---\nit:\n  cta_1:\n    text: a: b\n---\n", "not valid YAML at line 4"),
    ("---\nit:\n  cta_1: {text: a, action: b}\n", "never closed"),
])
def test_each_mistake_is_named(text: str, problem: str) -> None:
    found = cta_problem(text + BODY)
    assert found is not None and problem in found


def test_a_template_with_a_good_block_sends_it_at_the_top_of_every_text(load) -> None:
    campaign = load(markdown_csv("", ""), template=template_toml(GOOD + BODY))
    assert codes_by_row(campaign) == {}
    text = campaign.preview().message.body()["content"]["markdown"]  # type: ignore[union-attr]
    assert text.startswith("---\nit:\n  cta_1:\n") and text.endswith(BODY)


def test_a_template_with_a_bad_block_is_refused_naming_the_template(load) -> None:
    with pytest.raises(CampaignFileError) as error:
        load(markdown_csv(""), template=template_toml(NO_ACTION + BODY), template_name="tari.toml")
    assert str(error.value.path).endswith("tari.toml")
    assert "call-to-action" in error.value.reason and "it.cta_1 has no action" in error.value.reason


def test_placeholders_inside_the_template_block_stand_for_text(load) -> None:
    block = '---\nit:\n  cta_1:\n    text: "Paga, {nome|maiuscolo}"\n    action: "{link}"\n---\n'
    campaign = load("fiscal_code,nome,link\n"
                    f"{CF1},Mario,iohandledlink://https://www.comune.example.it/tari\n",
                    template=template_toml(block + BODY))
    assert codes_by_row(campaign) == {}
    text = campaign.preview().message.body()["content"]["markdown"]  # type: ignore[union-attr]
    assert 'text: "Paga, MARIO"' in text


def test_the_template_md_form_may_open_its_body_with_the_block(load) -> None:
    with pytest.raises(CampaignFileError, match=r"it\.cta_1 has no action"):
        load(markdown_csv(""), template=f'+++\nsubject = "{SUBJECT}"\n+++\n{NO_ACTION}{BODY}\n',
             template_name="t.md")


def test_a_bad_block_in_the_markdown_column_is_an_error_on_its_row(load) -> None:
    campaign = load(markdown_csv(GOOD + BODY, NO_ACTION + BODY, BODY))
    assert codes_by_row(campaign) == {3: ["cta_format"]}
    (problem,) = campaign.problems
    assert problem.column == "markdown" and "it.cta_1 has no action" in problem.message
    states = [r.state for r in campaign.rows()]
    assert states == [InputVerdict.VALID, InputVerdict.INVALID, InputVerdict.VALID]


def test_a_constant_column_with_a_bad_block_fails_every_row(load) -> None:
    bad = '---\nit:\n  cta_1: {text: "Paga", action: ""}\n---\n' + BODY
    campaign = load(markdown_csv(bad, bad, bad))
    assert codes_by_row(campaign) == {2: ["cta_format"], 3: ["cta_format"], 4: ["cta_format"]}
    assert all("it.cta_1 action is empty" in p.message for p in campaign.problems)


def test_windows_line_ends_in_a_cell_are_read_like_the_text_io_receives(load) -> None:
    campaign = load(markdown_csv((GOOD + BODY).replace("\n", "\r\n")))
    assert codes_by_row(campaign) == {}


def test_the_block_counts_toward_ios_length_limits(load) -> None:
    short_body = "Paghi la TARI entro gennaio."
    assert len(short_body) < 80 <= len(GOOD + short_body)
    assert codes_by_row(load(markdown_csv(GOOD + short_body))) == {}
    assert codes_by_row(load(markdown_csv(short_body))) == {2: ["markdown_too_short"]}
