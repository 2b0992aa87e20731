"""``dispatcher preview``: chosen rows of a campaign as the IO app will show them.

Reads and judges the file exactly as ``validate`` and ``run`` do (``load_campaign``), then
makes a card (dispatcher/preview/) for each row asked for: the message of a valid row, the
problems of any other. Without a choice, the first few valid rows (or, when none is valid,
the first rows with their problems): what an office wants to look at before sending.

Nothing is sent and no key is needed. The exit code says whether the rows *shown* can be
sent: 0 when every one is valid or a duplicate (a duplicate is simply not sent), 2 when one
of them is invalid. The rest of the file is ``validate``'s job; the counts above the cards
say when it has problems.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from dispatcher.i18n import translator
from dispatcher.operations.errors import OperationRefused, refusals
from dispatcher.preview import Card, FileFacts, build_card, write_page
from dispatcher.vocabulary import ExitCode, InputVerdict, Language

if TYPE_CHECKING:
    from dispatcher.campaign import Campaign, CampaignRow

__all__ = ["DEFAULT_ROWS", "PreviewRequest", "PreviewResult", "preview_campaign"]

DEFAULT_ROWS = 3  # valid rows shown when none are asked for


@dataclass(frozen=True)
class PreviewRequest:
    file: Path
    template: Path | None = None
    rows: Sequence[int] | None = None  # spreadsheet numbers; None: the first valid rows
    language: Language = Language.IT
    sender: str | None = None  # organisation and service, as the app heads the message
    html: Path | None = None  # also write the page here
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    amount_unit: Literal["cents", "euro"] | None = None
    max_rows: int = 1_000_000


@dataclass(frozen=True)
class PreviewResult:
    facts: FileFacts
    language: Language
    cards: tuple[Card, ...]
    html: Path | None = None
    notes: tuple[str, ...] = field(default=())  # how the file was read, said once
    exit_code: ExitCode = ExitCode.OK

    def to_json(self) -> dict[str, Any]:
        return {**self.facts.to_json(), "language": str(self.language),
                "html": str(self.html) if self.html is not None else None,
                "notes": list(self.notes), "cards": [card.to_json() for card in self.cards],
                "exit_code": int(self.exit_code)}


def preview_campaign(request: PreviewRequest) -> PreviewResult:
    """The cards of the chosen rows (and the page, when asked).

    :class:`OperationRefused` (exit 2) for a file that cannot be used or a row number that is
    no data row; (exit 4) for a page that cannot be written.
    """
    from dispatcher.campaign import CampaignOptions, NoSuchRows, load_campaign

    options = CampaignOptions(encoding=request.encoding, delimiter=request.delimiter,
                              max_rows=request.max_rows, amount_unit=request.amount_unit,
                              sheet=request.sheet, language=request.language)
    try:
        with refusals():
            campaign = load_campaign(request.file, template=request.template, options=options)
            rows = (campaign.preview_rows(request.rows) if request.rows
                    else _first_rows(campaign))
            t = translator(request.language)
            cards = tuple(build_card(row, t, sender=request.sender,
                                     column_title=campaign.column_title) for row in rows)
    except NoSuchRows as exc:
        raise OperationRefused(f"--rows: {exc}", ExitCode.INVALID_INPUT) from None
    facts = FileFacts(str(campaign.path),
                      str(campaign.template.path) if campaign.template else None,
                      campaign.row_count, campaign.valid_count, campaign.invalid_count,
                      campaign.duplicate_count)
    if request.html is not None:
        try:
            write_page(request.html, cards, t, facts)
        except OSError as exc:
            raise OperationRefused(f"cannot write the preview page: {exc.strerror or exc} "
                                   f"({request.html})", ExitCode.CONFIG_ERROR) from None
    invalid = any(card.state == InputVerdict.INVALID for card in cards)
    return PreviewResult(facts, request.language, cards, request.html, campaign.notes,
                         ExitCode.INVALID_INPUT if invalid else ExitCode.OK)


def _first_rows(campaign: Campaign) -> list[CampaignRow]:
    """The first valid rows; when no row is valid, the first rows, to show why."""
    rows = campaign.rows()
    if campaign.valid_count == 0:
        return list(islice(rows, DEFAULT_ROWS))
    return list(islice((row for row in rows if row.state == InputVerdict.VALID), DEFAULT_ROWS))
