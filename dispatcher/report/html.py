"""The campaign report as one HTML file: opens offline, from a share or an e-mail attachment.

Everything is inline (CSS, SVG charts); there is no script and no external URL, so the page
shows the same thing in any browser, with no network, years later. Every value that comes from
the input, the ledger or IO goes through :func:`html.escape`, and fiscal codes are masked:
the page is meant to be forwarded to people who must not see whole fiscal codes.

Sections: the key figures and rows by outcome (table and bar chart), sent messages by IO
status, the runs with a timeline of each of the latest ones (requests/s, 429s, the Pacer's
target and current rate), and the rows needing attention with what to do about each.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, tzinfo
from html import escape
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dispatcher import __version__
from dispatcher.ledger import RunRecord, TimelineSample
from dispatcher.privacy import mask_fiscal_codes_in
from dispatcher.report.attention import AttentionRow
from dispatcher.report.charts import (
    Bar,
    TimelineText,
    bar_chart,
    clock,
    timeline_chart,
)
from dispatcher.report.labels import (
    Label,
    Language,
    hint,
    io_status_label,
    outcome_label,
)
from dispatcher.report.summary import CampaignSummary
from dispatcher.vocabulary import TERMINAL_STATES, MessageStatus, RowState

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

T: dict[str, Label] = {
    "title": Label("Rapporto della campagna", "Campaign report"),
    "generated": Label("Generato il", "Generated on"),
    "file": Label("File", "File"),
    "complete": Label("completa", "complete"),
    "open": Label("non completa: righe ancora da elaborare",
                  "not complete: rows still to process"),
    "rows": Label("Righe", "Rows"),
    "sent": Label("Inviati", "Sent"),
    "delivered": Label("Consegnati", "Delivered"),
    "attention": Label("Da verificare", "Need attention"),
    "requests": Label("Richieste a IO", "Requests to IO"),
    "throttled": Label("Risposte 429", "429 answers"),
    "duration": Label("Durata", "Duration"),
    "mean_rate": Label("Media richieste/s", "Mean requests/s"),
    "summary": Label("Riepilogo per esito", "Rows by outcome"),
    "outcome": Label("Esito", "Outcome"),
    "code": Label("Codice", "Code"),
    "count": Label("Righe", "Rows"),
    "share": Label("Quota", "Share"),
    "total": Label("Totale", "Total"),
    "chart": Label("Esiti in grafico", "Outcomes chart"),
    "io": Label("Stato dei messaggi inviati in IO", "IO status of the sent messages"),
    "io_status": Label("Stato IO", "IO status"),
    "messages": Label("Messaggi", "Messages"),
    "not_checked_note": Label(
        "Gli stati si aggiornano con «dispatcher status»: IO elabora i messaggi dopo l'invio.",
        "Statuses are updated by `dispatcher status`: IO processes messages after the send.",
    ),
    "no_sent": Label("Nessun messaggio inviato.", "No message sent."),
    "runs": Label("Esecuzioni", "Runs"),
    "run": Label("Esecuzione", "Run"),
    "started": Label("Inizio", "Started"),
    "rate": Label("Limite", "Budget"),
    "who": Label("Chi e dove", "Who and where"),
    "exit": Label("Codice di uscita", "Exit code"),
    "stopped": Label("Fermata", "Stopped"),
    "no_runs": Label("Nessuna esecuzione registrata.", "No run recorded."),
    "unfinished": Label("non terminata", "did not finish"),
    "timelines_cap": Label("Andamento delle ultime {n} esecuzioni su {total}.",
                           "Timeline of the latest {n} runs of {total}."),
    "no_timeline": Label("Nessun andamento registrato per questa esecuzione.",
                         "No timeline was recorded for this run."),
    "rows_attention": Label("Righe da verificare", "Rows needing attention"),
    "row": Label("Riga", "Row"),
    "fiscal_code": Label("Codice fiscale", "Fiscal code"),
    "http": Label("HTTP", "HTTP"),
    "detail": Label("Dettaglio", "Detail"),
    "what_to_do": Label("Cosa fare", "What to do"),
    "none_attention": Label("Nessuna riga da verificare.", "No row needs attention."),
    "more": Label("e altre {n} righe: vedere results.csv.", "and {n} more rows: see results.csv."),
    "status_passes": Label("Verifiche di stato · passaggi: {n} · richieste: {r} · risposte "
                           "429: {t}.",
                           "Status checks · passes: {n} · requests: {r} · 429 answers: {t}."),
    "tl_requests": Label("richieste/s", "requests/s"),
    "tl_throttled": Label("risposte 429/s", "429 answers/s"),
    "tl_target": Label("obiettivo del Pacer", "Pacer target rate"),
    "tl_current": Label("ritmo attuale del Pacer", "Pacer current rate"),
    "tl_time": Label("tempo dall'inizio dell'esecuzione", "time since the start of the run"),
    "tl_desc": Label(
        "Richieste al secondo inviate a IO; in rosso quelle respinte con 429; linea tratteggiata "
        "l'obiettivo del Pacer, linea arancione il ritmo che il Pacer stava tenendo.",
        "Requests per second sent to IO; in red those answered 429; dashed line the Pacer's "
        "target, orange line the rate the Pacer was keeping.",
    ),
    "bars_desc": Label("Numero di righe per esito.", "Number of rows per outcome."),
    "footer": Label("Generato da dispatcher {v}. Il file non contiene codici fiscali completi.",
                    "Made by dispatcher {v}. This file holds no whole fiscal code."),
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
"""


class _Format:
    """Numbers and times as the reader's language writes them (Italian: 1.234,5)."""

    def __init__(self, lang: Language) -> None:
        self.lang = lang
        try:
            self.zone: tzinfo = ZoneInfo("Europe/Rome")
        except ZoneInfoNotFoundError:  # a Windows Python without tzdata
            self.zone = UTC

    def t(self, key: str, **values: object) -> str:
        return T[key].text(self.lang).format(**values)

    def integer(self, n: int) -> str:
        text = f"{n:,}"
        return text.replace(",", ".") if self.lang == Language.IT else text

    def decimal(self, x: float, digits: int = 1) -> str:
        text = f"{x:,.{digits}f}"
        if self.lang == Language.IT:
            text = text.replace(",", "_").replace(".", ",").replace("_", ".")
        return text

    def share(self, part: int, whole: int) -> str:
        return f"{self.decimal(100 * part / whole)} %" if whole else "–"

    def moment(self, at: float | None) -> str:
        if at is None:
            return "–"
        local = datetime.fromtimestamp(at, self.zone)
        pattern = "%d/%m/%Y %H:%M:%S %Z" if self.lang == Language.IT else "%Y-%m-%d %H:%M:%S %Z"
        return local.strftime(pattern)


def _e(value: object) -> str:
    return escape("" if value is None else str(value))


def _cards(s: CampaignSummary, f: _Format) -> str:
    sent = s.outcomes.get(RowState.SENT, 0)
    items = [
        (f.t("rows"), f.integer(s.total_rows), False),
        (f.t("sent"), f.integer(sent), False),
        (f.t("delivered"), f.integer(s.io_statuses.get(MessageStatus.PROCESSED, 0)), False),
        (f.t("attention"), f.integer(s.needing_attention), s.needing_attention > 0),
        (f.t("requests"), f.integer(s.requests), False),
        (f.t("throttled"), f.integer(s.throttled), False),
        (f.t("duration"), clock(s.duration_s), False),
        (f.t("mean_rate"), f.decimal(s.mean_rate), False),
    ]
    return '<div class="cards">' + "".join(
        f'<div class="card{" alert" if alert else ""}"><b>{_e(value)}</b>'
        f"<span>{_e(name)}</span></div>"
        for name, value, alert in items
    ) + "</div>"


def _shown_outcomes(s: CampaignSummary) -> list[tuple[RowState, int]]:
    """Terminal outcomes always (a 0 is news too); pending and in-flight only when present."""
    return [(state, n) for state, n in s.outcomes.items()
            if state in TERMINAL_STATES or n]


def _outcome_table(s: CampaignSummary, f: _Format) -> str:
    rows = "".join(
        f'<tr><td><span class="swatch" style="background:{OUTCOME_COLORS[state]}"></span>'
        f"{_e(outcome_label(state, f.lang))}</td><td><code>{_e(state.value)}</code></td>"
        f'<td class="n">{f.integer(n)}</td><td class="n">{f.share(n, s.total_rows)}</td></tr>'
        for state, n in _shown_outcomes(s)
    )
    return (
        f"<table><thead><tr><th>{f.t('outcome')}</th><th>{f.t('code')}</th>"
        f'<th class="n">{f.t("count")}</th><th class="n">{f.t("share")}</th></tr></thead>'
        f"<tbody>{rows}</tbody><tfoot><tr><td>{f.t('total')}</td><td></td>"
        f'<td class="n">{f.integer(s.total_rows)}</td><td></td></tr></tfoot></table>'
    )


def _outcome_chart(s: CampaignSummary, f: _Format) -> str:
    bars = [
        Bar(outcome_label(state, f.lang), n, OUTCOME_COLORS[state],
            f"{f.integer(n)} ({f.share(n, s.total_rows)})")
        for state, n in _shown_outcomes(s) if n
    ]
    return bar_chart(bars, ident="outcomes", title=f.t("chart"), description=f.t("bars_desc"))


def _io_table(s: CampaignSummary, f: _Format) -> str:
    sent = sum(s.io_statuses.values())
    if not sent:
        return f"<p>{f.t('no_sent')}</p>"
    rows = "".join(
        f"<tr><td>{_e(io_status_label(status, f.lang))}</td><td><code>{_e(status)}</code></td>"
        f'<td class="n">{f.integer(n)}</td><td class="n">{f.share(n, sent)}</td></tr>'
        for status, n in s.io_statuses.items() if n
    )
    note = f'<p class="hint">{_e(f.t("not_checked_note"))}</p>'
    passes = s.status_passes
    checks_text = f.t("status_passes", n=f.integer(passes.passes),
                      r=f.integer(passes.requests), t=f.integer(passes.throttled))
    checks = f'<p class="hint">{_e(checks_text)}</p>'
    return (
        f"<table><thead><tr><th>{f.t('io_status')}</th><th>{f.t('code')}</th>"
        f'<th class="n">{f.t("messages")}</th><th class="n">{f.t("share")}</th></tr></thead>'
        f"<tbody>{rows}</tbody></table>{note}{checks}"
    )


def _who(run: RunRecord) -> str:
    """``anna@protocollo-01 · dispatcher 0.1.0``: the run's audit trail, in one cell."""
    where = "@".join(part for part in (run.operator, run.host) if part)
    version = f"dispatcher {run.version}" if run.version else ""
    return " · ".join(part for part in (where, version) if part)


def _runs_section(
    s: CampaignSummary,
    timelines: Mapping[int, Sequence[TimelineSample]],
    f: _Format,
    cap: int,
) -> str:
    if not s.runs:
        return f"<p>{f.t('no_runs')}</p>"
    latest = list(reversed(s.runs))
    rows = "".join(
        f'<tr><td>{run.run_id}</td><td class="when">{_e(f.moment(run.started_at))}</td>'
        f'<td class="n">{_e(clock(run.duration_s))}'
        f"{'' if run.finished_at else ' (' + _e(f.t('unfinished')) + ')'}</td>"
        f'<td class="n">{f.integer(run.requests)}</td><td class="n">{f.integer(run.throttled)}</td>'
        f'<td class="n">{f.decimal(run.mean_rate)}</td><td>{_e(run.rate)}</td>'
        f'<td class="n">{_e(run.exit_code)}</td><td>{_e(run.stopped_reason)}</td>'
        f"<td>{_e(_who(run))}</td></tr>"
        for run in latest
    )
    table = (
        f"<table><thead><tr><th>{f.t('run')}</th><th>{f.t('started')}</th>"
        f'<th class="n">{f.t("duration")}</th><th class="n">{f.t("requests")}</th>'
        f'<th class="n">{f.t("throttled")}</th><th class="n">{f.t("mean_rate")}</th>'
        f"<th>{f.t('rate')}</th><th class=\"n\">{f.t('exit')}</th><th>{f.t('stopped')}</th>"
        f"<th>{f.t('who')}</th></tr></thead><tbody>{rows}</tbody></table>"
    )
    shown = latest[:cap]
    charts = []
    if len(latest) > len(shown):  # say so only when some runs have no chart
        cap_text = f.t("timelines_cap", n=len(shown), total=len(latest))
        charts.append(f'<p class="hint">{_e(cap_text)}</p>')
    for run in shown:
        charts.append(f"<h3>{f.t('run')} {run.run_id} · {_e(f.moment(run.started_at))}</h3>")
        charts.append(_timeline(run, timelines.get(run.run_id, ()), f))
    return table + "".join(charts)


def _timeline(run: RunRecord, points: Sequence[TimelineSample], f: _Format) -> str:
    if not points:
        return f'<p class="hint">{_e(f.t("no_timeline"))}</p>'
    text = TimelineText(
        requests=f.t("tl_requests"), throttled=f.t("tl_throttled"), target=f.t("tl_target"),
        current=f.t("tl_current"), time_axis=f.t("tl_time"), rate_axis=f.t("tl_requests"),
    )
    return timeline_chart(
        points, ident=f"timeline-{run.run_id}", text=text,
        title=f"{f.t('run')} {run.run_id}: {f.integer(run.requests)} {f.t('requests')}, "
              f"{f.integer(run.throttled)} 429",
        description=f.t("tl_desc"),
    )


def _attention(rows: Sequence[AttentionRow], total: int, f: _Format) -> str:
    if not total:
        return f"<p>{f.t('none_attention')}</p>"
    body = "".join(
        f'<tr><td class="n">{a.row}</td><td><code>{_e(a.fiscal_code)}</code></td>'
        f"<td>{_e(outcome_label(a.state, f.lang))}"
        f"{'<br><b>' + _e(io_status_label(a.io_status, f.lang)) + '</b>' if a.io_status else ''}"
        f'</td><td class="n">{_e(a.http_status)}</td><td>{_e(a.detail)}</td>'
        f'<td class="hint">{_e(hint(a.state, a.io_status, f.lang))}</td></tr>'
        for a in rows
    )
    more = total - len(rows)
    tail = f'<p class="warn">{_e(f.t("more", n=f.integer(more)))}</p>' if more > 0 else ""
    return (
        f'<table><thead><tr><th class="n">{f.t("row")}</th><th>{f.t("fiscal_code")}</th>'
        f"<th>{f.t('outcome')}</th><th class=\"n\">{f.t('http')}</th><th>{f.t('detail')}</th>"
        f"<th>{f.t('what_to_do')}</th></tr></thead><tbody>{body}</tbody></table>{tail}"
    )


def render_html(
    summary: CampaignSummary,
    *,
    attention: Sequence[AttentionRow] = (),
    attention_total: int = 0,
    timelines: Mapping[int, Sequence[TimelineSample]] | None = None,
    lang: Language | str = Language.IT,
    timeline_runs: int = 5,
) -> str:
    """The whole page as one string: no script, no external resource."""
    f = _Format(Language(lang))
    s = summary
    state = f.t("complete") if s.campaign.completed_at is not None else f.t("open")
    name = mask_fiscal_codes_in(s.input_name)  # a file may be named after its citizen
    title = f"{f.t('title')} {s.campaign.campaign_id} · {name}"
    header = (
        f"<header><h1>{_e(title)}</h1>"
        f'<p class="meta">{f.t("generated")} {_e(f.moment(s.generated_at))} · '
        f"{f.t('file')} <code>{_e(name)}</code> "
        f"(SHA-256 <code>{_e(s.campaign.input_sha256[:12])}…</code>) · {_e(state)}</p></header>"
    )
    sections = [
        header,
        _cards(s, f),
        f'<section id="outcomes"><h2>{f.t("summary")}</h2>{_outcome_table(s, f)}',
        _outcome_chart(s, f) + "</section>",
        f'<section id="io-status"><h2>{f.t("io")}</h2>{_io_table(s, f)}</section>',
        f'<section id="runs"><h2>{f.t("runs")}</h2>'
        f"{_runs_section(s, timelines or {}, f, timeline_runs)}</section>",
        f'<section id="attention"><h2>{f.t("rows_attention")} '
        f"({f.integer(attention_total)})</h2>{_attention(attention, attention_total, f)}"
        "</section>",
        f"<footer>{_e(f.t('footer', v=__version__))}</footer>",
    ]
    return (
        f'<!doctype html>\n<html lang="{f.lang.value}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)}</title><style>{CSS}</style></head>"
        f"<body><main>{''.join(sections)}</main></body></html>\n"
    )
