"""Open the HTML campaign report in headless Chromium, screenshot it, and check the charts show.

(Over 400 lines: the campaign, the browser and the pixel checks are one script on purpose.)

Issue 5 asks that ``report.html`` be seen in a real browser, not only parsed. This script makes
a campaign worth looking at and photographs its report:

1. starts the embedded IO simulator with IO's gateway window (150 requests / 5 s) and the
   seeded population (10 % without IO, 5 % blocking the service);
2. sends a generated TARI campaign (``sample_data/generate.py``, ``sample_data/tari_2027.toml``)
   with a budget above the window (``200/5s``), so some requests get 429 and the timeline
   shows the Pacer backing off and growing back;
3. withdraws the consent of a few recipients before IO processes their messages, moves the
   simulator's clock on, and runs the status follow-up: most messages end PROCESSED, those
   few REJECTED;
4. writes ``report.html`` (``dispatcher.report.write_reports``, HTML only);
5. opens it in headless Chromium: ``--dump-dom`` of a copy with a small measuring script
   gives the parsed DOM (the ``<svg>`` charts) and where each chart was laid out, then
   ``--screenshot`` photographs the page from the top down to the end of the people to reach
   by other means (the last section), or of the runs section without it;
6. decodes the PNG (Pillow) and checks it: not blank, and inside each chart's box the colours
   that chart draws (outcome bars, requests bars, 429s in red, the Pacer's lines), so a chart
   that failed to render, or rendered empty, fails the script.

Usage (Debian: ``apt-get install chromium``; Pillow comes with the ``dev`` extra)::

    .venv/bin/python scripts/report_screenshot.py                    # → docs/report.png
    .venv/bin/python scripts/report_screenshot.py --lang en --out /tmp/report-en.png
    .venv/bin/python scripts/report_screenshot.py --rows 300 --keep /tmp/shot  # keep the files
    .venv/bin/python scripts/report_screenshot.py --html path/to/report.html --full

``--html`` photographs an existing report instead of making one; ``--full`` takes the whole
page, footer included.
Exit codes: 0 screenshot written and checked · 1 the check failed · 2 no Chromium (or a bad
option) · 3 Chromium failed.

The functions (:func:`find_chromium`, :func:`inspect_page`, :func:`screenshot`,
:func:`check_screenshot`) are also used by ``tests/browser/test_report_in_chromium.py``.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "sample_data" / "tari_2027.toml"
DEFAULT_OUT = ROOT / "docs" / "report.png"
WIDTH = 1100
HEIGHT = 2600  # the window while measuring; the screenshot's height follows the page
CHROMIUM_NAMES = ("chromium", "chromium-browser")
CHROMIUM_FALLBACKS = ("/usr/bin/chromium", "/usr/lib/chromium/chromium")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",  # root in a container has no user namespace for the sandbox
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    # Without these Chromium reaches for the network (updates, sync, field trials) and fails.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",  # containers give /dev/shm 64 MB: too little for Chromium
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
)
LEGEND_PX = 24  # the timeline's legend sits in its top 24 px: not counted as the chart's marks
MIN_PIXELS = 12  # pixels of a colour that make a mark "visible"
TOLERANCE = 10  # per channel, for antialiasing and colour management

LAYOUT_SCRIPT = """<script>
(function () {
  function box(el) {
    var r = el.getBoundingClientRect();
    return {x: r.left + scrollX, y: r.top + scrollY, width: r.width, height: r.height};
  }
  var layout = {svgs: [], sections: {},
                document_height: Math.ceil(document.body.getBoundingClientRect().bottom)};
  document.querySelectorAll("svg").forEach(function (svg, i) {
    var item = box(svg);
    item.index = i;
    layout.svgs.push(item);
  });
  document.querySelectorAll("section[id], main").forEach(function (el) {
    layout.sections[el.id || el.tagName.toLowerCase()] = box(el);
  });
  document.body.setAttribute("data-layout", JSON.stringify(layout));
})();
</script>"""


class ChromiumError(RuntimeError):
    """Chromium is missing, failed, or did not write what it was asked to."""


# -- chromium ---------------------------------------------------------------------------


def find_chromium(explicit: str | None = None) -> str | None:
    """``explicit`` if given (a path or a name on PATH), else chromium / chromium-browser."""
    if explicit:
        found = shutil.which(explicit)
        return found or (explicit if Path(explicit).is_file() else None)
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return next((path for path in CHROMIUM_FALLBACKS if os.access(path, os.X_OK)), None)


def _chromium(chromium: str, args: Sequence[str], *, timeout: float) -> str:
    """Run headless Chromium with a fresh profile; its stdout, or :class:`ChromiumError`."""
    with tempfile.TemporaryDirectory(prefix="report-chromium-") as profile:
        command = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args]
        try:  # its own process group, so a hung browser goes with all its helpers
            process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                       stderr=subprocess.PIPE, text=True, start_new_session=True)
        except OSError as exc:
            raise ChromiumError(f"cannot start {chromium}: {exc}") from exc
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            raise ChromiumError(f"chromium did not finish in {timeout:g} s") from exc
    if process.returncode != 0:
        tail = "\n".join(stderr.strip().splitlines()[-8:])
        raise ChromiumError(f"chromium exited with {process.returncode}:\n{tail}")
    return stdout


def screenshot(html: Path, png: Path, *, chromium: str, width: int = WIDTH,
               height: int = HEIGHT, timeout: float = 60) -> Path:
    """Photograph the top ``width`` × ``height`` pixels of the page into ``png``."""
    png = png.resolve()
    png.parent.mkdir(parents=True, exist_ok=True)
    png.unlink(missing_ok=True)
    _chromium(chromium, [f"--window-size={width},{height}", f"--screenshot={png}",
                         html.resolve().as_uri()], timeout=timeout)
    if not png.is_file() or png.stat().st_size == 0:
        raise ChromiumError(f"chromium wrote no screenshot at {png}")
    return png


@dataclass(frozen=True)
class Box:
    x: float
    y: float
    width: float
    height: float

    @property
    def bottom(self) -> float:
        return self.y + self.height


@dataclass(frozen=True)
class Mark:
    """A colour a chart draws with: an SVG ``fill`` (with its opacity) or ``stroke``."""

    color: str  # "#rrggbb"
    opacity: float = 1.0
    element: str = "rect"
    points: str = ""  # a polyline's points

    def rgb(self) -> tuple[int, int, int]:
        """The colour as it shows on the white plot: blended with white by its opacity."""
        r, g, b = (round(self.opacity * int(self.color[i:i + 2], 16) + (1 - self.opacity) * 255)
                   for i in (1, 3, 5))
        return r, g, b


@dataclass
class Chart:
    """One ``<svg>`` of the page as Chromium parsed and laid it out."""

    ident: str  # "outcomes", "timeline-1", ... (from aria-labelledby)
    title: str
    view_width: float
    view_height: float
    marks: list[Mark] = field(default_factory=list)
    box: Box | None = None

    @property
    def is_timeline(self) -> bool:
        return self.ident.startswith("timeline-")

    def colors(self) -> list[Mark]:
        """Each distinct colour once (the first mark that uses it).

        A line drawn exactly under a later one (the Pacer's target under its current rate,
        when the two never part) cannot show, and is not asked to.
        """
        seen: dict[str, Mark] = {}
        for i, mark in enumerate(self.marks):
            if mark.points and any(later.points == mark.points for later in self.marks[i + 1:]):
                continue
            seen.setdefault(f"{mark.color}/{mark.opacity:g}", mark)
        return list(seen.values())


@dataclass
class PageInfo:
    charts: list[Chart]
    sections: dict[str, Box]
    document_height: int
    title: str


def _color(value: str | None) -> str | None:
    """``#abc``/``#aabbcc`` → ``#aabbcc``; anything else (none, white, url()) → None."""
    if not value or not value.startswith("#"):
        return None
    digits = value[1:].lower()
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    if len(digits) != 6 or digits == "ffffff":
        return None
    return "#" + digits


class _DomReader(HTMLParser):
    """The charts of a dumped DOM: each ``<svg>`` with the colours of its marks."""

    MARKS = ("rect", "path", "polyline", "line")

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.charts: list[Chart] = []
        self.layout: dict | None = None
        self.page_title = ""
        self._in_svg_title = self._in_page_title = self._in_legend = False
        self._depth = 0  # <g> nesting inside the current svg, to spot the legend's groups

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "body" and a.get("data-layout"):
            self.layout = json.loads(a["data-layout"] or "{}")
        elif tag == "title" and not self.charts and self.page_title == "":
            self._in_page_title = True
        elif tag == "svg":
            ident = (a.get("aria-labelledby") or "").split(" ")[0].removesuffix("-title")
            self.charts.append(Chart(ident or f"svg-{len(self.charts)}", "",
                                     float(a.get("width") or 0), float(a.get("height") or 0)))
        elif self.charts and tag == "title" and not self.charts[-1].title:
            self._in_svg_title = True
        elif self.charts and tag == "g" and (a.get("transform") or "").startswith("translate("):
            self._in_legend = True  # the timeline's legend items are translated groups
        elif self.charts and tag in self.MARKS and not self._in_legend:
            self._mark(tag, a)

    def _mark(self, tag: str, a: dict[str, str | None]) -> None:
        chart = self.charts[-1]
        if tag == "polyline" and len((a.get("points") or "").split()) < 2:
            return  # one point draws nothing
        fill, stroke = _color(a.get("fill")), _color(a.get("stroke"))
        if tag in ("rect", "path") and fill:
            chart.marks.append(Mark(fill, float(a.get("fill-opacity") or 1), tag))
        elif tag == "polyline" and stroke:
            chart.marks.append(Mark(stroke, 1.0, tag, " ".join((a.get("points") or "").split())))
        # axis and grid <line>s are not the chart's content: not checked

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_svg_title = self._in_page_title = False
        elif tag == "g":
            self._in_legend = False

    def handle_data(self, data: str) -> None:
        if self._in_page_title:
            self.page_title += data
        elif self._in_svg_title:
            self.charts[-1].title += data


def read_dom(dom: str) -> PageInfo:
    """Charts, sections and sizes from a DOM dumped from the page with the measuring script."""
    reader = _DomReader()
    reader.feed(dom)
    reader.close()
    layout = reader.layout or {}
    for item in layout.get("svgs", []):
        index = int(item["index"])
        if index < len(reader.charts):
            reader.charts[index].box = Box(item["x"], item["y"], item["width"], item["height"])
    sections = {name: Box(b["x"], b["y"], b["width"], b["height"])
                for name, b in layout.get("sections", {}).items()}
    return PageInfo(reader.charts, sections, int(layout.get("document_height", 0)),
                    reader.page_title.strip())


def inspect_page(html: Path, *, chromium: str, width: int = WIDTH, height: int = HEIGHT,
                 timeout: float = 60) -> PageInfo:
    """``--dump-dom`` of a measuring copy of the page: what Chromium parsed, and where.

    The report has no script, and stays so: the copy gets one that writes each ``<svg>``'s
    and each section's box (CSS pixels, page coordinates) into ``body[data-layout]``, in a
    window of the screenshot's width, so the boxes are where the screenshot shows them.
    """
    page = html.read_text(encoding="utf-8")
    if "</body>" not in page:
        raise ChromiumError(f"{html}: no </body>; not a report page")
    with tempfile.TemporaryDirectory(prefix="report-measure-") as tmp:
        copy = Path(tmp) / "measure.html"
        copy.write_text(page.replace("</body>", LAYOUT_SCRIPT + "</body>", 1), encoding="utf-8")
        dom = _chromium(chromium, [f"--window-size={width},{height}", "--dump-dom",
                                   copy.as_uri()], timeout=timeout)
    if "<svg" not in dom:
        raise ChromiumError("chromium's DOM of the report holds no <svg>: it did not parse")
    info = read_dom(dom)
    if not info.sections:
        raise ChromiumError("the measuring script did not run (no layout in the dumped DOM)")
    return info


# -- checking the picture ---------------------------------------------------------------


def _near(pixel: tuple[int, ...], rgb: tuple[int, int, int], tolerance: int) -> bool:
    return all(abs(p - c) <= tolerance for p, c in zip(pixel[:3], rgb, strict=False))


def count_color(image, box: tuple[int, int, int, int], rgb: tuple[int, int, int],
                tolerance: int = TOLERANCE) -> int:
    """Pixels of ``image`` (an RGB Pillow image) inside ``box`` (l, t, r, b) close to ``rgb``."""
    region = image.crop(box)
    return sum(n for n, pixel in region.getcolors(region.width * region.height)
               if _near(pixel, rgb, tolerance))


def chart_region(chart: Chart, image_size: tuple[int, int]) -> tuple[int, int, int, int] | None:
    """The chart's box in screenshot pixels, without a timeline's legend strip."""
    if chart.box is None:
        return None
    scale = chart.box.width / chart.view_width if chart.view_width else 1.0
    top = chart.box.y + (LEGEND_PX * scale if chart.is_timeline else 0)
    left, right = max(0, int(chart.box.x)), min(image_size[0], int(chart.box.x + chart.box.width))
    upper, lower = max(0, int(top)), min(image_size[1], int(chart.box.bottom))
    return (left, upper, right, lower) if right > left and lower > upper else None


def check_screenshot(png: Path, page: PageInfo, *, min_pixels: int = MIN_PIXELS,
                     charts: Sequence[str] | None = None) -> list[str]:
    """What is wrong with the screenshot (an empty list: it shows the charts).

    The image must not be blank (one flat colour, or almost only background), and inside the
    box of each chart (``charts``: their idents; default every chart the screenshot reaches)
    every colour the chart draws with must show on at least ``min_pixels`` pixels.
    """
    from PIL import Image

    problems: list[str] = []
    with Image.open(png) as opened:
        image = opened.convert("RGB")
    colors = image.getcolors(image.width * image.height) or []
    background = sum(n for n, pixel in colors
                     if _near(pixel, (255, 255, 255), 2) or _near(pixel, (0xF4, 0xF5, 0xF7), 2))
    if len(colors) < 16:
        problems.append(f"the screenshot is blank: {len(colors)} distinct colour(s)")
    elif background > 0.995 * image.width * image.height:
        problems.append("the screenshot is almost only background")
    wanted = list(charts) if charts is not None else [
        c.ident for c in page.charts if c.box is not None and c.box.bottom <= image.height]
    by_ident = {c.ident: c for c in page.charts}
    if not by_ident:
        problems.append("the page has no chart")
    for ident in wanted:
        chart = by_ident.get(ident)
        if chart is None:
            problems.append(f"no chart {ident!r} in the page (has {sorted(by_ident)})")
            continue
        region = chart_region(chart, image.size)
        if region is None:
            problems.append(f"chart {ident!r} is outside the screenshot")
            continue
        if not chart.marks:
            problems.append(f"chart {ident!r} draws nothing")
        for mark in chart.colors():
            found = count_color(image, region, mark.rgb())
            if found < min_pixels:
                problems.append(
                    f"chart {ident!r}: colour {mark.color} (opacity {mark.opacity:g}, "
                    f"{mark.element}) shows on {found} pixel(s) of {region}, "
                    f"fewer than {min_pixels}")
    return problems


# -- a campaign worth looking at --------------------------------------------------------


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("tari_generate",
                                                  ROOT / "sample_data" / "generate.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass(frozen=True)
class MadeReport:
    html: Path
    ledger: Path
    rows: int
    sent: int
    requests: int
    throttled: int
    run_s: float
    statuses: dict[str, int]


def make_report(workdir: Path, *, rows: int = 400, lang: str = "it", rate: str = "200/5s",
                window: str = "150/5s", withdraw: int = 4, seed: int = 2027) -> MadeReport:
    """Send a generated campaign to the simulator, follow its statuses, write report.html."""
    from dispatcher.campaign import CampaignSource
    from dispatcher.ledger import Ledger
    from dispatcher.operations.run import RunOptions, run_campaign
    from dispatcher.operations.status import StatusOptions, check_statuses
    from dispatcher.settings import RateSpec, Secret, Settings
    from dispatcher.simulator import (
        DEFAULT_KEY,
        PopulationConfig,
        RatePolicy,
        SimulatorConfig,
        running_simulator,
    )
    from dispatcher.stopping import StopOptions
    from dispatcher.vocabulary import RowState

    workdir.mkdir(parents=True, exist_ok=True)
    campaign_csv = workdir / "tari.csv"
    generate = _generator()
    generate.write_csv(campaign_csv, generate.tari_rows(rows, seed))
    ledger_path = workdir / "ledger.sqlite"
    config = SimulatorConfig(
        rate=RatePolicy.parse(window),
        population=PopulationConfig(seed=seed),  # 10 % without IO, 5 % blocking the service
        processing_delay_s=3600.0,  # IO decides after the consent changes below
    )
    with running_simulator(config) as sim:
        settings = Settings(base_url=sim.base_url, api_key=Secret(DEFAULT_KEY),
                            rate=RateSpec.parse(rate), concurrency=8, read_timeout=10.0,
                            journal=workdir / "journal.sqlite")
        started = time.monotonic()
        run = run_campaign(
            CampaignSource(campaign_csv, TEMPLATE), settings=settings,
            ledger_path=ledger_path,
            options=RunOptions(stops=StopOptions(handle_signals=False)),
        )
        run_s = time.monotonic() - started
        with Ledger.open(ledger_path) as ledger:
            sent = [r for r in ledger.rows.all(run.campaign_id) if r.state == RowState.SENT]
        step = max(1, len(sent) // max(1, withdraw))
        for record in sent[::step][:withdraw]:  # they change their mind before IO decides
            sim.citizen(record.fiscal_code, sender_allowed=False)
        sim.advance_clock(2 * config.processing_delay_s)
        status = check_statuses(settings=settings, ledger_path=ledger_path,
                                options=StatusOptions(min_age_s=0.0))
    html = write_html(ledger_path, workdir, lang=lang)
    return MadeReport(html, ledger_path, rows, len(sent), run.requests, run.throttled, run_s,
                      dict(status.counts))


def write_html(ledger_path: Path, out_dir: Path, *, lang: str = "it") -> Path:
    """``dispatcher report LEDGER --format html`` for the ledger's latest campaign."""
    from dispatcher.ledger import Ledger
    from dispatcher.report import ReportOptions, write_reports
    from dispatcher.report.labels import Language

    with Ledger.open(ledger_path) as ledger:
        latest = ledger.campaigns.latest()
        if latest is None:
            raise ValueError(f"{ledger_path}: no campaign")
        files = write_reports(ledger, latest.campaign_id, out_dir,
                              options=ReportOptions(formats=frozenset({"html"}),
                                                    lang=Language(lang)))
    return files.written["html"]


# -- the command ------------------------------------------------------------------------


def shoot(html: Path, out: Path, *, chromium: str, full: bool = False
          ) -> tuple[PageInfo, list[str]]:
    """Measure, photograph (down to the last section, or ``full``) and check one page."""
    page = inspect_page(html, chromium=chromium)
    bottom = page.document_height
    last = next((page.sections[name] for name in ("to-reach", "runs") if name in page.sections),
                None)
    if not full and last is not None:
        bottom = min(bottom, int(last.bottom) + 28)
    screenshot(html, out, chromium=chromium, height=max(200, bottom))
    return page, check_screenshot(out, page)


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__[__doc__.index("Usage"):__doc__.index("The functions")].rstrip())
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help="where the PNG goes (default: docs/report.png)")
    parser.add_argument("--rows", type=int, default=400,
                        help="rows of the generated campaign (default 400: a ~25 s run)")
    parser.add_argument("--lang", choices=("it", "en"), default="it",
                        help="language of the report (default it)")
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="make the campaign, ledger and report.html here and keep them")
    parser.add_argument("--chromium", metavar="PATH",
                        help="the browser (default: chromium or chromium-browser on PATH, "
                             "or /usr/bin/chromium)")
    parser.add_argument("--html", type=Path, help="photograph this report instead of making one")
    parser.add_argument("--full", action="store_true",
                        help="the whole page, not just down to its last section")
    parser.add_argument("--rate", default="200/5s",
                        help="the dispatcher's budget (default 200/5s, above the window)")
    parser.add_argument("--window", default="150/5s",
                        help="the simulator's gateway window (default 150/5s, IO's)")
    args = parser.parse_args(argv)
    if args.rows < 20:
        parser.error("--rows: at least 20")
    return args


@contextlib.contextmanager
def _workdir(keep: Path | None) -> Iterator[Path]:
    if keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        yield keep
        return
    with tempfile.TemporaryDirectory(prefix="report-screenshot-") as tmp:
        yield Path(tmp)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    chromium = find_chromium(args.chromium)
    if chromium is None:
        wanted = args.chromium or " or ".join(CHROMIUM_NAMES)
        print(f"error: no Chromium found ({wanted}); on Debian: apt-get install chromium, "
              "or pass --chromium PATH", file=sys.stderr)
        return 2
    started = time.monotonic()
    with _workdir(args.keep) as workdir:
        if args.html is not None:
            html = args.html
            if not html.is_file():
                print(f"error: {html}: no such file", file=sys.stderr)
                return 2
        else:
            print(f"sending {args.rows} rows at {args.rate} to the simulator "
                  f"(window {args.window}) in {workdir} ...", flush=True)
            from dispatcher.logs import configure_logging
            from dispatcher.simulator import DEFAULT_KEY

            with (workdir / "dispatcher.log").open("w", encoding="utf-8") as log:
                configure_logging(json=True, stream=log, secrets=(DEFAULT_KEY,))
                made = make_report(workdir, rows=args.rows, lang=args.lang, rate=args.rate,
                                   window=args.window)
            html = made.html
            print(f"run: {made.run_s:.1f} s, {made.requests} requests, {made.throttled} × 429, "
                  f"{made.sent} sent; IO statuses {made.statuses}", flush=True)
        try:
            page, problems = shoot(html, args.out, chromium=chromium, full=args.full)
        except ChromiumError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 3
        from PIL import Image

        with Image.open(args.out) as image:
            size = image.size
        charts = ", ".join(c.ident for c in page.charts)
        print(f"{args.out}: {size[0]}×{size[1]} px, {args.out.stat().st_size // 1024} KiB; "
              f"DOM: {len(page.charts)} <svg> ({charts}); {time.monotonic() - started:.1f} s")
        if problems:
            for problem in problems:
                print(f"check failed: {problem}", file=sys.stderr)
            return 1
        print("check: every chart shows its colours")
        if args.keep is not None:
            print(f"kept: {html}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
