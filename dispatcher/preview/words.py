"""The sentences both renderers say about a card, in the chosen language, said once here.

The terminal and the page lay a card out differently but must say the same thing; a
sentence written twice would drift (and be translated twice). The Italian texts are in
``dispatcher/locale/it/LC_MESSAGES/preview.po``.
"""

from __future__ import annotations

from dispatcher.i18n import Translator
from dispatcher.preview.card import Card, FileFacts, Remote
from dispatcher.vocabulary import InputVerdict

__all__ = ["badges", "buttons_missing", "counts", "not_sent", "remote_lines", "row_title"]

PRECONDITIONS = {
    "ALWAYS": "shown every time the message is opened",
    "ONCE": "shown the first time the message is opened",
    "NEVER": "not shown",
}
BADGES = ("Premium", "Remote content", "No e-mail forward")
SEVERITIES = ("error", "warning")


def badges(card: Card, t: Translator) -> list[str]:
    """The marks beside the subject: Premium (ADVANCED), remote content, no e-mail forward."""
    shown = (card.premium, card.remote is not None, card.secure_channels)
    return [t.gettext(word) for on, word in zip(shown, BADGES, strict=True) if on]


def counts(facts: FileFacts, t: Translator) -> str:
    """``200 rows; valid 189, invalid 10, duplicates 1``: the whole file, above its cards."""
    return t.gettext("{rows} rows; valid {valid}, invalid {invalid}, duplicates {duplicates}"
                     ).format(rows=t.number(facts.rows), valid=t.number(facts.valid),
                              invalid=t.number(facts.invalid),
                              duplicates=t.number(facts.duplicates))


def row_title(card: Card, t: Translator) -> str:
    """``Row 2 · to RMNLSS*******39Q``."""
    title = t.gettext("Row {row}").format(row=card.row)
    if card.recipient:
        title += " · " + t.gettext("to {recipient}").format(recipient=card.recipient)
    return title


def not_sent(card: Card, t: Translator) -> str:
    """Why this row shows no message."""
    if card.state == InputVerdict.DUPLICATE and card.duplicate_of is not None:
        return t.gettext("Not sent: the same person as row {other} (one message per "
                         "person).").format(other=card.duplicate_of)
    return t.gettext("Not sent: this row has problems to fix.")


def buttons_missing(card: Card, t: Translator) -> str | None:
    """The text has buttons, but none for the app's language: the citizen sees none."""
    if card.buttons_missing is None:
        return None
    return t.gettext("No button in this language: the text has buttons only for {blocks}, "
                     "and the app shows only the block of its own language.").format(
        blocks=card.buttons_missing)


def remote_lines(remote: Remote, t: Translator) -> list[str]:
    """What IO fetches from the ente's server when the citizen opens the message."""
    lines: list[str] = []
    if remote.has_remote_content:
        lines.append(t.gettext("The text is fetched from the ente's server when the citizen "
                               "opens the message."))
    else:
        lines.append(t.gettext("Linked to the ente's record; the text above is the one shown."))
    if remote.remote_subject:
        lines.append(t.gettext("Remote subject: {subject}").format(subject=remote.remote_subject))
    if remote.precondition:
        when = t.gettext(PRECONDITIONS.get(remote.precondition, remote.precondition))
        lines.append(t.gettext("Precondition: {when}").format(when=when))
    if remote.precondition_title:
        lines.append(t.gettext("Precondition title: {title}").format(
            title=remote.precondition_title))
    if remote.attachments:
        lines.append(t.gettext("Attachments: {names}").format(names=", ".join(remote.attachments)))
    elif remote.has_attachments:
        lines.append(t.gettext("Attachments: fetched from the ente's server when opened."))
    if remote.summary:
        lines.append(t.gettext("Summary: {summary}").format(summary=remote.summary))
    if remote.original_sender:
        lines.append(t.gettext("Original sender: {sender}").format(sender=remote.original_sender))
    lines.append(t.gettext("Record id: {id}").format(id=remote.third_party_id))
    return lines
