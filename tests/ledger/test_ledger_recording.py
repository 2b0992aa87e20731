"""Recording a campaign's rows: chunks, the cross-campaign guard in one query, stored bodies."""

from __future__ import annotations

from pathlib import Path

import pytest
from ledgertools import body, code, pending, send, start, stored_bodies

from dispatcher.ledger import Ledger, NewRow
from dispatcher.ledger import campaigns as campaigns_module
from dispatcher.storage import open_database
from dispatcher.vocabulary import RowState


def _statements_while_recording(path: Path, rows: list[NewRow]) -> list[str]:
    """Every SQL statement one ``record_rows`` call runs, in order."""
    db = open_database(path, schema=None)
    with Ledger(db) as ledger:
        cid = ledger.campaigns.begin(input_path="d.csv", input_sha256="d" * 64,
                                     template_sha256=None)
        statements: list[str] = []
        db.connection.set_trace_callback(statements.append)
        ledger.campaigns.record_rows(cid, rows, allow_resend=False)
        db.connection.set_trace_callback(None)
    return statements


def test_the_guard_asks_one_query_per_chunk_however_many_rows_it_holds(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    with Ledger.open(path) as ledger:
        earlier = start(ledger, pending(range(2, 1002)))
        send(ledger, earlier, {r: RowState.SENT for r in range(2, 1002)})
    small = _statements_while_recording(path, pending(range(2, 12)))
    large = _statements_while_recording(path, pending(range(2, 1002)))

    def not_inserts(statements: list[str]) -> list[str]:
        return [s for s in statements if not s.lstrip().upper().startswith("INSERT")]

    assert len(not_inserts(large)) == len(not_inserts(small)) <= 4  # BEGIN, the guard, COMMIT
    assert sum(s.lstrip().upper().startswith("SELECT") for s in large) == 1
    assert len(large) - len(not_inserts(large)) == 2 * 1000  # the row and its first event


def test_a_row_sent_or_possibly_sent_by_another_campaign_is_recorded_as_duplicate(
    tmp_path: Path,
) -> None:
    with Ledger.open(tmp_path / "l.sqlite") as ledger:
        first = start(ledger, pending(range(2, 6), hash_of="same"))
        send(ledger, first, {2: RowState.SENT, 3: RowState.AMBIGUOUS, 4: RowState.SENDING,
                             5: RowState.REJECTED})
        second = ledger.campaigns.begin(input_path="c.csv", input_sha256="e" * 64,
                                        template_sha256=None)
        chunk = [*pending(range(2, 6), hash_of="same"), *pending(range(6, 8), hash_of="new"),
                 NewRow(8, code(2), RowState.INVALID, None, "fiscal_code: wrong check")]
        recorded = {r.row: r for r in ledger.campaigns.record_rows(second, chunk,
                                                                   allow_resend=False)}

        assert {r: n.state for r, n in recorded.items()} == {
            2: RowState.DUPLICATE, 3: RowState.DUPLICATE, 4: RowState.DUPLICATE,
            5: RowState.PENDING,  # rejected: IO stored nothing, so it may go again
            6: RowState.PENDING, 7: RowState.PENDING, 8: RowState.INVALID,
        }
        assert recorded[2].detail == (f"already sent by campaign {first} row 2, message id "
                                      "01M2; pass --allow-resend to send it again")
        assert recorded[3].detail == (f"possibly sent (ambiguous) by campaign {first} row 3; "
                                      "pass --allow-resend to send it again")
        assert recorded[4].detail is not None and "possibly sent" in recorded[4].detail
        assert all(recorded[r].body is None for r in (2, 3, 4, 8))
        assert [recorded[r].body for r in (5, 6, 7)] == [body(5), body(6), body(7)]
        assert ledger.rows.states(second) == {r: n.state for r, n in recorded.items()}
        assert ledger.rows.get(second, 2).detail == recorded[2].detail  # type: ignore[union-attr]
    bodies = stored_bodies(tmp_path / "l.sqlite", second)
    assert bodies == {2: None, 3: None, 4: None, 5: body(5), 6: body(6), 7: body(7), 8: None}


def test_the_latest_delivering_campaign_is_named_and_allow_resend_skips_the_guard(
    tmp_path: Path,
) -> None:
    with Ledger.open(tmp_path / "l.sqlite") as ledger:
        for _ in range(2):
            cid = start(ledger, pending(range(2, 3)), allow_resend=True)
            send(ledger, cid, {2: RowState.SENT})
        again = start(ledger, pending(range(2, 3)))
        detail = ledger.rows.get(again, 2).detail  # type: ignore[union-attr]
        assert detail is not None and f"by campaign {cid} row 2" in detail
        resent = start(ledger, pending(range(2, 3)), allow_resend=True)
        assert ledger.rows.states(resent) == {2: RowState.PENDING}
        assert ledger.rows.pending_page(resent, after_row=0, limit=5)[0].body == body(2)


def test_a_campaign_is_recorded_only_once_every_chunk_is_in(tmp_path: Path) -> None:
    with Ledger.open(tmp_path / "l.sqlite") as ledger:
        cid = ledger.campaigns.begin(input_path="c.csv", input_sha256="f" * 64,
                                     template_sha256="t" * 64)
        assert ledger.campaigns.get(cid).recorded is False
        assert ledger.campaigns.recorded_through(cid) == 0
        ledger.campaigns.record_rows(cid, pending(range(2, 12)), allow_resend=False)
        # a crash here leaves a campaign that says how far its recording got
        latest = ledger.campaigns.latest()
        assert latest is not None and latest.campaign_id == cid and not latest.recorded
        assert ledger.campaigns.recorded_through(cid) == 11
        ledger.campaigns.record_rows(cid, pending(range(12, 15)), allow_resend=False)
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

    def counting(self: campaigns_module.CampaignBook, campaign_id: int, rows: list[NewRow],
                 *, allow_resend: bool) -> list[NewRow]:
        chunks.append(len(rows))
        return original(self, campaign_id, rows, allow_resend=allow_resend)

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
