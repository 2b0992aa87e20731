"""The rows an operator must look at, most urgent first, with personal data masked.

Ambiguous rows come first: they are the only ones where a wrong guess sends a citizen two
messages. Then rows that never reached IO (failed) or that IO refused at submit (rejected),
which a fixed cause and ``--retry-failed`` can still deliver; last, sent messages that IO
ended REJECTED or FAILED, where resending is pointless or needs a decision.
"""

from __future__ import annotations

from dataclasses import dataclass

from dispatcher.ledger import Ledger
from dispatcher.privacy import mask_fiscal_code, mask_fiscal_codes_in
from dispatcher.report.labels import needs_attention
from dispatcher.vocabulary import MessageStatus, RowState

_PRIORITY = {
    (RowState.AMBIGUOUS, None): 0,
    (RowState.FAILED, None): 1,
    (RowState.REJECTED, None): 2,
    (RowState.SENT, MessageStatus.FAILED): 3,
    (RowState.SENT, MessageStatus.REJECTED): 4,
}


@dataclass(frozen=True)
class AttentionRow:
    row: int
    fiscal_code: str  # masked
    state: RowState
    io_status: str | None
    http_status: int | None
    detail: str | None  # fiscal codes inside it masked
    message_id: str | None


def rows_needing_attention(
    ledger: Ledger, campaign_id: int, *, limit: int | None = None
) -> tuple[list[AttentionRow], int]:
    """(the first ``limit`` rows needing attention, how many there are in all)."""
    statuses = ledger.statuses.latest(campaign_id)
    found: list[AttentionRow] = []
    for r in ledger.rows.all(campaign_id):
        known = statuses.get(r.row)
        io_status = known.status if known and r.state is RowState.SENT else None
        if not needs_attention(r.state, io_status):
            continue
        detail = r.detail if r.state is not RowState.SENT else (known.detail if known else None)
        found.append(AttentionRow(
            row=r.row, fiscal_code=mask_fiscal_code(r.fiscal_code), state=r.state,
            io_status=io_status, http_status=r.http_status,
            detail=mask_fiscal_codes_in(detail) if detail else None, message_id=r.message_id,
        ))
    found.sort(key=lambda a: (_PRIORITY.get((a.state, a.io_status), 9), a.row))
    return (found if limit is None else found[:limit]), len(found)
