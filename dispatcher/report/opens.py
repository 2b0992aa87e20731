"""The read signal of remote-content messages: when each was first opened, how many were.

IO fetches a remote-content message's text from the ente's content server each time the
citizen opens it, and the server logs every fetch: that is a read signal without Premium.
The report receives what the content store knows as a plain mapping (third-party id → first
opened time, number of opens; see ``ContentStore.opens``) and pairs it with the campaign's
rows through the input's ``third_party_id`` column (or one of its Italian aliases). Only sent
rows count: an id on an invalid row never became a message.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # polars on first use: the metrics path of a cron run never needs it
    import polars as pl

__all__ = ["OpenTally", "Opens", "open_columns", "third_party_ids"]

Opens = Mapping[str, tuple[datetime | float, int]]
"""Third-party id → (first opened at, how many opens): what the content store reports."""


@dataclass(frozen=True)
class OpenTally:
    """``opened`` of ``messages`` sent remote-content messages were opened at least once."""

    opened: int
    messages: int


def third_party_ids(input_frame: pl.DataFrame | None) -> dict[int, str]:
    """Row → the third-party id the input gave it (rows without one are left out)."""
    from dispatcher.campaign.headers import column_name

    if input_frame is None:
        return {}
    column = next((c for c in input_frame.columns if c != "row"
                   and column_name(c) == "third_party_id"), None)
    if column is None:
        return {}
    return {row: value.strip() for row, value in input_frame.select("row", column).iter_rows()
            if value and value.strip()}


def _moment(value: datetime | float) -> datetime:
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromtimestamp(value, UTC)


def open_columns(ids: Mapping[int, str], sent_rows: Collection[int],
                 opens: Opens) -> tuple[pl.DataFrame, OpenTally]:
    """``row``, ``first_opened_at`` and ``open_count`` of every sent remote-content row
    (``0`` opens: not opened yet), and the tally for the report's tile."""
    import polars as pl

    records: list[tuple[int, datetime | None, int]] = []
    for row in sorted(r for r in sent_rows if r in ids):
        first, count = opens.get(ids[row], (None, 0))
        records.append((row, _moment(first) if first is not None and count else None,
                        int(count)))
    frame = pl.DataFrame(records, orient="row", schema={
        "row": pl.Int64, "first_opened_at": pl.Datetime("us", "UTC"), "open_count": pl.Int64})
    return frame, OpenTally(sum(1 for _, _, n in records if n > 0), len(records))
