"""report.html: one file that opens offline, escapes what it shows and masks fiscal codes."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from html import escape
from html.parser import HTMLParser
from pathlib import Path

import pytest
from reporttools import (
    AMBIGUOUS,
    AMBIGUOUS_2,
    FAILED,
    REJECTED,
    SENT_FAILED,
    SENT_REJECTED,
    STATE_OF,
    T0,
    build_mixed_ledger,
    pin_run,
)

from dispatcher.ledger import CampaignRecord, RunRecord, TimelineSample
from dispatcher.privacy import mask_fiscal_code
from dispatcher.report import (
    CampaignSummary,
    Language,
    ReportOptions,
    outcome_label,
    render_html,
    write_reports,
)
from dispatcher.report.charts import (
    CURRENT_COLOR,
    REQUESTS_COLOR,
    THROTTLED_COLOR,
    clock,
    timeline_chart,
)
from dispatcher.vocabulary import RowState

SVG = "{http://www.w3.org/2000/svg}"
FORBIDDEN_TAGS = {"script", "link", "img", "iframe", "object", "embed", "base", "frame",
                  "audio", "video", "source", "form", "image", "use", "foreignobject"}
URL_ATTRIBUTES = {"src", "href", "xlink:href", "srcset", "action", "formaction", "data",
                  "poster", "background"}


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def _tags(page: str) -> _Tags:
    parser = _Tags()
    parser.feed(page)
    parser.close()
    return parser


def _page(mixed, out: Path, **options) -> str:
    with mixed.open() as ledger:
        files = write_reports(ledger, mixed.campaign_id, out,
                              options=ReportOptions(formats=frozenset({"html"}), **options))
    return files.written["html"].read_text("utf-8")


def _svgs(page: str) -> dict[str, ET.Element]:
    """Every inline chart, parsed as XML (well-formed or this fails), by its id prefix."""
    charts = {}
    for source in re.findall(r"<svg\b.*?</svg>", page, flags=re.S):
        element = ET.fromstring(source.replace("<svg ", f'<svg xmlns="{SVG[1:-1]}" ', 1))
        title = element.find(f"{SVG}title")
        assert title is not None and title.text, "every chart has a title"
        assert element.find(f"{SVG}desc") is not None, "every chart has a description"
        charts[title.get("id", "").removesuffix("-title")] = element
    return charts


def _section(page: str, ident: str) -> str:
    match = re.search(rf'<section id="{ident}">(.*?)</section>', page, flags=re.S)
    assert match, ident
    return match.group(1)


def test_the_page_is_one_file_with_no_script_and_no_external_resource(mixed, tmp_path):
    out = tmp_path / "out"
    page = _page(mixed, out)
    assert [p.name for p in out.iterdir()] == ["report.html"]
    assert page.startswith("<!doctype html>")
    parsed = _tags(page)
    names = {tag for tag, _ in parsed.tags}
    assert not names & FORBIDDEN_TAGS, names & FORBIDDEN_TAGS
    for tag, attrs in parsed.tags:
        assert not set(attrs) & URL_ATTRIBUTES, (tag, attrs)
        assert not any(a.startswith("on") for a in attrs), (tag, attrs)  # no event handlers
    lowered = page.lower()
    assert "<script" not in lowered
    assert "http://" not in lowered and "https://" not in lowered
    assert "url(" not in lowered and "@import" not in lowered
    assert ("style", {}) in parsed.tags  # the CSS is inline
    assert '<meta charset="utf-8">' in page and '<html lang="it">' in page


def test_the_outcome_chart_has_one_bar_per_outcome_present(mixed, tmp_path):
    charts = _svgs(_page(mixed, tmp_path))
    bars = charts["outcomes"]
    rects = bars.findall(f".//{SVG}rect")
    present = {s for s in STATE_OF.values()}
    assert len(rects) == len(present) == 8
    tips = [t.text for t in bars.findall(f"./{SVG}g/{SVG}title")]
    assert f"{outcome_label(RowState.AMBIGUOUS)}: 2 (14,3 %)" in tips
    assert any(t.startswith("Inviato (accettato da IO): 6 ") for t in tips)
    widths = {float(r.get("width")) for r in rects}
    assert max(widths) > min(widths) > 0  # bars scale with the count, none invisible


def test_each_run_has_a_timeline_of_requests_429s_and_the_pacer_target(mixed, tmp_path):
    charts = _svgs(_page(mixed, tmp_path))
    timeline = charts["timeline-1"]
    rects = timeline.findall(f".//{SVG}rect")
    requests = [r for r in rects if r.get("fill") == REQUESTS_COLOR and r.get("height")
                and r.get("x") != "0" and r.get("y") != "-9"]
    throttled = [r for r in rects if r.get("fill") == THROTTLED_COLOR and r.get("y") != "-9"]
    assert len(requests) == 10  # ten seconds with requests
    assert len(throttled) == 1  # one second with 429s
    markers = [p for p in timeline.iter(f"{SVG}path") if p.get("fill") == THROTTLED_COLOR]
    assert len(markers) == 1  # a 429 stays visible above the plot
    lines = timeline.findall(f".//{SVG}polyline")
    target = [p for p in lines if p.get("stroke-dasharray")]
    current = [p for p in lines if p.get("stroke") == CURRENT_COLOR]
    assert len(target) == 1 and len(current) == 1
    assert len(target[0].get("points").split()) == 10
    heights = {round(float(pt.split(",")[1]), 1) for pt in target[0].get("points").split()}
    assert len(heights) == 2  # the target was cut after the 429 (24 → 16.8 requests/s)
    title = timeline.find(f"{SVG}title").text
    assert title == "Esecuzione 1: 100 Richieste a IO, 3 429"
    tips = " ".join(t.text or "" for t in timeline.iter(f"{SVG}title"))
    assert "3 × 429" in tips


def test_values_from_the_input_and_the_ledger_are_escaped(tmp_path):
    nasty = "<script>alert('x')</script> & <b>co</b>"
    mixed = build_mixed_ledger(
        tmp_path / "l" / "ledger.sqlite",
        recorded_path=str(tmp_path / "Avvisi <TARI> & co.csv"),
        details={FAILED: nasty, AMBIGUOUS: '"><img src=x onerror=alert(1)>'},
    )
    page = _page(mixed, tmp_path / "out")
    names = {tag for tag, _ in _tags(page).tags}
    assert "script" not in names and "img" not in names and "b" in names  # <b> of the cards
    assert "<script" not in page and "<img" not in page
    assert escape(nasty) in page
    assert "Avvisi &lt;TARI&gt; &amp; co.csv" in page
    assert "Avvisi <TARI>" not in page
    _svgs(page)  # the charts are still well-formed XML


def test_no_whole_fiscal_code_appears_and_masked_ones_do(mixed, tmp_path):
    page = _page(mixed, tmp_path)
    for row, code in mixed.codes.items():
        assert code not in page, row
        assert code.lower() not in page.lower(), row
    # the detail of row 12 held its fiscal code: shown masked
    assert mask_fiscal_code(mixed.codes[REJECTED]) in page
    assert mixed.details[REJECTED].replace(mixed.codes[REJECTED], "") != mixed.details[REJECTED]
    assert mask_fiscal_code(mixed.codes[AMBIGUOUS]) in page


def _reach_groups(page: str) -> dict[str, tuple[str, list[list[str]]]]:
    """reason → (its advice, its table rows as cells), in page order."""
    body = _section(page, "to-reach")
    groups = {}
    for key, inner in re.findall(r'<div class="reason" data-reason="([a-z_]+)">(.*?)</div>',
                                 body, flags=re.S):
        advice = re.search(r'<p class="advice">(.*?)</p>', inner, flags=re.S).group(1)
        rows = re.findall(r"<tr>(.*?)</tr>", inner.split("<tbody>")[1], flags=re.S)
        groups[key] = (advice, [re.findall(r"<td[^>]*>(.*?)</td>", r, flags=re.S) for r in rows])
    return groups


def test_rows_to_reach_are_grouped_by_reason_with_the_advice_once(mixed, tmp_path):
    page = _page(mixed, tmp_path)
    groups = _reach_groups(page)
    assert list(groups) == ["ambiguous", "rejected", "failed", "io_rejected", "io_failed",
                            "no_profile", "sender_not_allowed", "invalid"]
    rows = {key: [int(cells[0]) for cells in found] for key, (_, found) in groups.items()}
    assert rows == {"ambiguous": [AMBIGUOUS, AMBIGUOUS_2], "rejected": [REJECTED],
                    "failed": [FAILED], "io_rejected": [SENT_REJECTED],
                    "io_failed": [SENT_FAILED], "no_profile": [8], "sender_not_allowed": [9],
                    "invalid": [10]}
    ambiguous_advice = groups["ambiguous"][0]
    assert "seconda copia" in ambiguous_advice and "--resend-ambiguous" in ambiguous_advice
    assert page.count("seconda copia dello stesso messaggio") == 1  # once, not per row
    assert "--retry-failed" in groups["rejected"][0] and "inutile" in groups["io_rejected"][0]
    by_row = {int(c[0]): c for _, found in groups.values() for c in found}
    assert by_row[REJECTED][2] == "400"
    assert f"<code>{mask_fiscal_code(mixed.codes[FAILED])}</code>" == by_row[FAILED][1]
    # our own English details are marked as such on an Italian page
    assert by_row[FAILED][3].startswith("dettaglio registrato (non tradotto): «")
    assert "Da raggiungere con altri mezzi (9)" in page
    assert "e altr" not in page  # nothing was left out


@pytest.mark.parametrize(("lang", "note"), [("it", "e altra 1 riga: vedere to_reach.csv."),
                                            ("en", "and 1 more row: see to_reach.csv.")])
def test_a_long_group_is_capped_with_a_note(mixed, tmp_path, lang, note):
    page = _page(mixed, tmp_path, attention_limit=1, lang=Language(lang))
    groups = _reach_groups(page)
    assert [int(c[0]) for c in groups["ambiguous"][1]] == [AMBIGUOUS]
    assert note in page and page.count(note) == 1  # only the ambiguous group has two rows
    assert "(9)" in _section(page, "to-reach").split("</h2>")[0]  # the total, not the cap


def _summary(outcomes: dict[RowState, int], io: dict[str, int] | None = None,
             runs: tuple[RunRecord, ...] = ()) -> CampaignSummary:
    return CampaignSummary(
        ledger_path=Path("/srv/l.sqlite"),
        campaign=CampaignRecord(7, "/srv/tari.csv", "ab" * 32, None, T0, T0 + 3725),
        generated_at=T0 + 86400,
        outcomes={**dict.fromkeys(RowState, 0), **outcomes},
        io_statuses={"PROCESSED": 0, "ACCEPTED": 0, "THROTTLED": 0, "REJECTED": 0,
                     "FAILED": 0, "NOT_CHECKED": 0, **(io or {})},
        runs=runs,
    )


BIG = _summary(
    {RowState.SENT: 12345, RowState.NO_PROFILE: 1000, RowState.AMBIGUOUS: 3},
    io={"PROCESSED": 12000, "NOT_CHECKED": 345},
    runs=(RunRecord(run_id=1, campaign_id=1, started_at=T0, finished_at=T0 + 3725,
                    rate="120/5s", requests=87654, throttled=1234, stopped_reason=None,
                    exit_code=0, last_second=None),),
)


def test_numbers_and_times_are_written_the_italian_way():
    page = render_html(BIG, lang="it")
    assert ">13.348<" in page  # rows in all
    assert ">12.345<" in page and ">87.654<" in page and ">1.234<" in page
    assert "92,5 %" in page  # 12,345 / 13,348
    assert ">23,5<" in page  # 87,654 requests / 3,725 s
    assert "1:02:05" in page  # the run's duration
    assert "15/01/2027 09:00" in page  # 08:00 UTC, in Rome
    assert "16/01/2027 09:00" in page  # generated
    assert "12,345" not in page and "23.5<" not in page


def test_numbers_and_times_in_english():
    page = render_html(BIG, lang="en")
    assert '<html lang="en">' in page
    assert ">12,345<" in page and ">87,654<" in page and "92.5 %" in page and ">23.5<" in page
    assert "15/01/2027 09:00" in page  # Rome time in English too
    assert "Campaign report 7" in page and "Rows by outcome" in page
    assert "Rapporto" not in page and "Consegnat" not in page


def test_zero_terminal_outcomes_are_listed_and_absent_transient_ones_are_not():
    page = render_html(BIG)
    table = _section(page, "outcomes").split("<svg")[0]
    for state in RowState:
        shown = f"<code>{state.value}</code>" in table
        assert shown == (state.is_terminal or BIG.outcomes[state] > 0), state


def test_a_campaign_without_runs_or_sent_messages_says_so():
    page = render_html(_summary({RowState.NO_PROFILE: 2}))
    assert "Nessun messaggio inviato." in page
    assert "Nessuna esecuzione registrata." in page
    assert "Da raggiungere con altri mezzi (0)" in page  # the rows were not handed over
    assert "Ogni cittadino è stato raggiunto tramite IO" in page


def test_only_the_latest_runs_get_a_timeline(mixed, tmp_path):
    with mixed.open() as ledger:
        second = ledger.runs.begin(mixed.campaign_id, rate="120/5s")
        ledger.runs.finish(second, requests=0, throttled=0, stopped_reason=None, exit_code=0)
        third = ledger.runs.begin(mixed.campaign_id, rate="120/5s")  # killed: never finished
    pin_run(mixed.path, second, started_at=T0 + 600, finished_at=T0 + 601)
    pin_run(mixed.path, third, started_at=T0 + 900, finished_at=None)
    page = _page(mixed, tmp_path, timeline_runs=2)
    runs = _section(page, "runs")
    assert "Andamento delle ultime 2 esecuzioni su 3." in runs
    assert f"<h3>Esecuzione {third} " in runs and f"<h3>Esecuzione {second} " in runs
    assert "<h3>Esecuzione 1 " not in runs  # the oldest run is only in the table
    assert runs.count("Nessun andamento registrato per questa esecuzione.") == 2
    assert "(non terminata)" in runs
    assert "timeline-1" not in _svgs(page)


def test_the_status_passes_are_summed_up(mixed, tmp_path):
    io = _section(_page(mixed, tmp_path), "io-status")
    assert "Verifiche di stato · passaggi: 1 · richieste: 5 · risposte 429: 0." in io
    assert "<code>NOT_CHECKED</code>" in io and "Consegnato" in io


def test_a_fiscal_code_in_the_campaign_file_name_is_masked_too(tmp_path):
    """A reminder to one citizen may be named after them; the page promises no code."""
    code = "RSSMRA85T10A562S"
    mixed = build_mixed_ledger(tmp_path / "l" / "ledger.sqlite",
                               recorded_path=str(tmp_path / f"sollecito_{code}.csv"))
    page = _page(mixed, tmp_path / "out")
    assert code not in page
    assert f"sollecito_{mask_fiscal_code(code)}.csv" in page


def test_a_long_run_is_drawn_with_at_most_240_bars_and_gaps_stay_empty():
    start = int(T0)
    points = [TimelineSample(start + s, 5, 1 if s == 500 else 0, 24.0, 20.0)
              for s in range(0, 1000) if not 300 <= s < 400]  # 100 silent seconds
    svg = ET.fromstring(timeline_chart(points, ident="t", title="t", description="d")
                        .replace("<svg ", f'<svg xmlns="{SVG[1:-1]}" ', 1))
    bars = [r for r in svg.iter(f"{SVG}rect") if r.get("fill") == REQUESTS_COLOR
            and r.get("y") != "-9"]
    assert 100 <= len(bars) <= 240
    tips = [t.text or "" for t in svg.iter(f"{SVG}title")]
    assert any(" 0.0 requests/s" in t for t in tips)  # the silent stretch is a gap, not a bar
    assert any("1 × 429" in t for t in tips)
    assert timeline_chart([], ident="t", title="t", description="d") == ""


@pytest.mark.parametrize(("seconds", "text"), [(0, "0:00"), (75, "1:15"), (3725, "1:02:05"),
                                               (59.6, "1:00")])
def test_durations_read_like_a_clock(seconds, text):
    assert clock(seconds) == text
