"""What the ledger stores and answers, as frozen records, and its errors.

Every question the ledger answers comes back as one of these, never as a positional tuple:
a tuple of nine values is read by position in a dozen places, and the day a column is added
every one of them is wrong without a word.
"""

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
    recorded: bool = True
    """False while its rows are being recorded, and forever if that was cut short."""
    encoding: str | None = None
    """How the file's text was read (``utf-8``, ``cp1252``...); None for a spreadsheet."""


@dataclass(frozen=True)
class NewRow:
    """One input row as the campaign room judged it, ready to be recorded."""

    row: int
    fiscal_code: str
    state: RowState  # pending, invalid or duplicate
    content_hash: str | None = None
    detail: str | None = None
    body: bytes | None = None
    """The message JSON a resumed run sends as it is; None for a row that is never sent."""
    send_after: float | None = None
    """Unix time before which the row is not sent (``invia_dal``); None: at once."""


@dataclass(frozen=True)
class PendingRow:
    """A row still to send, with what was recorded for it at the campaign's start."""

    row: int
    fiscal_code: str
    content_hash: str | None
    body: bytes | None


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
    send_after: float | None = None  # not to be sent before this Unix time


@dataclass(frozen=True)
class ScheduledRows:
    """Pending rows whose send-after time is still ahead: waiting by design, not lost."""

    count: int
    next_due: float | None  # the earliest of their send-after times (Unix time)


@dataclass(frozen=True)
class RowEvent:
    """One state a row went through, and when."""

    at: float
    state: RowState
    http_status: int | None
    detail: str | None


@dataclass(frozen=True)
class TimelineSample:
    """One second of a run: the Pacer's counters, as ``run_seconds`` keeps them."""

    second: int  # Unix time
    requests: int
    throttled: int
    target_rate: float | None
    current_rate: float | None


@dataclass(frozen=True)
class RunRecord:
    """One ``dispatcher run`` of a campaign.

    A run killed before it finished has no totals of its own: ``requests`` and ``throttled``
    are then summed from its timeline, which the writer saved as the run went.
    """

    run_id: int
    campaign_id: int
    started_at: float
    finished_at: float | None  # None: still running, or killed before it could finish
    rate: str | None
    requests: int
    throttled: int
    stopped_reason: str | None
    exit_code: int | None
    last_second: int | None  # last second with activity in the run's timeline
    # the audit trail (dispatcher.audit): None for runs of an older ledger
    operator: str | None = None
    host: str | None = None
    version: str | None = None
    command: str | None = None
    settings: str | None = None  # a JSON object

    @property
    def duration_s(self) -> float:
        """Until it finished; for a run that never finished, until its last active second."""
        if self.finished_at is not None:
            end = self.finished_at
        elif self.last_second is not None:
            end = float(self.last_second + 1)
        else:
            end = self.started_at
        return max(0.0, end - self.started_at)

    @property
    def mean_rate(self) -> float:
        """Requests per second over the whole run, 429s and pauses included."""
        return self.requests / self.duration_s if self.duration_s > 0 else 0.0
