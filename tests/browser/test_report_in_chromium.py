"""The HTML report in a real browser: headless Chromium parses it, lays it out and draws charts.

A small campaign (40 rows, the simulator without a gateway limit, statuses followed) plus a
second, recorded run with a fabricated 40-second timeline (429s, the Pacer backing off), so
every kind of mark is on the page without waiting for a real rate window. The screenshot and
the checks are those of ``scripts/report_screenshot.py``, which makes ``docs/report.png``.

Skipped only when no Chromium binary is found (Debian: ``apt-get install chromium``).
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import pytest
from browsertools import load_script, needs_chromium

from dispatcher.ledger import Ledger, TimelineSample
from dispatcher.report.charts import CURRENT_COLOR, REQUESTS_COLOR, TARGET_COLOR, THROTTLED_COLOR
from dispatcher.report.html import OUTCOME_COLORS
from dispatcher.vocabulary import RowState

shot = load_script("report_screenshot")
CHROMIUM = shot.find_chromium()

pytestmark = needs_chromium(CHROMIUM, "the report")


def _fabricated_run(ledger_path: Path) -> int:
    """A second run of the campaign with 40 recorded seconds: 429s at 0:06 and the back-off."""
    start = int(time.time()) - 60
    timeline, current = [], 40.0
    for second in range(40):
        throttled = 4 if second in (6, 7) else 0
        if throttled:
            current *= 0.7
        elif current < 40.0:
            current = min(40.0, current + 1.0)
        requests = round(current) if second != 8 else 0  # the retry-after pause
        timeline.append(TimelineSample(start + second, requests, throttled, 40.0, current))
    with Ledger.open(ledger_path) as ledger:
        campaign = ledger.campaigns.latest()
        assert campaign is not None
        run_id = ledger.runs.begin(campaign.campaign_id, rate="200/5s")
        ledger.runs.finish(run_id, requests=sum(t.requests for t in timeline),
                           throttled=sum(t.throttled for t in timeline), stopped_reason=None,
                           exit_code=0, timeline=timeline)
    with sqlite3.connect(ledger_path) as db:  # its start and end, as its seconds say
        db.execute("UPDATE runs SET started_at=?, finished_at=? WHERE run_id=?",
                   (start, start + len(timeline), run_id))
    db.close()
    return run_id


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory):
    """(report.html, its screenshot, what Chromium parsed and laid out, the extra run's id)."""
    workdir = tmp_path_factory.mktemp("browser")
    made = shot.make_report(workdir, rows=40, rate="400/s", window="0", withdraw=2)
    assert made.sent > 30 and made.statuses.get("REJECTED") == 2
    run_id = _fabricated_run(made.ledger)
    html = shot.write_html(made.ledger, workdir)
    png = workdir / "report.png"
    page, problems = shot.shoot(html, png, chromium=CHROMIUM)
    return html, png, page, problems, run_id


def test_chromium_parses_the_page_and_its_svg_charts(report) -> None:
    html, _, page, _, run_id = report
    assert page.title.startswith("Rapporto della campagna")
    # the outcome bars, then one timeline per run, the latest first
    assert [c.ident for c in page.charts] == ["outcomes", f"timeline-{run_id}", "timeline-1"]
    assert html.read_text(encoding="utf-8").count("<svg") == len(page.charts)
    for chart in page.charts:
        assert chart.title, chart.ident
        assert chart.box is not None and chart.box.width > 300 and chart.box.height > 60
    outcomes = page.sections["outcomes"]
    runs = page.sections["runs"]
    assert outcomes.y <= page.charts[0].box.y and page.charts[0].box.bottom <= outcomes.bottom
    for chart in page.charts[1:]:
        assert runs.y <= chart.box.y and chart.box.bottom <= runs.bottom


def test_the_screenshot_shows_the_charts(report) -> None:
    _, png, page, problems, run_id = report
    assert problems == []
    from PIL import Image

    with Image.open(png) as opened:
        image = opened.convert("RGB")
    assert image.width == shot.WIDTH
    assert image.height >= int(page.sections["runs"].bottom)  # down to the end of the runs
    charts = {c.ident: c for c in page.charts}

    def pixels(ident: str, color: str, opacity: float = 1.0) -> int:
        region = shot.chart_region(charts[ident], image.size)
        return shot.count_color(image, region, shot.Mark(color, opacity).rgb())

    # outcome bars: sent (the long one), no profile, service blocked
    assert pixels("outcomes", OUTCOME_COLORS[RowState.SENT]) > 2000
    assert pixels("outcomes", OUTCOME_COLORS[RowState.NO_PROFILE]) > 30
    assert pixels("outcomes", OUTCOME_COLORS[RowState.SENT]) > pixels(
        "outcomes", OUTCOME_COLORS[RowState.NO_PROFILE])
    # the fabricated run: requests bars, 429s in red, dashed target, orange current rate
    timeline = f"timeline-{run_id}"
    assert pixels(timeline, REQUESTS_COLOR, 0.75) > 20_000
    assert pixels(timeline, THROTTLED_COLOR) > 50
    assert pixels(timeline, TARGET_COLOR) > 200
    assert pixels(timeline, CURRENT_COLOR) > 300
    # the real, one-second run still shows its requests bar
    assert pixels("timeline-1", REQUESTS_COLOR, 0.75) > 1000


def test_the_check_fails_when_the_charts_do_not_render(report, tmp_path: Path) -> None:
    """The same page with every chart mark hidden by CSS: DOM intact, pixels missing."""
    html, *_ = report
    hidden = tmp_path / "hidden.html"
    hidden.write_text(html.read_text(encoding="utf-8").replace(
        "</style>", "svg rect,svg path,svg polyline{visibility:hidden}</style>", 1),
        encoding="utf-8")
    page, problems = shot.shoot(hidden, tmp_path / "hidden.png", chromium=CHROMIUM)
    assert len(page.charts) == 3
    failing = {p.split("'")[1] for p in problems if p.startswith("chart ")}
    assert failing == {c.ident for c in page.charts}
    assert any(OUTCOME_COLORS[RowState.SENT] in p for p in problems)
