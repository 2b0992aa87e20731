"""A run's use of the service's send journal: screen, reserve, settle, reconcile.

The journal (:mod:`dispatcher.journal`) knows what the service sent; this module ties it to
one campaign of one ledger, on the session's writer thread:

* **screen**: before its profile check, a pending row the service already sent (or may have)
  is decided ``already_sent`` without a request; one lookup per page of rows.
* **reserve**: the commit of a batch of intents reserves the rows in the journal first, then
  marks the taken ones ``sending`` in the ledger; a row refused there is recorded
  ``already_sent``, a row another live run is sending stays pending.
* **settle**: the commit of outcomes writes the ledger, then tells the journal how each
  reserved row ended (sent with its id, ambiguous, or released).
* **reconcile**: at the start of a run, reservations an earlier run of this campaign left
  (killed between the two commits) are brought in line with the ledger.

The order of the two databases is what makes a crash harmless: a reservation without the
ledger's intent means the POST never left (released on reconcile); an outcome in the ledger
without its settlement leaves a reservation, read by everyone else as "may have been sent".
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from urllib.parse import urlsplit

import structlog

from dispatcher.journal import (
    EntryState,
    Owner,
    Reservation,
    SendJournal,
    default_journal_path,
)
from dispatcher.ledger import Ledger, Outcome, PendingRow
from dispatcher.pipeline import Intent, IntentVerdict
from dispatcher.profilecache import service_fingerprint
from dispatcher.settings import Settings
from dispatcher.vocabulary import RowState

__all__ = ["SendGuard", "journal_path", "open_guard"]

log = structlog.get_logger("dispatcher.journal")

_SETTLED = {RowState.SENT: EntryState.SENT, RowState.AMBIGUOUS: EntryState.AMBIGUOUS,
            RowState.SENDING: EntryState.AMBIGUOUS}


def journal_path(settings: Settings, override: Path | None = None) -> Path:
    """``--journal``, else the settings' ``journal``, else the service's default file."""
    if override is not None:
        return Path(override)
    if settings.journal is not None:
        return settings.journal
    return default_journal_path(service_fingerprint(same_service_url(settings.base_url),
                                                    settings.require_api_key()))


def same_service_url(url: str) -> str:
    """The base URL as the service is reached, whatever its spelling (``HTTPS://``, ``:443``,
    a trailing slash): one service, one journal. Another host name is another journal."""
    parts = urlsplit(url.strip())
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    default = {"https": 443, "http": 80}.get(scheme)
    port = "" if parts.port in (None, default) else f":{parts.port}"
    return f"{scheme}://{host}{port}{parts.path.rstrip('/')}"


@contextlib.contextmanager
def open_guard(settings: Settings, ledger: Ledger, campaign_id: int, run_id: int,
               input_name: str, *, allow_resend: bool, override: Path | None = None,
               ) -> Iterator[SendGuard]:
    """The guard of one run of a campaign, its journal open for the length of the run."""
    # the path for people, the ledger's own id so that a new ledger at an old path is not
    # taken for the old one (it would own, and resend, everything the old one sent)
    owner = Owner(ledger=f"{Path(ledger.path).resolve()}#{ledger.identity()}",
                  campaign_id=campaign_id,
                  label=f"campaign {campaign_id} of {input_name} (ledger {ledger.path})")
    with SendJournal.open(journal_path(settings, override)) as journal:
        yield SendGuard(journal, owner, ledger, campaign_id, run_id, allow_resend=allow_resend)


class SendGuard:
    """The journal seen from one run of a campaign; each method runs on the writer's thread."""

    def __init__(self, journal: SendJournal, owner: Owner, ledger: Ledger, campaign_id: int,
                 run_id: int, *, allow_resend: bool) -> None:
        self.journal = journal
        self.owner = owner
        self.ledger = ledger
        self.campaign_id = campaign_id
        self.run_id = run_id
        self.allow_resend = allow_resend
        self.postponed = 0
        """Rows left pending because another live run is sending the same message."""
        self.refused = 0
        self._reserved: set[int] = set()

    def screen(self, page: Sequence[PendingRow]) -> tuple[list[PendingRow], int]:
        """The rows to dispatch; rows the service sent before are recorded ``already_sent``.

        Returns the rows to go on with, and how many were decided here.
        """
        if self.allow_resend:
            return list(page), 0
        earlier = self.journal.earlier(self.owner, [
            Reservation(p.row, p.fiscal_code, p.content_hash) for p in page
            if p.content_hash is not None])
        keep: list[PendingRow] = []
        decided: list[Outcome] = []
        for pending in page:
            found = earlier.get(pending.row)
            if found is None:
                keep.append(pending)
            elif found.in_flight:
                self.postponed += 1
            else:
                decided.append(_already_sent(pending.row, found.message_id, found.describe()))
        if decided:
            self.ledger.rows.record_outcomes(self.campaign_id, self.run_id, decided)
        self.refused += len(decided)
        return keep, len(decided)

    def commit_intents(self, intents: Sequence[Intent]) -> None:
        """Reserve in the journal, then mark the taken rows ``sending`` in the ledger."""
        reserved = self.journal.reserve(
            self.owner, [Reservation(i.row, i.fiscal_code, i.content_hash) for i in intents],
            allow_resend=self.allow_resend)
        self.ledger.rows.mark_sending(self.campaign_id, self.run_id, reserved.taken)
        if reserved.refused:
            self.ledger.rows.record_outcomes(self.campaign_id, self.run_id, [
                _already_sent(row, e.message_id, e.describe())
                for row, e in reserved.refused.items()])
        self._reserved.update(reserved.taken)
        self.refused += len(reserved.refused)
        self.postponed += len(reserved.postponed)
        for intent in intents:
            if intent.row in reserved.refused:
                intent.verdict = IntentVerdict.REFUSED
            elif intent.row in reserved.postponed:
                intent.verdict = IntentVerdict.POSTPONED

    def commit_outcomes(self, outcomes: Sequence[Outcome]) -> None:
        """Write the ledger, then settle the reserved rows among ``outcomes``."""
        self.ledger.rows.record_outcomes(self.campaign_id, self.run_id, outcomes)
        settled = [(o.row, _SETTLED.get(o.state), o.message_id) for o in outcomes
                   if o.row in self._reserved]
        self.journal.settle(self.owner, settled)
        self._reserved.difference_update(row for row, _, _ in settled)

    def release_unsent(self, rows: Sequence[int]) -> int:
        """Rows cut off before their request left: pending again, reservations released."""
        released = self.ledger.rows.release_unsent(self.campaign_id, self.run_id, rows)
        self.journal.settle(self.owner, [(row, None, None) for row in rows])
        self._reserved.difference_update(rows)
        return released

    def reconcile(self) -> int:
        """Bring this campaign's leftover reservations in line with the ledger (at start)."""
        rows = self.journal.reserved_rows(self.owner)
        settled = []
        for row in rows:
            found = self.ledger.rows.get(self.campaign_id, row)
            state = found.state if found is not None else RowState.PENDING
            settled.append((row, _SETTLED.get(state),
                            found.message_id if found is not None else None))
        self.journal.settle(self.owner, settled)
        if settled:
            log.info("journal_reconciled", reservations=len(settled))
        return len(settled)


def _already_sent(row: int, message_id: str | None, detail: str) -> Outcome:
    return Outcome(row, RowState.ALREADY_SENT, None, message_id, detail, 0)
