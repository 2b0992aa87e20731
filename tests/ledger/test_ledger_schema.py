"""Older ledgers: upgraded in place by ``Ledger.open``, read as they are by reports."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from ledgertools import body, columns, downgrade, pending, schema_version, send, set_version, start

from dispatcher.ledger import SCHEMA_VERSION, Ledger, LedgerError, open_for_reading
from dispatcher.vocabulary import RowState


def _old_ledger(path: Path, version: int) -> int:
    """A ledger with one campaign (2 sent, 2 pending) as schema ``version`` left it."""
    with Ledger.open(path) as ledger:
        cid = start(ledger, pending(range(2, 6)))
        send(ledger, cid, {2: RowState.SENT, 3: RowState.SENT})
    downgrade(path, version)
    return cid


@pytest.mark.parametrize("version", [1, 2])
def test_an_older_ledger_is_upgraded_in_place_and_keeps_its_rows(
    tmp_path: Path, version: int
) -> None:
    path = tmp_path / "old.sqlite"
    cid = _old_ledger(path, version)
    assert "body" not in columns(path, "rows") and "recorded" not in columns(path, "campaigns")
    assert "encoding" not in columns(path, "campaigns")
    with Ledger.open(path) as ledger:
        campaign = ledger.campaigns.get(cid)
        assert campaign.recorded  # an older ledger recorded a campaign in one transaction
        assert ledger.rows.counts(cid)[RowState.SENT] == 2
        assert [(p.row, p.body) for p in ledger.rows.pending_page(cid, after_row=0, limit=9)] \
            == [(4, None), (5, None)]  # stored before bodies were
        fresh = start(ledger, pending(range(10, 12)))
        assert ledger.rows.pending_page(fresh, after_row=0, limit=9)[0].body == body(10)
        assert ledger.campaigns.begin(input_path="x", input_sha256="x",
                                      template_sha256=None) > fresh
        assert not ledger.campaigns.latest().recorded  # type: ignore[union-attr]
    assert "body" in columns(path, "rows") and "recorded" in columns(path, "campaigns")
    assert "encoding" in columns(path, "campaigns")
    with Ledger.open(path) as again:  # upgrading twice changes nothing
        assert again.rows.counts(cid)[RowState.PENDING] == 2
    assert schema_version(path) == SCHEMA_VERSION == 5


def test_a_version_3_ledger_gains_the_campaign_encoding(tmp_path: Path) -> None:
    path = tmp_path / "v3.sqlite"
    cid = _old_ledger(path, 3)
    assert "encoding" not in columns(path, "campaigns") and "body" in columns(path, "rows")
    with Ledger.open(path) as ledger:
        assert ledger.campaigns.get(cid).encoding is None  # not known when it was recorded
        new = ledger.campaigns.begin(input_path="w.csv", input_sha256="w" * 64,
                                     template_sha256=None, encoding="cp1252")
        assert ledger.campaigns.get(new).encoding == "cp1252"
    assert schema_version(path) == 5


@pytest.mark.parametrize("version", [1, 2, 3, 4])
def test_a_report_reads_every_schema_without_writing_a_byte(
    tmp_path: Path, version: int
) -> None:
    path = tmp_path / "old.sqlite"
    if version < 4:
        cid = _old_ledger(path, version)
    else:
        with Ledger.open(path) as ledger:
            cid = start(ledger, pending(range(2, 6)))
            send(ledger, cid, {2: RowState.SENT, 3: RowState.SENT})
    version_before = schema_version(path)
    before = path.read_bytes()
    with open_for_reading(path) as ledger:
        record = ledger.campaigns.latest()
        assert record is not None and record.campaign_id == cid and record.recorded
        assert ledger.rows.counts(cid)[RowState.SENT] == 2
        assert ledger.statuses.counts(cid) == {"NOT_CHECKED": 2}
        assert ledger.statuses.pass_totals(cid).passes == 0
        assert ledger.test_sends.list() == []
        page = ledger.rows.pending_page(cid, after_row=0, limit=9)
        assert [p.row for p in page] == [4, 5]
        assert [p.body for p in page] == ([body(4), body(5)] if version >= 3 else [None, None])
        assert record.encoding is None
        assert [e.state for e in ledger.rows.history(cid, 2)] == ["pending", "sending", "sent"]
        with pytest.raises(sqlite3.OperationalError, match=r"readonly|is a view"):
            ledger.campaigns.begin(input_path="x", input_sha256="x", template_sha256=None)
    assert path.read_bytes() == before
    assert schema_version(path) == version_before


def test_a_newer_schema_is_refused_by_both_ways_of_opening(tmp_path: Path) -> None:
    path = tmp_path / "new.sqlite"
    Ledger.open(path).close()
    set_version(path, 9)
    for opener in (Ledger.open, open_for_reading):
        with pytest.raises(LedgerError, match="has ledger schema 9, expected 5"):
            opener(path)
