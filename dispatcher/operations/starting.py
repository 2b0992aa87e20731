"""Which campaign a run continues, and how its rows reach the ledger and the pipeline.

One pass over the input. A new campaign is validated once (polars), then a recorder renders
and records its rows chunk by chunk (each chunk one transaction, its earlier-delivery check
one batched query), while the pipeline is already sending: it pages the pending rows from
the ledger as they are committed. A resume hashes the file and the template and, when they
are unchanged, never reads the rows again: the pending rows and their stored messages come
from the ledger. A run killed while recording continues recording where it stopped.
"""

from __future__ import annotations

import functools
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import anyio
import structlog

from dispatcher.campaign import Campaign, CampaignRow, CampaignSource, Fingerprint
from dispatcher.i18n import N_
from dispatcher.ledger import (
    CampaignRecord,
    Ledger,
    NewRow,
    Outcome,
    PendingRow,
    open_for_reading,
)
from dispatcher.ledger.reading import is_blank
from dispatcher.message import OutgoingMessage
from dispatcher.operations.content_registration import ContentRegistrar
from dispatcher.operations.errors import CampaignInvalid, OperationRefused, Suggestion
from dispatcher.operations.send_guard import SendGuard
from dispatcher.pipeline import Job, OutcomeHook
from dispatcher.vocabulary import ExitCode, InputVerdict, RowState
from dispatcher.writer import BatchWriter

__all__ = ["Feeder", "Start", "expected_counts", "new_row", "start_campaign", "validate_first"]

log = structlog.get_logger("dispatcher.starting")

RECORD_CHUNK = 10_000  # rows rendered and recorded per transaction
PAGE = 512  # pending rows read from the ledger at a time


@dataclass
class Start:
    """The campaign a run works on, and what is left to record of it."""

    campaign_id: int
    resumed: bool
    source: CampaignSource
    campaign: Campaign | None = None  # loaded only when rows remain to be recorded
    record_after: int = 0  # rows numbered above this are not in the ledger yet

    @property
    def recording(self) -> bool:
        return self.campaign is not None


def validate_first(source: CampaignSource, fingerprint: Fingerprint, ledger_path: Path, *,
                   skip_invalid: bool) -> Campaign | None:
    """The campaign, loaded and judged before anything is created; None for a resume.

    A resume of a fully recorded campaign of this very input reads no row. Anything else
    needs the rows, and invalid ones without ``skip_invalid`` refuse the run here, before
    even a ledger file exists (:class:`CampaignInvalid`).
    """
    if ledger_path.exists() and not is_blank(ledger_path):
        with open_for_reading(ledger_path) as ledger:
            latest = ledger.campaigns.latest()
        if latest is not None and latest.recorded and _same(latest, fingerprint):
            return None
    campaign = source.load()
    if campaign.has_errors and not skip_invalid:
        raise CampaignInvalid(campaign)
    return campaign


def _same(record: CampaignRecord, fingerprint: Fingerprint) -> bool:
    return (record.input_sha256, record.template_sha256) == (
        fingerprint.input_sha256, fingerprint.template_sha256)


def start_campaign(
    ledger: Ledger, source: CampaignSource, fingerprint: Fingerprint, *,
    skip_invalid: bool, new_campaign: bool, loaded: Campaign | None = None,
) -> Start:
    """Continue the latest campaign of this input, or validate and begin a new one.

    ``loaded`` is the campaign :func:`validate_first` read, if it did. Raises
    :class:`OperationRefused` for another input under an unfinished campaign (unless
    ``new_campaign``) and :class:`CampaignInvalid` for invalid rows without ``skip_invalid``;
    both before anything is written.
    """
    latest = ledger.campaigns.latest()
    if latest is not None and _same(latest, fingerprint):
        return _continue(ledger, latest, source, loaded)
    if latest is not None and latest.completed_at is None and not new_campaign:
        raise OperationRefused(
            None, ExitCode.INVALID_INPUT,
            params={"path": source.path, "ledger": ledger.path, "first": latest.input_path},
            text=N_("{path}: the campaign file or template changed since the unfinished run "
                    "recorded in {ledger} (started with {first}). Finish it with the original "
                    "file, or close it (rows not yet sent become failed, rows in flight "
                    "ambiguous) and start this one: {command}"),
            suggestion=Suggestion("run", (source.path,), ("--new-campaign",)),
        )
    campaign = loaded or source.load()
    if campaign.has_errors and not skip_invalid:
        raise CampaignInvalid(campaign)
    if latest is not None and latest.completed_at is None:
        ledger.campaigns.abandon(latest.campaign_id, None)
    campaign_id = ledger.campaigns.begin(
        input_path=str(source.path), input_sha256=campaign.source_sha256,
        template_sha256=campaign.template_sha256, encoding=campaign.encoding,
    )
    return Start(campaign_id, False, source, campaign, 0)


def _continue(ledger: Ledger, latest: CampaignRecord, source: CampaignSource,
              loaded: Campaign | None) -> Start:
    """The same input again: resume; load the file only if its recording was cut short."""
    if latest.recorded:
        return Start(latest.campaign_id, True, source)
    after = ledger.campaigns.recorded_through(latest.campaign_id)
    log.info("recording_resumed", campaign_id=latest.campaign_id, after_row=after)
    return Start(latest.campaign_id, True, source, loaded or source.load(), after)


def expected_counts(ledger: Ledger, start: Start) -> dict[RowState, int]:
    """Row counts for a progress bar: the ledger's, plus what recording will add."""
    counts = ledger.rows.counts(start.campaign_id)
    campaign = start.campaign
    if campaign is not None:
        if start.record_after == 0:
            counts[RowState.PENDING] += campaign.valid_count
            counts[RowState.INVALID] += campaign.invalid_count
            counts[RowState.DUPLICATE] += campaign.duplicate_count
        else:
            counts[RowState.PENDING] += max(0, campaign.row_count - sum(counts.values()))
    return counts


class Feeder:
    """Records what is left of the campaign and feeds the pipeline its pending rows."""

    def __init__(self, ledger: Ledger, writer: BatchWriter, start: Start, guard: SendGuard, *,
                 on_outcome: OutcomeHook | None = None,
                 now: Callable[[], float] = time.time,
                 registrar: ContentRegistrar | None = None) -> None:
        self.ledger = ledger
        self.registrar = registrar
        """Stores each chunk's remote content before the chunk is recorded (and sendable)."""
        self.now = now
        """Unix time: rows whose send-after time is later stay pending for a later run."""
        self.writer = writer
        self.start = start
        self.guard = guard
        self.on_outcome = on_outcome or (lambda state: None)
        self._recorded = anyio.Event() if start.recording else None
        self._more = anyio.Event()
        self._legacy: dict[int, OutgoingMessage] | None = None
        self.stale: list[Outcome] = []

    async def record(self) -> None:
        """Render and record the rows not in the ledger yet, a chunk per transaction."""
        campaign = self.start.campaign
        if campaign is None:
            return
        cid = self.start.campaign_id
        rows = campaign.rows(after=self.start.record_after)
        record = functools.partial(self.ledger.campaigns.record_rows, cid)
        try:
            while chunk := await anyio.to_thread.run_sync(_new_rows, rows, self.registrar):
                await self.writer.call(record, chunk)
                self._more.set()
                self._more = anyio.Event()
            await self.writer.call(self.ledger.campaigns.finish_recording, cid)
        finally:
            assert self._recorded is not None
            self._recorded.set()
            self._more.set()

    async def jobs(self) -> AsyncIterator[Job]:
        """Pending rows in row order, as the ledger has them (paged: others commit meanwhile).

        Each page is screened against the service's send journal first: a row sent before
        is decided ``already_sent`` there, without a profile check.
        """
        cid = self.start.campaign_id
        after = 0
        while True:
            waiting = self._more
            page: list[PendingRow] = await self.writer.call(
                functools.partial(self.ledger.rows.pending_page, cid, after_row=after,
                                  limit=PAGE, due_by=self.now()))
            if page:
                after = page[-1].row
                kept, decided = await self.writer.call(self.guard.screen, page)
                for _ in range(decided):
                    self.on_outcome(RowState.ALREADY_SENT)
                for pending in kept:
                    job = await self._job(pending)
                    if job is not None:
                        yield job
            elif self._recorded is None or self._recorded.is_set():
                return
            else:
                await waiting.wait()

    async def _job(self, pending: PendingRow) -> Job | None:
        if pending.body is not None:
            return Job(pending.row, OutgoingMessage.from_stored(pending.fiscal_code,
                                                                pending.body))
        # A ledger of an older version kept no message: render it from the file once.
        if self._legacy is None:
            self._legacy = await anyio.to_thread.run_sync(_render_all, self.start.source)
        message = self._legacy.get(pending.row)
        if message is None:
            self.stale.append(Outcome(pending.row, RowState.FAILED, None, None,
                                      "row is not valid on resume; not sent"))
            return None
        if message.content_hash != pending.content_hash:
            self.stale.append(Outcome(pending.row, RowState.FAILED, None, None,
                                      "rendered content differs from the campaign's first run"))
            return None
        return Job(pending.row, message.addressed_to(pending.fiscal_code))


def _new_rows(rows: Iterator[CampaignRow],
              registrar: ContentRegistrar | None = None) -> list[NewRow]:
    """The next chunk of rows as the ledger records them (runs on a worker thread), its
    remote content already in the content store when the campaign has any."""
    chunk = list(islice(rows, RECORD_CHUNK))
    recorded = [new_row(row) for row in chunk]
    return registrar.register(chunk, recorded) if registrar is not None else recorded


def new_row(row: CampaignRow) -> NewRow:
    if row.state is InputVerdict.VALID and row.message is not None:
        message = row.message
        after = row.send_after.timestamp() if row.send_after is not None else None
        return NewRow(row.row, row.fiscal_code, RowState.PENDING, message.content_hash,
                      None, message.stored(), send_after=after)
    if row.state is InputVerdict.DUPLICATE:
        return NewRow(row.row, row.fiscal_code, RowState.DUPLICATE, None,
                      f"same fiscal code as row {row.duplicate_of}: one message per person")
    detail = "; ".join(f"{p.column or 'row'}: {p.message}" for p in row.problems if p.is_error)
    return NewRow(row.row, row.fiscal_code, RowState.INVALID, None, detail or "invalid")


def _render_all(source: CampaignSource) -> dict[int, OutgoingMessage]:
    return {row.row: row.message for row in source.load().rows() if row.message is not None}
