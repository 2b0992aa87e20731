"""One row as the citizen's IO app would show it: the fields both renderers and ``--json`` use.

Why a typed card between the campaign row and the outputs: the terminal, the HTML page and
the JSON document must show the same thing, so what the app shows is decided once, here
(which buttons, which date, which amount format), and the renderers only lay it out.

Everything personal is masked on the way in: the recipient, and any fiscal code a subject,
text or remote field happens to hold. A preview page gets forwarded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from dispatcher.i18n import ROME, Translator
from dispatcher.preview.markdown import Button, render_html, split_front_matter
from dispatcher.privacy import mask_fiscal_codes_in, mask_if_fiscal_code
from dispatcher.vocabulary import InputVerdict

if TYPE_CHECKING:
    from dispatcher.campaign import CampaignRow, Problem
    from dispatcher.content.model import RemoteContent
    from dispatcher.message import MessageContent, OutgoingMessage

__all__ = ["Card", "FileFacts", "Issue", "Payment", "Remote", "build_card"]

PREMIUM_LEVEL = "ADVANCED"  # IO's feature_level_type of a Premium message


@dataclass(frozen=True, slots=True)
class Payment:
    """The pagoPA box under the text: what the citizen pays, by when, to whom."""

    amount_cents: int
    amount: str  # in the chosen locale: "495,80 €"
    notice_number: str
    payee: str | None  # the creditor's fiscal code; None: the service's own organisation
    due_date: str | None  # Europe/Rome, in the chosen locale
    invalid_after_due_date: bool


@dataclass(frozen=True, slots=True)
class Remote:
    """``third_party_data``: what IO fetches from the ente when the citizen opens it."""

    third_party_id: str
    configuration_id: str | None
    has_remote_content: bool
    has_attachments: bool
    precondition: str | None  # ALWAYS, ONCE or NEVER
    summary: str | None
    original_sender: str | None
    remote_subject: str | None  # from the row's RemoteContent, when the campaign has one
    precondition_title: str | None
    attachments: tuple[str, ...]  # file names, as the app lists them


@dataclass(frozen=True, slots=True)
class Issue:
    """A problem of the row, in the chosen language, naming the file's column."""

    column: str | None
    code: str
    severity: str
    message: str


@dataclass(frozen=True, slots=True)
class Card:
    """What one row shows; for a row that will not be sent, why (``problems``)."""

    row: int
    state: InputVerdict
    recipient: str  # masked
    duplicate_of: int | None = None
    problems: tuple[Issue, ...] = ()
    sender: str | None = None
    subject: str | None = None
    markdown: str | None = None  # the text below the buttons' front matter
    body_html: str | None = None  # ``markdown`` rendered, every character escaped
    buttons: tuple[Button, ...] = ()
    buttons_missing: str | None = None  # a block exists, but not in this language
    due_date: str | None = None
    payment: Payment | None = None
    remote: Remote | None = None
    premium: bool = False
    secure_channels: bool = False  # no e-mail forward, anonymous push

    @property
    def sendable(self) -> bool:
        return self.state == InputVerdict.VALID

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def build_card(row: CampaignRow, t: Translator, *, sender: str | None = None,
               column_title: Callable[[str], str] = str) -> Card:
    """The card of ``row`` in ``t``'s language; ``column_title`` names a problem's column."""
    issues = tuple(_issue(p, column_title) for p in row.problems)
    recipient = mask_if_fiscal_code(row.fiscal_code)  # "TOTALE" is shown: it finds the row
    message = row.message
    if message is None:
        return Card(row.row, row.state, recipient, row.duplicate_of, issues, sender)
    content = message.content
    front = split_front_matter(mask_fiscal_codes_in(content.markdown))
    language = t.language.value
    buttons = front.buttons.get(language, ())
    missing = None
    if front.buttons and not buttons:
        missing = ", ".join(sorted(front.buttons))
    due = _moment(content.due_date, t)
    return Card(
        row=row.row, state=row.state, recipient=recipient, duplicate_of=row.duplicate_of,
        problems=issues, sender=sender, subject=mask_fiscal_codes_in(content.subject),
        markdown=front.body, body_html=render_html(front.body), buttons=buttons,
        buttons_missing=missing, due_date=due, payment=_payment(content, due, t),
        remote=_remote(message, getattr(row, "remote", None)),
        premium=message.feature_level_type == PREMIUM_LEVEL,
        secure_channels=bool(content.require_secure_channels),
    )


def _issue(problem: Problem, column_title: Callable[[str], str]) -> Issue:
    return Issue(column_title(problem.column) if problem.column else None, str(problem.code),
                 str(problem.severity), problem.message)


def _moment(iso: str | None, t: Translator) -> str | None:
    """A due date as the app shows it, in Italy: the day alone when it is the day's end."""
    if iso is None:
        return None
    local = datetime.fromisoformat(iso).astimezone(ROME)
    if (local.hour, local.minute) == (23, 59):
        return t.date(local)
    return t.datetime(local)


def _payment(content: MessageContent, due: str | None, t: Translator) -> Payment | None:
    data = content.payment_data
    if data is None:
        return None
    return Payment(data.amount, t.euro(data.amount), data.notice_number,
                   data.payee_fiscal_code, due, bool(data.invalid_after_due_date))


def _masked(value: str | None) -> str | None:
    return mask_fiscal_codes_in(value) if value is not None else None


def _remote(message: OutgoingMessage, content: RemoteContent | None) -> Remote | None:
    data = message.content.third_party_data
    if data is None:
        return None
    precondition = content.precondition if content is not None else None
    return Remote(
        third_party_id=mask_fiscal_codes_in(data.id),
        configuration_id=data.configuration_id,
        has_remote_content=bool(data.has_remote_content),
        has_attachments=bool(data.has_attachments),
        precondition=data.has_precondition,
        summary=_masked(data.summary),
        original_sender=_masked(data.original_sender),
        remote_subject=_masked(content.subject) if content is not None else None,
        precondition_title=_masked(precondition.title) if precondition is not None else None,
        attachments=tuple(mask_fiscal_codes_in(a.name) for a in content.attachments)
        if content is not None else (),
    )


@dataclass(frozen=True, slots=True)
class FileFacts:
    """The campaign file the cards come from, said above them: a preview is never the whole
    story of a file (``dispatcher validate`` is)."""

    file: str
    template: str | None
    rows: int
    valid: int
    invalid: int
    duplicates: int

    def to_json(self) -> dict[str, Any]:
        return asdict(self)
