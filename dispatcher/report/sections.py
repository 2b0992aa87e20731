"""The parts of the HTML page an office acts on: what is open, and whom to reach another way.

* **Open**: when the campaign is not complete, how many rows still need a decision and, for
  each kind, the command that settles it (copyable, shell-quoted).
* **To reach by other means**: one group per reason, with its advice written once above its
  rows; each row shows its number, the masked fiscal code and the detail explained (IO's known
  titles translated, anything else marked). Names and addresses stay in ``to_reach.csv``:
  the page is meant to be forwarded.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import groupby

from dispatcher.privacy import mask_fiscal_code, mask_fiscal_codes_in
from dispatcher.report.advice import advice, open_items
from dispatcher.report.io_errors import explain_detail
from dispatcher.report.labels import N_, REASONS, reason_label
from dispatcher.report.pageparts import Format, e
from dispatcher.report.reach import ReachRow
from dispatcher.report.settle import Completeness, SettleCommands

__all__ = ["open_section", "reach_section"]

# Texts used inside f-strings (marked here, where the extractor sees them).
_STILL_OPEN = N_('Still open')
_ROW = N_('Row')
_FISCAL_CODE = N_('Fiscal code')
_DETAIL = N_('Detail')
_TO_REACH_BY_OTHER_MEANS = N_('To reach by other means')
_SAME_DETAIL = N_('Detail of every row: {detail}')
_ALL_REACHED = N_('Every citizen was reached through IO, or may still be.')


def open_section(state: Completeness, commands: SettleCommands, f: Format) -> str:
    """The "still open" box; empty when the campaign is complete."""
    if state.complete:
        return ""
    items = "".join(
        f'<li data-kind="{e(item.kind)}">{e(item.text)}<br>'
        f'<code class="cmd">{e(item.command)}</code></li>'
        for item in open_items(state, commands, f.lang)
    )
    return (f'<section id="open" class="open"><h2>{e(f.t(_STILL_OPEN))}</h2>'
            f"<ul>{items}</ul></section>")


def _detail(a: ReachRow, f: Format) -> str:
    return mask_fiscal_codes_in(explain_detail(a.detail, a.http_status, f.lang) or "")


def _group(rows: list[ReachRow], limit: int, f: Format) -> str:
    """The first ``limit`` rows of one reason; a detail all its rows share is said once."""
    details = {_detail(a, f) for a in rows}
    shared = details.pop() if len(details) == 1 and len(rows) > 1 else None
    rows = rows[:limit]
    once = (f'<p class="hint">{e(f.t(_SAME_DETAIL, detail=shared))}</p>'
            if shared else "")
    cells = "" if shared is not None else f"<th>{e(f.t(_DETAIL))}</th>"
    body = "".join(
        f'<tr><td class="n">{a.row}</td><td><code>{e(mask_fiscal_code(a.fiscal_code))}</code>'
        f'</td><td class="n">{e(a.http_status)}</td>'
        + ("" if shared is not None else f"<td>{e(_detail(a, f))}</td>") + "</tr>"
        for a in rows
    )
    return (
        f'{once}<table><thead><tr><th class="n">{e(f.t(_ROW))}</th>'
        f"<th>{e(f.t(_FISCAL_CODE))}</th><th class=\"n\">HTTP</th>{cells}</tr></thead>"
        f"<tbody>{body}</tbody></table>"
    )


def reach_section(rows: Sequence[ReachRow], limit: int, commands: SettleCommands,
                  f: Format) -> str:
    """Every reason present, its advice once, then its first ``limit`` rows."""
    order = {key: i for i, key in enumerate(REASONS)}
    rows = sorted(rows, key=lambda a: (order[a.reason], a.row))
    total = len(rows)
    head = (f'<section id="to-reach"><h2>{e(f.t(_TO_REACH_BY_OTHER_MEANS))} '
            f"({f.integer(total)})</h2>")
    if not total:
        return head + f"<p>{e(f.t(_ALL_REACHED))}"\
            "</p></section>"
    intro = f.t("Their data in full (names, addresses, amounts) are in to_reach.csv, ready "
                "for a mail merge.")
    parts = [head, f'<p class="hint">{e(intro)}</p>']
    for key, grouped in groupby(rows, key=lambda a: a.reason):
        group = list(grouped)
        count = len(group)
        parts.append(f'<div class="reason" data-reason="{e(key)}">'
                     f"<h3>{e(reason_label(key, f.lang))} ({f.integer(count)})</h3>"
                     f'<p class="advice">{e(advice(key, commands, f.lang))}</p>')
        parts.append(_group(group, limit, f))
        if count > limit:
            more = f.n("and {n} more row: see to_reach.csv.",
                       "and {n} more rows: see to_reach.csv.", count - limit)
            parts.append(f'<p class="warn">{e(more)}</p>')
        parts.append("</div>")
    parts.append("</section>")
    return "".join(parts)
