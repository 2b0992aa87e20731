"""Cards as one self-contained HTML page: an IO-app-like card per row, offline, inert.

The page is made from a campaign file, so it treats every value as hostile: all text goes
through :func:`html.escape` (the body through the markdown renderer, which escapes too), a
Content-Security-Policy forbids scripts and every fetch, there is no ``<img>``, no link to
a stylesheet or font, and buttons are not links. It opens the same from a share or an
e-mail attachment, and shows what the app would show, not what a row tried to inject.

Each card is a ``<section id="row-N">`` carrying ``data-*`` facts (state, buttons, payment,
remote content) so a browser check can find it and know what it should show.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from pathlib import Path

from dispatcher import __version__
from dispatcher.i18n import Translator
from dispatcher.preview.card import Card, FileFacts, Payment
from dispatcher.preview.words import (
    badges,
    buttons_missing,
    counts,
    not_sent,
    remote_lines,
    row_title,
)
from dispatcher.storage import write_atomically

__all__ = ["BUTTON_COLOR", "CSP", "PAYMENT_BACKGROUND", "PAY_COLOR", "PROBLEM_BACKGROUND",
           "REMOTE_BACKGROUND", "page_html", "write_page"]

BUTTON_COLOR = "#0b3ee3"  # IO's blue: the call-to-action buttons
PAY_COLOR = "#0073e6"  # the pay button of the payment box
PAYMENT_BACKGROUND = "#e3ecfc"
PROBLEM_BACKGROUND = "#fde8e8"
REMOTE_BACKGROUND = "#eef7ee"
CSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"

CSS = f"""
*{{box-sizing:border-box}}
body{{margin:0;background:#f4f5f7;color:#0e0f13;
 font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif}}
main{{max-width:1240px;margin:0 auto;padding:20px 24px 36px}}
h1{{font-size:22px;margin:0 0 4px}}.meta{{color:#555;margin:0}}
.cards{{display:grid;grid-template-columns:repeat(auto-fill,minmax(360px,1fr));gap:18px;
 margin-top:18px;align-items:start}}
.card{{background:#fff;border:1px solid #dde0e6;border-radius:14px;overflow:hidden}}
.card>header{{background:#f7f8fa;border-bottom:1px solid #e6e8ec;padding:6px 14px;
 font-size:13px;color:#555}}
.card.invalid>header{{background:{PROBLEM_BACKGROUND};color:#8f1d1d}}
.card.duplicate>header{{background:#fff6df;color:#7a5600}}
.msg{{padding:14px 16px 16px}}
.sender{{margin:0;color:#555;font-size:13px;text-transform:uppercase;letter-spacing:.03em}}
.badges{{margin:6px 0 0}}.badge{{display:inline-block;font-size:12px;font-weight:600;
 border-radius:10px;padding:1px 8px;margin-right:6px;background:#ede7fb;color:#4b2a9b}}
.subject{{font-size:19px;line-height:1.25;margin:8px 0 4px}}
.due{{margin:0 0 8px;color:#333;font-size:14px}}
.body{{font-size:15px;overflow-wrap:anywhere}}.body h1{{font-size:18px}}
.body h2{{font-size:17px}}.body h3{{font-size:16px}}.body h1,.body h2,.body h3{{margin:10px 0 4px}}
.body p{{margin:6px 0}}.body ul,.body ol{{margin:6px 0;padding-left:22px}}
.body a{{color:{BUTTON_COLOR}}}.md-href{{color:#666;font-size:12px}}
.md-image{{display:inline-block;border:1px dashed #aaa;border-radius:4px;padding:0 6px;
 color:#666;font-size:13px}}
.body code{{background:#f0f1f4;border-radius:3px;padding:0 3px}}
.body blockquote{{margin:6px 0;padding-left:10px;border-left:3px solid #ccd}}
.payment{{background:{PAYMENT_BACKGROUND};border-radius:10px;padding:10px 14px;margin-top:12px}}
.payment h3,.remote h3{{font-size:14px;margin:0 0 4px}}
.payment dl{{display:grid;grid-template-columns:auto 1fr;gap:2px 12px;margin:0;font-size:14px}}
.payment dt{{color:#445}}.payment dd{{margin:0;font-variant-numeric:tabular-nums}}
.payment .amount{{font-weight:700;font-size:17px}}
.pay{{display:block;text-align:center;margin-top:10px;padding:8px;border-radius:8px;
 background:{PAY_COLOR};color:#fff;font-weight:600}}
.expired{{color:#8f1d1d;font-size:13px;margin:6px 0 0}}
.remote{{background:{REMOTE_BACKGROUND};border-radius:10px;padding:10px 14px;margin-top:12px;
 font-size:14px}}.remote ul{{margin:0;padding-left:18px}}
.ctas{{display:flex;flex-direction:column;gap:8px;margin-top:14px}}
.cta{{display:block;text-align:center;padding:10px;border-radius:8px;font-weight:600;
 border:2px solid {BUTTON_COLOR}}}
.cta.primary{{background:{BUTTON_COLOR};color:#fff}}.cta.secondary{{color:{BUTTON_COLOR}}}
.cta small{{display:block;font-weight:400;font-size:11px;opacity:.85;overflow-wrap:anywhere}}
.note{{color:#7a5600;font-size:13px}}
.problems{{margin:0;padding:10px 16px 14px 32px;font-size:14px}}
.problems li{{margin:3px 0}}.problems .error{{color:#8f1d1d}}.problems .warning{{color:#7a5600}}
.problems code{{font-size:12px;color:#666}}
footer{{color:#777;font-size:12px;margin-top:28px}}
"""


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def page_html(cards: Sequence[Card], t: Translator, facts: FileFacts) -> str:
    """The whole page: a heading with the file's counts, then one card per row."""
    g = t.gettext
    template = (" · " + _e(g("template {name}").format(name=facts.template))
                if facts.template else "")
    body = "\n".join(_card(card, t) for card in cards)
    return f"""<!DOCTYPE html>
<html lang="{t.language.value}">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CSP}">
<meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{_e(g("Message preview"))} · {_e(Path(facts.file).name)}</title>
<style>{CSS}</style>
</head>
<body>
<main>
<h1>{_e(g("Message preview"))}</h1>
<p class="meta">{_e(facts.file)}{template}</p>
<p class="meta">{_e(counts(facts, t))}</p>
<p class="meta">{_e(g("As the IO app shows each message; nothing was sent."))}</p>
<div class="cards">
{body}
</div>
<footer>{_e(g("Made by dispatcher {version}. Fiscal codes are masked.").format(
        version=__version__))}</footer>
</main>
</body>
</html>
"""


def _card(card: Card, t: Translator) -> str:
    state = str(card.state)
    facts = (f'data-row="{card.row}" data-state="{_e(state)}" '
             f'data-buttons="{len(card.buttons) if card.sendable else 0}" '
             f'data-payment="{int(card.sendable and card.payment is not None)}" '
             f'data-remote="{int(card.sendable and card.remote is not None)}"')
    inner = _message(card, t) if card.sendable else (
        f'<div class="msg"><p><strong>{_e(not_sent(card, t))}</strong></p></div>')
    return (f'<section class="card {_e(state)}" id="row-{card.row}" {facts}>\n'
            f"<header>{_e(row_title(card, t))}</header>\n{inner}{_problems(card, t)}</section>")


def _message(card: Card, t: Translator) -> str:
    g = t.gettext
    parts = ['<div class="msg">']
    if card.sender:
        parts.append(f'<p class="sender">{_e(card.sender)}</p>')
    if marks := badges(card, t):
        parts.append('<p class="badges">' + "".join(
            f'<span class="badge">{_e(b)}</span>' for b in marks) + "</p>")
    parts.append(f'<h2 class="subject">{_e(card.subject or "")}</h2>')
    if card.due_date:
        parts.append(f'<p class="due">{_e(g("Due date: {date}").format(date=card.due_date))}</p>')
    parts.append(f'<div class="body">{card.body_html or ""}</div>')  # escaped by markdown-it
    if card.payment is not None:
        parts.append(_payment(card.payment, t))
    if card.remote is not None:
        items = "".join(f"<li>{_e(line)}</li>" for line in remote_lines(card.remote, t))
        parts.append(f'<div class="remote"><h3>{_e(g("Remote content"))}</h3>'
                     f"<ul>{items}</ul></div>")
    if card.buttons:
        buttons = "".join(
            f'<span class="cta {"primary" if i == 0 else "secondary"}" '
            f'title="{_e(b.action)}">{_e(b.text)}<small>{_e(b.action)}</small></span>'
            for i, b in enumerate(card.buttons))
        parts.append(f'<div class="ctas">{buttons}</div>')
    if (missing := buttons_missing(card, t)) is not None:
        parts.append(f'<p class="note">{_e(missing)}</p>')
    parts.append("</div>")
    return "\n".join(parts)


def _payment(payment: Payment, t: Translator) -> str:
    g = t.gettext
    rows = [(g("Amount"), f'<dd class="amount">{_e(payment.amount)}</dd>'),
            (g("Notice number"), f"<dd>{_e(payment.notice_number)}</dd>")]
    if payment.due_date:
        rows.append((g("Due date"), f"<dd>{_e(payment.due_date)}</dd>"))
    payee = payment.payee or g("the service's organisation")
    rows.append((g("Payee"), f"<dd>{_e(payee)}</dd>"))
    listed = "".join(f"<dt>{_e(name)}</dt>{value}" for name, value in rows)
    expired = (f'<p class="expired">{_e(g("Cannot be paid after the due date"))}</p>'
               if payment.invalid_after_due_date else "")
    pay = g("Pay {amount}").format(amount=payment.amount)
    return (f'<div class="payment"><h3>{_e(g("pagoPA notice"))}</h3><dl>{listed}</dl>'
            f'{expired}<span class="pay">{_e(pay)}</span></div>')


def _problems(card: Card, t: Translator) -> str:
    shown = [p for p in card.problems if p.severity != "notice"]  # duplicates: said above
    if not shown:
        return ""
    items = "".join(
        f'<li class="{_e(p.severity)}">{_e(t.gettext(p.severity))}: '
        f"{_e(p.column + ': ') if p.column else ''}{_e(p.message)} <code>{_e(p.code)}</code></li>"
        for p in shown)
    return f'<ul class="problems">{items}</ul>\n'


def write_page(path: Path, cards: Sequence[Card], t: Translator, facts: FileFacts) -> Path:
    """The page at ``path``, written atomically with mode 0600 (it holds personal data)."""
    return write_atomically(path, page_html(cards, t, facts))
