"""A report an office can act on: tiles, the people to reach, completeness, advice, language.

Built on the mixed ledger of ``reporttools`` (one row of every kind), plus small ledgers made
through the Ledger API for the cases the mixed one cannot show (status never run, opens).
"""

from __future__ import annotations

import csv
import io
import os
import re
import stat
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import polars as pl
import pytest
from babel.messages.pofile import read_po
from reporttools import (
    AMBIGUOUS,
    AMBIGUOUS_2,
    FAILED,
    INPUT_HEADER,
    INVALID,
    NO_PROFILE,
    NOT_ALLOWED,
    REJECTED,
    SENT_FAILED,
    SENT_REJECTED,
    MixedLedger,
    write_input,
)

from dispatcher.campaign.source import file_sha256
from dispatcher.ledger import Ledger, NewRow, Outcome, StatusObservation
from dispatcher.report import CsvDialect, ReportOptions, write_reports
from dispatcher.report.inputs import input_frame_of
from dispatcher.report.io_errors import explain_detail
from dispatcher.vocabulary import RowState

REPO = Path(__file__).resolve().parents[2]
CATALOG = REPO / "dispatcher" / "locale" / "it" / "LC_MESSAGES" / "report.po"
BOM = b"\xef\xbb\xbf"
TO_REACH = {AMBIGUOUS, AMBIGUOUS_2, REJECTED, FAILED, SENT_REJECTED, SENT_FAILED, NO_PROFILE,
            NOT_ALLOWED, INVALID}
"""Rows of the mixed campaign that need another channel: every other row went, or goes."""


def _write(mixed: MixedLedger, out: Path, *, formats=("csv", "html", "json"), frame=None,
           **options) -> dict[str, Path]:
    with mixed.open() as ledger:
        files = write_reports(
            ledger, mixed.campaign_id, out,
            input_frame=input_frame_of(mixed.input_file) if frame is None else frame,
            input_path=mixed.input_file,
            options=ReportOptions(formats=frozenset(formats), **options))
    return files.written


def _csv(path: Path, separator: str) -> list[dict[str, str]]:
    text = path.read_bytes().decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text, newline=""), delimiter=separator))


# -- to_reach.csv -----------------------------------------------------------------------------


def test_to_reach_holds_exactly_the_rows_needing_another_channel_with_the_input_in_full(
    mixed: MixedLedger, tmp_path: Path,
) -> None:
    written = _write(mixed, tmp_path, formats=("csv",))
    path = written["to_reach"]
    assert path == tmp_path / "to_reach.csv"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    raw = path.read_bytes()
    assert raw.startswith(BOM)  # the Excel dialect, like results.csv
    rows = _csv(path, ";")
    assert {int(r["Riga"]) for r in rows} == TO_REACH
    assert len(rows) == len(TO_REACH)
    assert list(rows[0]) == ["Riga", *INPUT_HEADER, "Motivo (codice)", "Motivo", "Dettaglio"]
    for r in rows:  # the input's own columns, exactly as in the file
        row = int(r["Riga"])
        assert r["codice_fiscale"] == mixed.codes[row]
        assert (r["nome"], r["cognome"], r["importo"]) == (f"Nome{row}", f"Cognome{row}",
                                                           str(1000 + row))
    reasons = {int(r["Riga"]): r["Motivo (codice)"] for r in rows}
    assert reasons[SENT_REJECTED] == "io_rejected" and reasons[AMBIGUOUS] == "ambiguous"
    assert reasons[NOT_ALLOWED] == "sender_not_allowed"
    by_row = {int(r["Riga"]): r for r in rows}
    assert by_row[NO_PROFILE]["Motivo"] == "Il cittadino non ha l'app IO"


def test_to_reach_in_the_plain_dialect_and_without_the_input(mixed: MixedLedger,
                                                             tmp_path: Path) -> None:
    with mixed.open() as ledger:
        files = write_reports(ledger, mixed.campaign_id, tmp_path, options=ReportOptions(
            formats=frozenset({"csv"}), dialect=CsvDialect.PLAIN))
    raw = files.written["to_reach"].read_bytes()
    assert not raw.startswith(BOM)
    rows = _csv(files.written["to_reach"], ",")
    assert list(rows[0]) == ["row", "fiscal_code", "reason", "reason_label", "reason_detail"]
    assert {int(r["row"]): r["fiscal_code"] for r in rows} == {
        row: mixed.codes[row] for row in TO_REACH}


def test_to_reach_cells_are_formula_safe(mixed: MixedLedger, tmp_path: Path) -> None:
    frame = input_frame_of(mixed.input_file).with_columns(pl.lit("=1+1").alias("nome"),
                                                          pl.lit("@SUM(A1)").alias("cognome"))
    written = _write(mixed, tmp_path, formats=("csv",), frame=frame)
    for name in ("to_reach", "csv"):
        rows = _csv(written[name], ";")
        assert {r["nome"] for r in rows} == {"'=1+1"}, name
        assert {r["cognome"] for r in rows} == {"'@SUM(A1)"}, name


# -- the page ---------------------------------------------------------------------------------


class _Text(HTMLParser):
    """The words a reader sees: text outside <code> (commands and codes are not labels)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.depth = 0
        self.parts: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.depth += tag == "code"

    def handle_endtag(self, tag):
        self.depth -= tag == "code"

    def handle_data(self, data):
        if not self.depth and data.strip():
            self.parts.append(data)


def _leaks(texts: list[str], visible: str) -> list[str]:
    """The texts of which a telling piece appears in ``visible`` as whole words."""
    def found(piece: str) -> bool:
        return re.search(rf"(?<!\w){re.escape(piece)}(?!\w)", visible) is not None

    return [text for text in texts
            if any(found(p) for p in (_fragments(text) or [text]) if len(p) >= 4)]


def _visible(page: str) -> str:
    parser = _Text()
    parser.feed(page)
    return "\n".join(parser.parts)


def _catalog() -> list[tuple[str, str]]:
    """(English, Italian) of every text of the report's catalog that differs between them."""
    with CATALOG.open("rb") as handle:
        catalog = read_po(handle)
    pairs = []
    for message in catalog:
        if not message.id:
            continue
        if isinstance(message.id, tuple):  # singular with [0], plural with the other forms
            pairs += [(message.id[0], message.string[0])]
            pairs += [(message.id[1], form) for form in message.string[1:]]
        else:
            pairs.append((message.id, message.string))
    pairs = [(english, italian) for english, italian in pairs if english != italian]
    return pairs


def _fragments(text: str) -> list[str]:
    """The literal pieces of a text with ``{placeholders}`` that can identify it."""
    return [p.strip(" .:,()«»") for p in re.split(r"\{\w+\}", text)
            if len(p.strip(" .:,()«»")) >= 8]


def test_the_catalog_translates_every_text_of_the_report_room() -> None:
    from babel.messages.extract import extract

    keywords = {"N_": None, "gettext": None, "ngettext": (1, 2), "t": None, "n": (1, 2)}
    with CATALOG.open("rb") as handle:
        catalog = read_po(handle)
    translated = {m.id: m.string for m in catalog if m.id}
    sources = sorted((REPO / "dispatcher" / "report").glob("*.py"))
    sources.append(REPO / "dispatcher" / "commands" / "report.py")
    used = set()
    for source in sources:
        with source.open("rb") as handle:
            used |= {message for _, message, _, _ in extract("python", handle, keywords)}
    missing = [m for m in used if not translated.get(m)]
    assert not missing, missing
    assert len(used) > 100  # the extractor found the room's texts (not an empty pass)


def test_an_italian_page_has_no_english_label(mixed: MixedLedger, tmp_path: Path) -> None:
    page = _write(mixed, tmp_path, formats=("html",))["html"].read_text("utf-8")
    text = _visible(page)
    # our own details are English: on the Italian page they are quoted and marked
    marked = re.findall(r"dettaglio registrato \(non tradotto\): «[^»]*»", text)
    assert marked
    for quote in marked:
        text = text.replace(quote, "")
    leaks = _leaks([english for english, _ in _catalog()], text)
    assert not leaks, leaks


def test_an_english_page_has_no_italian_label(mixed: MixedLedger, tmp_path: Path) -> None:
    page = _write(mixed, tmp_path, formats=("html",), lang="en")["html"].read_text("utf-8")
    text = _visible(page)
    leaks = _leaks([italian for _, italian in _catalog()], text)
    assert not leaks, leaks
    assert "To reach by other means (9)" in text


def test_the_advice_is_written_once_per_outcome(mixed: MixedLedger, tmp_path: Path) -> None:
    page = _write(mixed, tmp_path, formats=("html",), lang="en")["html"].read_text("utf-8")
    assert page.count('<p class="advice">') == 8  # one per reason present, two rows ambiguous
    assert page.count("IO cannot tell whether these messages arrived") == 1
    assert "second copy" in page
    assert "check the citizen" not in page.lower()  # advice an office could not follow


def test_the_page_says_not_complete_and_what_is_open(mixed: MixedLedger,
                                                    tmp_path: Path) -> None:
    page = _write(mixed, tmp_path, formats=("html",))["html"].read_text("utf-8")
    state = re.search(r'<b class="warn" id="state">(.*?)</b>', page).group(1)
    assert state == "non completa: 5 righe ancora aperte"
    open_box = re.search(r'<section id="open".*?</section>', page, flags=re.S).group(0)
    kinds = re.findall(r'data-kind="(\w+)"', open_box)
    assert kinds == ["ambiguous", "unchecked"]
    assert "2 righe con esito incerto" in open_box
    assert "3 messaggi inviati non hanno ancora uno stato IO definitivo" in open_box
    assert f"dispatcher status {mixed.path}" in open_box


def _sent_ledger(tmp_path: Path, statuses: dict[int, str] | None = None,
                 third_party: bool = False) -> MixedLedger:
    """Three rows, all sent; ``statuses`` as a status pass would record them."""
    codes = dict(zip((2, 3, 4), ["RSSMRA85T10A562S", "VRDLGU80A01H501U", "BNCGNN75C41F205X"],
                     strict=True))
    input_file = write_input(tmp_path / "c.csv", codes)
    if third_party:  # a remote-content campaign: the ids are a column of the input
        text = input_file.read_text("utf-8-sig").splitlines()
        text = [text[0] + ";id_contenuto_remoto"] + [
            f"{line};PRATICA-{n}" for n, line in enumerate(text[1:], start=2)]
        input_file.write_text("\ufeff" + "\r\n".join(text) + "\r\n", "utf-8")
    path = tmp_path / "c.dispatcher" / "ledger.sqlite"
    with Ledger.open(path) as ledger:
        cid = ledger.campaigns.start(
            input_path=str(input_file), input_sha256=file_sha256(input_file),
            template_sha256=None, rows=[NewRow(r, c, RowState.PENDING, f"h{r}")
                                        for r, c in codes.items()])
        run = ledger.runs.begin(cid, rate="1/s")
        ledger.rows.mark_sending(cid, run, list(codes))
        ledger.rows.record_outcomes(cid, run, [Outcome(r, RowState.SENT, 201, f"01M{r}", None, 1)
                                               for r in codes])
        ledger.runs.finish(run, requests=6, throttled=0, stopped_reason=None, exit_code=0)
        ledger.campaigns.complete(cid)
        if statuses:
            ledger.statuses.record(cid, [
                StatusObservation(r, f"01M{r}", 1_800_000_000.0, s, None, None, 200)
                for r, s in statuses.items()])
    return MixedLedger(path, cid, input_file, codes)


def _cards(page: str) -> dict[str, str]:
    return {name: value for value, name in re.findall(
        r'<div class="card[^"]*"><b>(.*?)</b><span>(.*?)</span>', page)}


def test_delivery_is_not_checked_yet_until_status_ran(tmp_path: Path) -> None:
    before = _sent_ledger(tmp_path / "before")
    page = _write(before, tmp_path / "a", formats=("html",))["html"].read_text("utf-8")
    assert _cards(page)["Consegnati"] == "non ancora verificato"  # never "0"
    assert "non completa: 3 righe" in page
    after = _sent_ledger(tmp_path / "after", {2: "PROCESSED", 3: "PROCESSED", 4: "REJECTED"})
    page = _write(after, tmp_path / "b", formats=("html",))["html"].read_text("utf-8")
    assert _cards(page)["Consegnati"] == "2"
    assert _cards(page)["Da raggiungere con altri mezzi"] == "1"  # IO rejected row 4
    assert re.search(r'<b class="done" id="state">completa: ogni riga ha un esito definitivo',
                     page)
    assert '<section id="open"' not in page
    some = _sent_ledger(tmp_path / "some", {2: "PROCESSED"})
    page = _write(some, tmp_path / "c", formats=("html",))["html"].read_text("utf-8")
    assert _cards(page)["Consegnati"] == "1"
    assert "<small>2 non ancora verificati</small>" in page


def test_opens_of_remote_content_become_a_tile_and_columns(tmp_path: Path) -> None:
    sent = _sent_ledger(tmp_path, {2: "PROCESSED", 3: "PROCESSED", 4: "PROCESSED"},
                        third_party=True)
    first = datetime(2027, 1, 20, 8, 30, tzinfo=UTC)
    opens = {"PRATICA-2": (first, 3), "PRATICA-9": (first, 1)}  # 9: not this campaign's
    written = _write(sent, tmp_path / "out", formats=("csv", "html", "json"), opens=opens)
    page = written["html"].read_text("utf-8")
    assert _cards(page)["Contenuti remoti aperti"] == "1 su 3"
    rows = {int(r["Riga"]): r for r in _csv(written["csv"], ";")}
    assert rows[2]["Prima apertura il"] == "2027-01-20 09:30:00"  # Rome time
    assert (rows[2]["Aperture"], rows[3]["Aperture"], rows[3]["Prima apertura il"]) == (
        "3", "0", "")
    summary = written["json"].read_text("utf-8")
    assert '"remote_content": {\n    "messages": 3,\n    "opened": 1\n  }' in summary


def test_without_opens_there_is_no_open_tile_nor_column(tmp_path: Path) -> None:
    sent = _sent_ledger(tmp_path, third_party=True)
    written = _write(sent, tmp_path / "out", formats=("csv", "html"))
    assert "Contenuti remoti aperti" not in _cards(written["html"].read_text("utf-8"))
    assert "Aperture" not in _csv(written["csv"], ";")[0]


# -- IO's words -------------------------------------------------------------------------------


@pytest.mark.parametrize(("detail", "status", "expected"), [
    ("Recipient forbidden: sandbox key", 403,
     "IO: IO non consente a questa chiave di scrivere a questo cittadino (una chiave di test "
     "raggiunge solo i destinatari autorizzati) (testo di IO: «sandbox key»)"),
    ("profile check: Profile not found", 404,
     "IO: nessun profilo IO, o la casella del cittadino è disattivata"),
    ("Quota exceeded for ente", 403, "testo di IO: «Quota exceeded for ente»"),
    ("read timeout after the request was sent", None,
     "dettaglio registrato (non tradotto): «read timeout after the request was sent»"),
    (None, 500, None),
])
def test_io_titles_are_translated_and_the_rest_is_marked(detail, status, expected) -> None:
    assert explain_detail(detail, status, "it") == expected


def test_in_english_ios_unknown_words_are_still_marked_and_ours_are_plain() -> None:
    assert explain_detail("Quota exceeded", 429, "en") == "IO's text: «Quota exceeded»"
    assert explain_detail("connect error", None, "en") == "connect error"
    assert explain_detail("not your configuration", 403, "en") == (
        "IO: the remote-content configuration belongs to another ente")


def test_a_detail_every_row_of_a_reason_shares_is_said_once(tmp_path: Path) -> None:
    from reporttools import build_mixed_ledger

    same = "read timeout after the request was sent"
    mixed = build_mixed_ledger(tmp_path / "l" / "ledger.sqlite",
                               details={AMBIGUOUS: same, AMBIGUOUS_2: same})
    page = _write(mixed, tmp_path / "out", formats=("html",), lang="en")["html"].read_text(
        "utf-8")
    assert page.count(same) == 1
    assert f"Detail of every row: IO&#x27;s text: «{same}»" in page  # a 504: IO's words
    group = re.search(r'data-reason="ambiguous">(.*?)</div>', page, flags=re.S).group(1)
    assert "<th>Detail</th>" not in group and group.count("<tr>") == 3  # head + 2 rows
