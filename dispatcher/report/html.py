"""The campaign report as one HTML file: opens offline, from a share or an e-mail attachment.

Everything is inline (CSS, SVG charts); there is no script and no external URL, so the page
shows the same thing in any browser, with no network, years later. Every value that comes from
the input, the ledger or IO goes through :func:`html.escape`, and fiscal codes are masked:
the page is meant to be forwarded to people who must not see whole fiscal codes.

Sections: whether the campaign is complete (and if not, what is open and the command that
settles it), the key figures, rows by outcome (table and bar chart), sent messages by IO
status, the runs with a timeline of each of the latest ones (requests/s, 429s, the Pacer's
target and current rate), and the people to reach by other means (advice once per reason,
the first rows of each; ``to_reach.csv`` has them all). Every text is translated by the
report's catalog.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from dispatcher import __version__
from dispatcher.ledger import NOT_CHECKED, RunRecord, TimelineSample
from dispatcher.privacy import mask_fiscal_codes_in
from dispatcher.report.advice import status_line
from dispatcher.report.charts import Bar, TimelineText, bar_chart, clock, timeline_chart
from dispatcher.report.labels import N_, Language, io_status_label, outcome_label
from dispatcher.report.pageparts import Format, e
from dispatcher.report.reach import ReachRow
from dispatcher.report.sections import open_section, reach_section
from dispatcher.report.settle import SettleCommands
from dispatcher.report.summary import CampaignSummary
from dispatcher.vocabulary import TERMINAL_STATES, MessageStatus, RowState

__all__ = ["OUTCOME_COLORS", "render_html"]

# Texts used inside f-strings (marked here, where the extractor sees them).
_OUTCOME = N_('Outcome')
_CODE = N_('Code')
_ROWS = N_('Rows')
_SHARE = N_('Share')
_TOTAL = N_('Total')
_NO_MESSAGE_SENT = N_('No message sent.')
_IO_STATUS = N_('IO status')
_MESSAGES = N_('Messages')
_NO_RUN_RECORDED = N_('No run recorded.')
_RUN = N_('Run')
_NO_TIMELINE_WAS_RECORDED_FOR_THIS_RUN = N_('No timeline was recorded for this run.')
_CAMPAIGN_REPORT = N_('Campaign report')
_GENERATED_ON = N_('Generated on')
_FILE = N_('File')
_TEMPLATE = N_('template file')
_ROWS_BY_OUTCOME = N_('Rows by outcome')
_IO_STATUS_OF_THE_SENT_MESSAGES = N_('IO status of the sent messages')
_RUNS = N_('Runs')
_REQUESTS = N_('Requests to IO')

OUTCOME_COLORS: dict[RowState, str] = {
    RowState.SENT: "#59a14f",
    RowState.NO_PROFILE: "#9c9c9c",
    RowState.SENDER_NOT_ALLOWED: "#b07aa1",
    RowState.INVALID: "#edc948",
    RowState.DUPLICATE: "#bab0ac",
    RowState.REJECTED: "#e15759",
    RowState.FAILED: "#9d2a2a",
    RowState.AMBIGUOUS: "#f28e2b",
    RowState.ALREADY_SENT: "#8cd17d",
    RowState.PENDING: "#76b7b2",
    RowState.SENDING: "#4e79a7",
}

CSS = """
*{box-sizing:border-box}
body{margin:0;background:#f4f5f7;color:#1c1c1c;
 font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif}
main{max-width:1040px;margin:0 auto;padding:24px 28px 40px;background:#fff}
h1{font-size:24px;margin:0 0 4px}h2{font-size:19px;margin:32px 0 10px;
 border-bottom:2px solid #e6e6e6;padding-bottom:4px}h3{font-size:15px;margin:18px 0 4px}
.meta{color:#555;margin:0}.warn{color:#8a4b00}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(110px,1fr));gap:10px;
 margin:18px 0 4px}
.card{border:1px solid #e3e3e3;border-radius:6px;padding:8px 12px}
.card b{display:block;font-size:21px}.card span{color:#555;font-size:13px}
.card.alert{border-color:#f28e2b;background:#fff6ec}
table{border-collapse:collapse;width:100%;font-size:14px}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #ececec;vertical-align:top}
th{background:#f7f7f9;font-weight:600}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}td.when{white-space:nowrap}
tfoot td{font-weight:600}
.swatch{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:6px}
code{font-size:12px;color:#555}.hint{color:#555;font-size:13px}
svg{max-width:100%;height:auto;display:block;margin:6px 0}
footer{color:#777;font-size:12px;margin-top:36px}
.open{border:1px solid #f28e2b;background:#fff6ec;border-radius:6px;padding:4px 16px 10px;
 margin-top:18px}.open h2{border:0;margin-top:10px}.open li{margin:6px 0}
code.cmd{display:inline-block;font-size:13px;color:#1c1c1c;background:#f4f5f7;
 padding:2px 6px;border-radius:4px;margin-top:3px;word-break:break-all}
.advice{background:#f7f7f9;border-left:3px solid #4e79a7;padding:6px 10px;margin:4px 0 8px}
.card small{display:block;color:#8a4b00;font-size:12px}
"""

def _delivered(s: CampaignSummary, f: Format) -> tuple[str, str]:
    """The delivery tile: "not checked yet" until ``status`` asked about the sent rows."""
    sent = s.outcomes.get(RowState.SENT, 0)
    unchecked = s.io_statuses.get(NOT_CHECKED, 0)
    if sent and unchecked >= sent:
        return f.t("not checked yet"), ""
    note = f.n("{n} not checked yet", "{n} not checked yet", unchecked) if unchecked else ""
    return f.integer(s.io_statuses.get(MessageStatus.PROCESSED, 0)), note


def _cards(s: CampaignSummary, f: Format) -> str:
    delivered, note = _delivered(s, f)
    state = s.completeness
    items: list[tuple[str, str, str, bool]] = [
        (f.t("Rows"), f.integer(s.total_rows), "", False),
        (f.t("Sent"), f.integer(s.outcomes.get(RowState.SENT, 0)), "", False),
        (f.t("Delivered messages"), delivered, note, False),
        (f.t("To reach by other means"), f.integer(s.to_reach), "", s.to_reach > 0),
        (f.t("Rows still open"), f.integer(state.open_rows), "", state.open_rows > 0),
    ]
    if s.opens is not None:
        items.append((f.t("Remote content opened"),
                      f.t("{opened} of {messages}", opened=f.integer(s.opens.opened),
                          messages=f.integer(s.opens.messages)), "", False))
    items += [
        (f.t("Requests to IO"), f.integer(s.requests), "", False),
        (f.t("429 answers"), f.integer(s.throttled), "", False),
        (f.t("Duration"), clock(s.duration_s), "", False),
        (f.t("Mean requests/s"), f.decimal(s.mean_rate), "", False),
    ]
    return '<div class="cards">' + "".join(
        f'<div class="card{" alert" if alert else ""}"><b>{e(value)}</b>'
        f"<span>{e(name)}</span>{f'<small>{e(note)}</small>' if note else ''}</div>"
        for name, value, note, alert in items
    ) + "</div>"


def _shown_outcomes(s: CampaignSummary) -> list[tuple[RowState, int]]:
    """Terminal outcomes always (a 0 is news too); pending and in-flight only when present."""
    return [(state, n) for state, n in s.outcomes.items()
            if state in TERMINAL_STATES or n]


def _outcome_table(s: CampaignSummary, f: Format) -> str:
    rows = "".join(
        f'<tr><td><span class="swatch" style="background:{OUTCOME_COLORS[state]}"></span>'
        f"{e(outcome_label(state, f.lang))}</td><td><code>{e(state.value)}</code></td>"
        f'<td class="n">{f.integer(n)}</td><td class="n">{f.share(n, s.total_rows)}</td></tr>'
        for state, n in _shown_outcomes(s)
    )
    return (
        f"<table><thead><tr><th>{e(f.t(_OUTCOME))}</th><th>{e(f.t(_CODE))}</th>"
        f'<th class="n">{e(f.t(_ROWS))}</th><th class="n">{e(f.t(_SHARE))}</th></tr></thead>'
        f"<tbody>{rows}</tbody><tfoot><tr><td>{e(f.t(_TOTAL))}</td><td></td>"
        f'<td class="n">{f.integer(s.total_rows)}</td><td></td></tr></tfoot></table>'
    )


def _outcome_chart(s: CampaignSummary, f: Format) -> str:
    bars = [
        Bar(outcome_label(state, f.lang), n, OUTCOME_COLORS[state],
            f"{f.integer(n)} ({f.share(n, s.total_rows)})")
        for state, n in _shown_outcomes(s) if n
    ]
    return bar_chart(bars, ident="outcomes", title=f.t("Outcomes chart"),
                     description=f.t("Number of rows per outcome."))


def _io_table(s: CampaignSummary, f: Format) -> str:
    sent = sum(s.io_statuses.values())
    if not sent:
        return f"<p>{e(f.t(_NO_MESSAGE_SENT))}</p>"
    rows = "".join(
        f"<tr><td>{e(io_status_label(status, f.lang))}</td><td><code>{e(status)}</code></td>"
        f'<td class="n">{f.integer(n)}</td><td class="n">{f.share(n, sent)}</td></tr>'
        for status, n in s.io_statuses.items() if n
    )
    note = f.t("Statuses are updated by “dispatcher status”: IO processes messages after "
               "the send.")
    passes = s.status_passes
    checks = f.t("Status checks · passes: {n} · requests: {r} · 429 answers: {t}.",
                 n=f.integer(passes.passes), r=f.integer(passes.requests),
                 t=f.integer(passes.throttled))
    return (
        f"<table><thead><tr><th>{e(f.t(_IO_STATUS))}</th><th>{e(f.t(_CODE))}</th>"
        f'<th class="n">{e(f.t(_MESSAGES))}</th><th class="n">{e(f.t(_SHARE))}</th></tr>'
        f'</thead><tbody>{rows}</tbody></table><p class="hint">{e(note)}</p>'
        f'<p class="hint">{e(checks)}</p>'
    )


def _who(run: RunRecord) -> str:
    """``anna@protocollo-01 · dispatcher 0.1.0``: the run's audit trail, in one cell."""
    where = "@".join(part for part in (run.operator, run.host) if part)
    version = f"dispatcher {run.version}" if run.version else ""
    return " · ".join(part for part in (where, version) if part)


def _runs_section(s: CampaignSummary, timelines: Mapping[int, Sequence[TimelineSample]],
                  f: Format, cap: int) -> str:
    if not s.runs:
        return f"<p>{e(f.t(_NO_RUN_RECORDED))}</p>"
    latest = list(reversed(s.runs))
    unfinished = " (" + e(f.t("did not finish")) + ")"
    rows = "".join(
        f'<tr><td>{run.run_id}</td><td class="when">{e(f.moment(run.started_at))}</td>'
        f'<td class="n">{e(clock(run.duration_s))}{"" if run.finished_at else unfinished}</td>'
        f'<td class="n">{f.integer(run.requests)}</td><td class="n">{f.integer(run.throttled)}</td>'
        f'<td class="n">{f.decimal(run.mean_rate)}</td><td>{e(run.rate)}</td>'
        f'<td class="n">{e(run.exit_code)}</td><td>{e(run.stopped_reason)}</td>'
        f"<td>{e(_who(run))}</td></tr>"
        for run in latest
    )
    heads = [(N_("Run"), ""), (N_("Started"), ""), (N_("Duration"), "n"),
             (N_("Requests to IO"), "n"), (N_("429 answers"), "n"), (N_("Mean requests/s"), "n"),
             (N_("Budget"), ""), (N_("Exit code"), "n"), (N_("Stopped"), ""),
             (N_("Who and where"), "")]
    head = "".join(f'<th{" class=" + chr(34) + cls + chr(34) if cls else ""}>{e(f.t(text))}</th>'
                   for text, cls in heads)
    parts = [f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"]
    shown = latest[:cap]
    if len(latest) > len(shown):  # say so only when some runs have no chart
        cap_text = f.t("Timeline of the latest {n} runs of {total}.", n=len(shown),
                       total=len(latest))
        parts.append(f'<p class="hint">{e(cap_text)}</p>')
    for run in shown:
        parts.append(f"<h3>{e(f.t(_RUN))} {run.run_id} · {e(f.moment(run.started_at))}</h3>")
        parts.append(_timeline(run, timelines.get(run.run_id, ()), f))
    return "".join(parts)


def _timeline(run: RunRecord, points: Sequence[TimelineSample], f: Format) -> str:
    if not points:
        return f'<p class="hint">{e(f.t(_NO_TIMELINE_WAS_RECORDED_FOR_THIS_RUN))}</p>'
    text = TimelineText(
        requests=f.t("requests/s"), throttled=f.t("429 answers/s"),
        target=f.t("Pacer target rate"), current=f.t("Pacer current rate"),
        time_axis=f.t("time since the start of the run"), rate_axis=f.t("requests/s"),
    )
    return timeline_chart(
        points, ident=f"timeline-{run.run_id}", text=text,
        title=f"{f.t(_RUN)} {run.run_id}: {f.integer(run.requests)} {f.t(_REQUESTS)}, "
              f"{f.integer(run.throttled)} 429",
        description=f.t("Requests per second sent to IO; in red those answered 429; dashed "
                        "line the Pacer's target, orange line the rate the Pacer was keeping."),
    )


def render_html(
    summary: CampaignSummary,
    *,
    reach: Sequence[ReachRow] = (),
    reach_limit: int = 20,
    commands: SettleCommands | None = None,
    timelines: Mapping[int, Sequence[TimelineSample]] | None = None,
    lang: Language | str = Language.IT,
    timeline_runs: int = 5,
) -> str:
    """The whole page as one string: no script, no external resource.

    ``reach`` holds every row to reach another way (grouped by reason, as
    :func:`~dispatcher.report.reach.rows_to_reach` gives them); the page lists the first
    ``reach_limit`` of each reason. ``commands`` default to ``summary.settle``.
    """
    f = Format(lang)
    s = summary
    settle = commands or s.settle or SettleCommands(None, None,
                                                    f"dispatcher status {s.ledger_path}")
    name = mask_fiscal_codes_in(s.input_name)  # a file may be named after its citizen
    title = f"{f.t(_CAMPAIGN_REPORT)} {s.campaign.campaign_id} · {name}"
    state = s.completeness
    header = (
        f"<header><h1>{e(title)}</h1>"
        f'<p class="meta">{e(f.t(_GENERATED_ON))} {e(f.moment(s.generated_at))} · '
        f"{e(f.t(_FILE))} <code>{e(name)}</code> "
        f"(SHA-256 <code>{e(s.campaign.input_sha256[:12])}…</code>"
        + (f", {e(f.t(_TEMPLATE))} <code>{e(s.campaign.template_sha256[:12])}…</code>"
           if s.campaign.template_sha256 else "") + ") · "
        f'<b class="{"done" if state.complete else "warn"}" id="state">'
        f"{e(status_line(state, f.lang))}</b></p></header>"
    )
    sections = [
        header,
        open_section(state, settle, f),
        _cards(s, f),
        f'<section id="outcomes"><h2>{e(f.t(_ROWS_BY_OUTCOME))}</h2>{_outcome_table(s, f)}',
        _outcome_chart(s, f) + "</section>",
        f'<section id="io-status"><h2>{e(f.t(_IO_STATUS_OF_THE_SENT_MESSAGES))}</h2>'
        f"{_io_table(s, f)}</section>",
        f'<section id="runs"><h2>{e(f.t(_RUNS))}</h2>'
        f"{_runs_section(s, timelines or {}, f, timeline_runs)}</section>",
        reach_section(reach, reach_limit, settle, f),
        "<footer>" + e(f.t("Made by dispatcher {v}. This file holds no whole fiscal code.",
                           v=__version__)) + "</footer>",
    ]
    return (
        f'<!doctype html>\n<html lang="{f.lang.value}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{e(title)}</title><style>{CSS}</style></head>"
        f"<body><main>{''.join(sections)}</main></body></html>\n"
    )
