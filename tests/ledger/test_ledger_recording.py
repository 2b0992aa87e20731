"""Recording a campaign's rows: chunks, stored bodies, pages of pending rows.

(Whether a row was sent before by another campaign is the send journal's question:
tests/operations/test_send_journal.py.)
"""

from __future__ import annotations

from pathlib import Path

import pytest
from ledgertools import body, code, pending, send, start

from dispatcher.ledger import Ledger, NewRow
from dispatcher.ledger import campaigns as campaigns_module
from dispatcher.vocabulary import RowState


def test_a_campaign_is_recorded_only_once_every_chunk_is_in(tmp_path: Path) -> None:
    with Ledger.open(tmp_path / "l.sqlite") as ledger:
        cid = ledger.campaigns.begin(input_path="c.csv", input_sha256="f" * 64,
                                     template_sha256="t" * 64)
        assert ledger.campaigns.get(cid).recorded is False
        assert ledger.campaigns.recorded_through(cid) == 0
        ledger.campaigns.record_rows(cid, pending(range(2, 12)))
        # a crash here leaves a campaign that says how far its recording got
        latest = ledger.campaigns.latest()
        assert latest is not None and latest.campaign_id == cid and not latest.recorded
        assert ledger.campaigns.recorded_through(cid) == 11
        ledger.campaigns.record_rows(cid, pending(range(12, 15)))
        ledger.campaigns.finish_recording(cid)
        assert ledger.campaigns.get(cid).recorded is True
        assert ledger.campaigns.recorded_through(cid) == 14
        assert ledger.rows.counts(cid)[RowState.PENDING] == 13


def test_start_records_in_chunks_and_marks_the_campaign_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(campaigns_module, "CHUNK_ROWS", 7)
    chunks: list[int] = []
    original = campaigns_module.CampaignBook.record_rows

    def counting(self: campaigns_module.CampaignBook, campaign_id: int,
                 rows: list[NewRow]) -> None:
        chunks.append(len(rows))
        original(self, campaign_id, rows)

    monkeypatch.setattr(campaigns_module.CampaignBook, "record_rows", counting)
    with Ledger.open(tmp_path / "l.sqlite") as ledger:
        cid = start(ledger, iter(pending(range(2, 22))))
        assert chunks == [7, 7, 6]
        assert ledger.campaigns.get(cid).recorded
        assert sorted(ledger.rows.pending(cid)) == list(range(2, 22))


def test_pending_rows_are_paged_by_row_with_their_bodies_while_outcomes_commit(
    tmp_path: Path,
) -> None:
    with Ledger.open(tmp_path / "l.sqlite") as ledger:
        rows = [*pending(range(2, 27)), NewRow(27, code(27), RowState.INVALID, None, "bad")]
        cid = start(ledger, rows)
        seen: list[int] = []
        after = 0
        while page := ledger.rows.pending_page(cid, after_row=after, limit=10):
            assert [p.row for p in page] == sorted(p.row for p in page)
            assert all(p.body == body(p.row) and p.content_hash == f"h{p.row}" for p in page)
            assert all(p.fiscal_code == code(p.row) for p in page)
            seen += [p.row for p in page]
            after = page[-1].row
            send(ledger, cid, {p.row: RowState.SENT for p in page[:5]})  # behind the cursor
        assert seen == list(range(2, 27))  # none skipped, none twice
        left = [p.row for p in ledger.rows.pending_page(cid, after_row=0, limit=100)]
        assert left == sorted(ledger.rows.pending(cid)) and len(left) == 25 - 15
