"""What the office should do, written once per outcome, and what keeps a campaign open.

A row of advice repeated on 3,000 rows is noise nobody reads; the same words said once, above
the rows they concern, with the command to run where one helps, is something an office can
follow. Every text is an English source string translated by the report's catalog.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from dispatcher.report.labels import IO_FAILED, IO_REJECTED, N_, Language, tr
from dispatcher.report.settle import Completeness, SettleCommands
from dispatcher.vocabulary import RowState

__all__ = ["ADVICE", "OpenItem", "advice", "open_items", "status_line"]

ADVICE: dict[str, str] = {
    RowState.INVALID: N_(
        "These rows were not sent: the file has mistakes in them (the detail names the "
        "column). Correct them and send the rows in a new campaign file, or reach these "
        "citizens by post or e-mail with to_reach.csv."),
    RowState.NO_PROFILE: N_(
        "These citizens do not use the IO app, or turned its inbox off: IO cannot reach them. "
        "Send the notice by post, PEC or e-mail; to_reach.csv has their data for a mail "
        "merge."),
    RowState.SENDER_NOT_ALLOWED: N_(
        "These citizens turned this service off in the IO app: do not write to them through "
        "IO. Send the notice by post, PEC or e-mail."),
    RowState.REJECTED: N_(
        "IO refused these messages when they were sent and stored nothing; the detail says "
        "why. If the cause is on the ente's side (a permission, a configuration, an amount "
        "cap), fix it and send them again with: {command}. Otherwise reach them another way."),
    RowState.FAILED: N_(
        "These messages never reached IO (network down or IO unavailable). Sending them again "
        "is safe: {command}."),
    RowState.AMBIGUOUS: N_(
        "IO cannot tell whether these messages arrived: the request left, its answer was "
        "lost. Sending them again may give the citizen a second copy of the same message. "
        "If a second copy is acceptable, or IO's back office shows they did not arrive, "
        "resend them with: {command}. Otherwise reach them another way."),
    IO_REJECTED: N_(
        "IO accepted these messages, then rejected them: by the time IO processed them the "
        "citizen had no IO profile or had blocked the service. Sending again is pointless: "
        "use another channel."),
    IO_FAILED: N_(
        "IO accepted these messages but could not deliver them (a permanent failure on IO's "
        "side). Use another channel, or send a new message later."),
}
"""Keyed like :data:`~dispatcher.report.labels.REASONS`."""


def _command_text(command: str | None, flag: str, lang: Language | str) -> str:
    if command is not None:
        return command
    return tr(lang).gettext(
        "the campaign's own run command (with its -t template) followed by {flag}"
    ).format(flag=flag)


def advice(key: str, commands: SettleCommands, lang: Language | str = Language.IT) -> str:
    """The advice for one reason, with its command filled in."""
    retry = _command_text(commands.resume and f"{commands.resume} --retry-failed",
                          "--retry-failed", lang)
    commands_of: dict[str, str] = {
        RowState.REJECTED: retry,
        RowState.FAILED: retry,
        RowState.AMBIGUOUS: _command_text(commands.resend_ambiguous, "--resend-ambiguous", lang),
    }
    command = commands_of.get(key, "")
    return tr(lang).gettext(ADVICE[key]).format(command=command)


@dataclass(frozen=True)
class OpenItem:
    """One kind of open row: how many, what to do (translated), the command that does it."""

    kind: str  # unfinished | unrecorded | ambiguous | unchecked
    rows: int
    text: str
    command: str


def open_items(state: Completeness, commands: SettleCommands,
               lang: Language | str = Language.IT) -> list[OpenItem]:
    """What is still open, most urgent first (a stopped run before an ambiguous row)."""
    t = tr(lang)
    resume = commands.resume or t.gettext("the campaign's own run command (with its -t "
                                          "template)")
    items: list[OpenItem] = []
    if state.unfinished:
        items.append(OpenItem("unfinished", state.unfinished, t.ngettext(
            "{n} row not processed yet: run the campaign again to finish it.",
            "{n} rows not processed yet: run the campaign again to finish them.",
            state.unfinished).format(n=t.number(state.unfinished)), resume))
    elif state.unrecorded and not state.scheduled:
        items.append(OpenItem("unrecorded", 0, t.gettext(
            "The recording of the campaign's rows was cut short: run it again to finish."),
            resume))
    if state.scheduled:
        when = t.datetime(datetime.fromtimestamp(state.next_due, UTC)) if state.next_due else "?"
        items.append(OpenItem("scheduled", state.scheduled, t.ngettext(
            "{n} row is scheduled for later (from {when}): the campaign's next run after that "
            "time sends it.",
            "{n} rows are scheduled for later (from {when}): the campaign's next run after "
            "that time sends them.", state.scheduled).format(n=t.number(state.scheduled),
                                                              when=when), resume))
    if state.ambiguous:
        items.append(OpenItem("ambiguous", state.ambiguous, t.ngettext(
            "{n} ambiguous row: decide whether to resend it (see the advice below); to "
            "resend:",
            "{n} ambiguous rows: decide whether to resend them (see the advice below); to "
            "resend:", state.ambiguous).format(n=t.number(state.ambiguous)),
            _command_text(commands.resend_ambiguous, "--resend-ambiguous", lang)))
    if state.unchecked:
        items.append(OpenItem("unchecked", state.unchecked, t.ngettext(
            "{n} sent message has no final IO status yet: ask IO (a message younger than 30 "
            "minutes waits for a later check; --min-age 0 asks at once) with",
            "{n} sent messages have no final IO status yet: ask IO (messages younger than 30 "
            "minutes wait for a later check; --min-age 0 asks at once) with",
            state.unchecked).format(n=t.number(state.unchecked)), commands.status))
    return items


def status_line(state: Completeness, lang: Language | str = Language.IT) -> str:
    """``complete``, or how many rows still need a decision."""
    t = tr(lang)
    if state.complete:
        return t.gettext("complete: every row has a final outcome")
    if not state.open_rows:
        return t.gettext("not complete: the campaign's rows were not all recorded")
    return t.ngettext("not complete: {n} row still open",
                      "not complete: {n} rows still open",
                      state.open_rows).format(n=t.number(state.open_rows))
