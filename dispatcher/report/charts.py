"""Inline SVG charts built in Python: no JavaScript, no library, no network.

The HTML report must open from a USB stick on an office PC with no internet and no plug-ins,
and must still show the same picture in ten years; SVG written by hand does that, and a
charting library would be a dependency bigger than this whole room.

Two charts: horizontal bars (rows by outcome) and a run timeline (requests per second as bars,
the share answered 429 in red with a marker above the plot so a single 429 is still visible,
the Pacer's target rate as a dashed line and its current rate as a solid line). Every mark has a
``<title>`` (a tooltip, and what a screen reader says); each chart has a ``<title>`` and a
``<desc>``. All text goes through :func:`html.escape`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from dispatcher.ledger import TimelineSample

FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, 'DejaVu Sans', sans-serif"
REQUESTS_COLOR = "#4e79a7"
THROTTLED_COLOR = "#d62728"
TARGET_COLOR = "#222222"
CURRENT_COLOR = "#f28e2b"
GRID_COLOR = "#e3e3e3"
MAX_TIMELINE_BARS = 240
_TIME_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 21600)


@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    color: str
    value_text: str  # shown after the bar, e.g. "170 (85,0 %)"


@dataclass(frozen=True)
class TimelineText:
    """The words of the timeline chart, in the report's language."""

    requests: str = "requests/s"
    throttled: str = "429 answers/s"
    target: str = "Pacer target rate"
    current: str = "Pacer current rate"
    time_axis: str = "time since the start of the run"
    rate_axis: str = "requests/s"


def _svg_open(ident: str, width: float, height: float, title: str, description: str) -> str:
    return (
        f'<svg role="img" width="{width:g}" '
        f'height="{height:g}" viewBox="0 0 {width:g} {height:g}" '
        f'aria-labelledby="{ident}-title {ident}-desc" font-family="{FONT}" font-size="12">'
        f'<title id="{ident}-title">{escape(title)}</title>'
        f'<desc id="{ident}-desc">{escape(description)}</desc>'
    )


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def bar_chart(
    bars: Sequence[Bar], *, ident: str, title: str, description: str, width: int = 760
) -> str:
    """Horizontal bars, one per item, label on the left and value text on the right."""
    label_width, value_width, row, bar_height, top = 300, 120, 28, 18, 8
    height = top * 2 + row * max(1, len(bars))
    span = width - label_width - value_width
    most = max((b.value for b in bars), default=0) or 1
    parts = [_svg_open(ident, width, height, title, description)]
    for i, bar in enumerate(bars):
        y = top + i * row
        length = span * bar.value / most
        if bar.value and length < 2:
            length = 2.0  # a row that exists is never invisible
        tip = escape(f"{bar.label}: {bar.value_text}")
        parts.append(
            f'<g><title>{tip}</title>'
            f'<text x="{label_width - 8}" y="{y + bar_height - 4}" text-anchor="end" '
            f'fill="#222">{escape(_shorten(bar.label, 46))}</text>'
            f'<rect x="{label_width}" y="{y}" width="{length:.1f}" height="{bar_height}" '
            f'fill="{bar.color}" rx="2"/>'
            f'<text x="{label_width + length + 6:.1f}" y="{y + bar_height - 4}" '
            f'fill="#222">{escape(bar.value_text)}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)


@dataclass(frozen=True)
class _Bucket:
    start: int  # seconds since the first second
    seconds: int
    requests: int
    throttled: int
    target: float | None
    current: float | None


def _buckets(points: Sequence[TimelineSample], max_bars: int) -> tuple[list[_Bucket], int]:
    """Fill the seconds without activity, then merge seconds so at most ``max_bars`` remain."""
    first = points[0].second
    total = points[-1].second - first + 1
    size = max(1, math.ceil(total / max_bars))
    by_second = {p.second - first: p for p in points}
    target = current = None
    buckets: list[_Bucket] = []
    for start in range(0, total, size):
        seconds = min(size, total - start)
        requests = throttled = 0
        for offset in range(start, start + seconds):
            point = by_second.get(offset)
            if point is None:
                continue
            requests += point.requests
            throttled += point.throttled
            target = point.target_rate if point.target_rate is not None else target
            current = point.current_rate if point.current_rate is not None else current
        buckets.append(_Bucket(start, seconds, requests, throttled, target, current))
    return buckets, size


def _nice_ceiling(value: float) -> tuple[float, float]:
    """A round top for the y axis and its tick step (1, 2 or 5 × 10ⁿ, about 5 ticks)."""
    if value <= 0:
        return 1.0, 0.2
    raw = value / 5
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    return step * math.ceil(value / step), step


def clock(seconds: float) -> str:
    """``75`` → ``1:15``; ``3725`` → ``1:02:05``."""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _number(value: float) -> str:
    return f"{value:g}" if value >= 10 or float(value).is_integer() else f"{value:.1f}"


def timeline_chart(
    points: Sequence[TimelineSample],
    *,
    ident: str,
    title: str,
    description: str,
    text: TimelineText = TimelineText(),
    width: int = 960,
    height: int = 300,
) -> str:
    # Long: one SVG drawn top to bottom (axes, bars, lines, legend); split, it reads worse.
    """Requests/s bars, 429s in red (with markers), target and current rate lines."""
    if not points:
        return ""
    left, right, top, bottom = 52, 16, 44, 44
    plot_w, plot_h = width - left - right, height - top - bottom
    buckets, size = _buckets(sorted(points, key=lambda p: p.second), MAX_TIMELINE_BARS)
    total = buckets[-1].start + buckets[-1].seconds
    peak = max(
        max(b.requests / b.seconds for b in buckets),
        max((b.target or 0.0) for b in buckets),
        max((b.current or 0.0) for b in buckets),
    )
    y_top, y_step = _nice_ceiling(peak * 1.05)

    def x(second: float) -> float:
        return left + plot_w * second / total

    def y(rate: float) -> float:
        return top + plot_h - plot_h * rate / y_top

    parts = [_svg_open(ident, width, height, title, description)]
    parts.append(f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="#fff"/>')
    # y grid and ticks
    tick = 0.0
    while tick <= y_top + 1e-9:
        parts.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" '
            f'stroke="{GRID_COLOR}"/>'
            f'<text x="{left - 6}" y="{y(tick) + 4:.1f}" text-anchor="end" fill="#444">'
            f"{_number(tick)}</text>"
        )
        tick += y_step
    parts.append(
        f'<text transform="translate(14 {top + plot_h / 2:.1f}) rotate(-90)" '
        f'text-anchor="middle" fill="#444">{escape(text.rate_axis)}</text>'
    )
    # x ticks: the smallest round step that gives at most ten labels
    step = next((s for s in _TIME_STEPS if total / s <= 10), _TIME_STEPS[-1])
    for second in range(0, total + 1, step):
        parts.append(
            f'<line x1="{x(second):.1f}" x2="{x(second):.1f}" y1="{top + plot_h}" '
            f'y2="{top + plot_h + 5}" stroke="#888"/>'
            f'<text x="{x(second):.1f}" y="{top + plot_h + 18}" text-anchor="middle" '
            f'fill="#444">{clock(second)}</text>'
        )
    parts.append(
        f'<text x="{left + plot_w / 2:.1f}" y="{height - 6}" text-anchor="middle" '
        f'fill="#444">{escape(text.time_axis)}</text>'
    )
    # bars: requests, then the 429 share of them in red, then a marker above the plot
    for b in buckets:
        bx, bw = x(b.start), max(1.0, x(b.start + b.seconds) - x(b.start) - 0.6)
        rate, throttled = b.requests / b.seconds, b.throttled / b.seconds
        when = clock(b.start) if size == 1 else f"{clock(b.start)}–{clock(b.start + b.seconds)}"
        tip = escape(f"{when}: {rate:.1f} {text.requests}, {b.throttled} × 429")
        parts.append(f"<g><title>{tip}</title>")
        if rate:
            parts.append(
                f'<rect x="{bx:.1f}" y="{y(rate):.1f}" width="{bw:.1f}" '
                f'height="{y(0) - y(rate):.1f}" fill="{REQUESTS_COLOR}" fill-opacity="0.75"/>'
            )
        if b.throttled:
            parts.append(
                f'<rect x="{bx:.1f}" y="{y(throttled):.1f}" width="{bw:.1f}" '
                f'height="{max(1.5, y(0) - y(throttled)):.1f}" fill="{THROTTLED_COLOR}"/>'
                f'<path d="M{bx + bw / 2:.1f} {top - 2} l-4 -7 h8 z" fill="{THROTTLED_COLOR}"/>'
            )
        parts.append("</g>")
    # the target last: where the Pacer keeps it exactly, its dashes stay visible on top
    for attribute, color, dash in (("current", CURRENT_COLOR, ""),
                                   ("target", TARGET_COLOR, ' stroke-dasharray="6 4"')):
        coords = [
            f"{x(b.start + b.seconds / 2):.1f},{y(getattr(b, attribute)):.1f}"
            for b in buckets if getattr(b, attribute) is not None
        ]
        if coords:
            parts.append(
                f'<polyline points="{" ".join(coords)}" fill="none" stroke="{color}" '
                f'stroke-width="2"{dash}/>'
            )
    parts.append(
        f'<line x1="{left}" x2="{left + plot_w}" y1="{top + plot_h}" y2="{top + plot_h}" '
        'stroke="#888"/>'
    )
    parts.append(_legend(text, left, 16))
    parts.append("</svg>")
    return "".join(parts)


def _legend(text: TimelineText, left: float, baseline: float) -> str:
    items = (
        (f'<rect width="14" height="10" y="-9" fill="{REQUESTS_COLOR}" fill-opacity="0.75"/>',
         text.requests),
        (f'<rect width="14" height="10" y="-9" fill="{THROTTLED_COLOR}"/>', text.throttled),
        (f'<line x2="18" y1="-4" y2="-4" stroke="{TARGET_COLOR}" stroke-width="2" '
         'stroke-dasharray="6 4"/>', text.target),
        (f'<line x2="18" y1="-4" y2="-4" stroke="{CURRENT_COLOR}" stroke-width="2"/>',
         text.current),
    )
    parts, offset = [], left
    for mark, label in items:
        parts.append(
            f'<g transform="translate({offset:.0f} {baseline})">{mark}'
            f'<text x="24" fill="#222">{escape(label)}</text></g>'
        )
        offset += 24 + 7.0 * len(label) + 22
    return "".join(parts)
