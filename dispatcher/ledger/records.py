"""The ledger's vocabulary: row states, the records it stores, and its errors."""

from __future__ import annotations

from dataclasses import dataclass

from dispatcher.vocabulary import RowState


class LedgerError(Exception):
    """The ledger cannot be used as asked; the message says why and what to do."""


class LedgerLocked(LedgerError):
    """Another process holds the run lock of this ledger."""


class InputChanged(LedgerError):
    """The campaign file or template differs from the one the unfinished campaign started with."""


@dataclass(frozen=True)
class CampaignRecord:
    campaign_id: int
    input_path: str
    input_sha256: str
    template_sha256: str | None
    created_at: float
    completed_at: float | None


@dataclass(frozen=True)
class NewRow:
    """One input row as the campaign room judged it, ready to be recorded."""

    row: int
    fiscal_code: str
    state: RowState  # pending, invalid or duplicate
    content_hash: str | None = None
    detail: str | None = None


@dataclass(frozen=True)
class Outcome:
    """The decided fate of one row, as the pipeline learned it."""

    row: int
    state: RowState
    http_status: int | None = None
    message_id: str | None = None
    detail: str | None = None
    attempts: int = 0


@dataclass(frozen=True)
class LedgerRow:
    campaign_id: int
    row: int
    fiscal_code: str
    state: RowState
    content_hash: str | None
    message_id: str | None
    http_status: int | None
    detail: str | None
    attempts: int
    sending_at: float | None
    decided_at: float | None
