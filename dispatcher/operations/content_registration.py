"""Remote content reaches the content store before its row reaches the ledger.

Why this order: a row becomes sendable the moment it is committed to the ledger as
``pending``, and the citizen may open the message seconds after its submit. So each chunk of
rows is registered in the service's content store first (one transaction), and only then
recorded. A ``kill -9`` between the two leaves content nobody was sent (a rerun registers
the same content again, a no-op), never a message whose content is missing.

A row whose content cannot be stored (an attachment changed or vanished since validation,
an id already registered for someone else) is recorded ``invalid`` with the reason, so it is
not sent and the report says why; the other rows of its chunk go on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime

import structlog

from dispatcher.campaign import CampaignRow
from dispatcher.content.model import RemoteContent
from dispatcher.content.store import ContentStore, ContentStoreError
from dispatcher.ledger import NewRow
from dispatcher.privacy import mask_fiscal_codes_in
from dispatcher.vocabulary import InputVerdict, RowState

__all__ = ["ContentRegistrar", "register_for_tester"]

log = structlog.get_logger("dispatcher.content")


class ContentRegistrar:
    """Registers the remote content of each chunk of campaign rows, then hands back the
    chunk as the ledger records it (rows whose content could not be stored made invalid)."""

    def __init__(self, store: ContentStore, *,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.store = store
        self.clock = clock
        self.registered = 0
        self.refused = 0

    def register(self, rows: Sequence[CampaignRow], recorded: list[NewRow]) -> list[NewRow]:
        """``recorded`` (the chunk as the ledger will take it), after storing its content."""
        items = [(i, row.fiscal_code, row.remote) for i, row in enumerate(rows)
                 if row.state is InputVerdict.VALID and row.remote is not None]
        if not items:
            return recorded
        at = self.clock()
        try:
            self.store.register([(code, remote) for _, code, remote in items], registered_at=at)
        except ContentStoreError:
            # one bad row must not hold back the others: find it, one row at a time
            return self._one_by_one(items, recorded, at)
        self.registered += len(items)
        return recorded

    def _one_by_one(self, items: list[tuple[int, str, RemoteContent]], recorded: list[NewRow],
                    at: datetime) -> list[NewRow]:
        recorded = list(recorded)
        for index, code, remote in items:
            try:
                self.store.register([(code, remote)], registered_at=at)
            except ContentStoreError as exc:
                reason = mask_fiscal_codes_in(str(exc))
                recorded[index] = replace(
                    recorded[index], state=RowState.INVALID, content_hash=None, body=None,
                    detail=f"remote content could not be stored, not sent: {reason}")
                self.refused += 1
                log.warning("content_refused", row=recorded[index].row, reason=reason)
            else:
                self.registered += 1
        return recorded


def register_for_tester(store: ContentStore, remote: RemoteContent, tester: str,
                        third_party_id: str, *, at: datetime) -> RemoteContent:
    """The row's content under a fresh id, registered for the tester alone.

    A test send must never point at the citizen's record: the tester's app would fetch
    that citizen's content, and only the server's recipient check would stand in between.
    """
    own = replace(remote, third_party_id=third_party_id)
    store.register([(tester, own)], registered_at=at)
    return own
