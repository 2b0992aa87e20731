"""Cards in the terminal: one Rich panel per row, laid out like the message in the app.

Every piece is a :class:`~rich.text.Text` built from plain strings, never Rich markup, so a
cell holding ``[bold]`` or ``[link=...]`` prints as typed. Colours are Rich's: none when
stdout is not a terminal or ``NO_COLOR`` is set.
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from dispatcher.i18n import Translator
from dispatcher.preview.card import Card, Payment
from dispatcher.preview.markdown import render_rich
from dispatcher.preview.words import (
    badges,
    buttons_missing,
    not_sent,
    remote_lines,
    row_title,
)
from dispatcher.vocabulary import InputVerdict

__all__ = ["print_cards", "render_card"]

_BORDER = {InputVerdict.VALID: "blue", InputVerdict.INVALID: "red",
           InputVerdict.DUPLICATE: "yellow"}


def print_cards(cards: Iterable[Card], t: Translator, out: Console) -> None:
    for card in cards:
        out.print(render_card(card, t), soft_wrap=False)  # wrapped inside the panel


def render_card(card: Card, t: Translator) -> Panel:
    """The panel of one card: the message, or why the row will not be sent."""
    parts: list[RenderableType] = []
    if card.sendable:
        parts.extend(_message(card, t))
    else:
        parts.append(Text(not_sent(card, t), style="bold"))
    for problem in card.problems:
        if problem.severity == "notice":  # a duplicate: said by not_sent already
            continue
        where = f"{problem.column}: " if problem.column else ""
        style = "red" if problem.severity == "error" else "yellow"
        parts.append(Text(f"{t.gettext(problem.severity)}: {where}{problem.message} "
                          f"[{problem.code}]", style=style))
    return Panel(Group(*parts), title=Text(row_title(card, t)), title_align="left",
                 border_style=_BORDER.get(card.state, "white"), padding=(0, 1))


def _message(card: Card, t: Translator) -> list[RenderableType]:
    parts: list[RenderableType] = []
    if card.sender:
        parts.append(Text(card.sender, style="dim"))
    if marks := badges(card, t):
        parts.append(Text(" · ".join(marks), style="magenta"))
    parts.append(Text(card.subject or "", style="bold"))
    if card.due_date and card.payment is None:
        parts.append(Text(t.gettext("Due date: {date}").format(date=card.due_date)))
    parts.append(Text(""))
    parts.append(render_rich(card.markdown or ""))
    if card.payment is not None:
        parts.append(Text(""))
        parts.append(_payment(card.payment, t))
    if card.buttons:
        parts.append(Text(""))
    for i, button in enumerate(card.buttons):  # one per line, as the app stacks them
        line = Text(f"[ {button.text} ]", style="bold reverse" if i == 0 else "bold")
        line.append(f"  {button.action}", style="dim")
        parts.append(line)
    if (missing := buttons_missing(card, t)) is not None:
        parts.append(Text(missing, style="yellow"))
    if card.remote is not None:
        parts.append(Text(""))
        parts.append(Text(t.gettext("Remote content"), style="bold"))
        parts.extend(Text("  " + line) for line in remote_lines(card.remote, t))
    return parts


def _payment(payment: Payment, t: Translator) -> Table:
    table = Table(title=Text(t.gettext("pagoPA notice"), style="bold"), title_justify="left",
                  show_header=False, box=None, padding=(0, 2, 0, 0))
    table.add_column(style="dim")
    table.add_column()
    table.add_row(Text(t.gettext("Amount")), Text(payment.amount, style="bold"))
    table.add_row(Text(t.gettext("Notice number")), Text(payment.notice_number))
    if payment.due_date:
        table.add_row(Text(t.gettext("Due date")), Text(payment.due_date))
    table.add_row(Text(t.gettext("Payee")),
                  Text(payment.payee or t.gettext("the service's organisation")))
    if payment.invalid_after_due_date:
        table.add_row(Text(""), Text(t.gettext("Cannot be paid after the due date")))
    return table
