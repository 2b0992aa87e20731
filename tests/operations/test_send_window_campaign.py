"""The send-after column as validation reads it, and as the ledger keeps it across versions."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

from dispatcher.campaign import CampaignOptions, load_campaign
from dispatcher.campaign.problems import ProblemCode, Severity
from dispatcher.ledger import Ledger, NewRow, open_for_reading
from dispatcher.schedule import ROME
from dispatcher.vocabulary import InputVerdict, Language, RowState

NOW = datetime(2026, 6, 1, tzinfo=UTC)
CODES = ("DNGNCL87P28L736E", "CNTLCU87R57L219G", "PRCJSO53P26L736M", "FRLNNA53M44G273J")
SUBJECT = "Avviso di pagamento TARI 2027"
TEXT = ("Gentile contribuente le ricordiamo la scadenza del pagamento della tassa sui "
        "rifiuti. Grazie.")


def _campaign(tmp_path: Path, *cells: tuple[str, str], language: Language = Language.EN):
    lines = ["codice_fiscale;oggetto;testo;scadenza;invia_dal"]
    lines += [f"{code};{SUBJECT};{TEXT};{due};{after}"
              for code, (due, after) in zip(CODES, cells, strict=False)]
    path = tmp_path / "c.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return load_campaign(path, options=CampaignOptions(now=NOW, language=language))


def test_a_send_after_date_alone_means_from_midnight_in_rome_and_a_time_as_written(
    tmp_path: Path,
) -> None:
    campaign = _campaign(tmp_path, ("31/01/2027", "15/01/2027"),
                         ("31/01/2027", "2027-07-15T09:30"), ("31/01/2027", ""),
                         ("31/01/2027", "2027-01-20T08:00:00Z"))
    rows = {row.row: row for row in campaign.rows()}
    assert not campaign.has_errors
    assert rows[2].send_after == datetime(2027, 1, 15, tzinfo=ROME)  # 00:00, winter
    assert rows[3].send_after == datetime(2027, 7, 15, 9, 30, tzinfo=ROME)  # summer time
    assert rows[4].send_after is None
    assert rows[5].send_after == datetime(2027, 1, 20, 8, tzinfo=UTC)


def test_a_send_after_past_the_due_date_is_a_warning_and_a_bad_one_an_error(
    tmp_path: Path,
) -> None:
    campaign = _campaign(tmp_path, ("31/01/2027", "01/02/2027"), ("31/01/2027", "31/01/2027"),
                         ("31/01/2027", "domani"), language=Language.IT)
    rows = {row.row: row for row in campaign.rows()}
    late = [p for p in rows[2].problems if p.code is ProblemCode.SEND_AFTER_DUE_DATE]
    assert len(late) == 1 and late[0].severity is Severity.WARNING
    assert late[0].column == "invia_dal" and "01/02/2027" in late[0].message
    assert "scadenza" in late[0].message  # in Italian, as asked
    assert rows[2].state is InputVerdict.VALID  # a warning: still sent
    assert not rows[3].problems  # the due day itself: from 00:00, before the 23:59:59 due
    assert rows[4].state is InputVerdict.INVALID
    bad = [p for p in rows[4].problems if p.code is ProblemCode.DATE_FORMAT]
    assert bad and bad[0].column == "invia_dal" and "'domani'" in bad[0].message


def test_a_version_4_ledger_gains_send_after_and_reads_without_it(tmp_path: Path) -> None:
    path = tmp_path / "v4.sqlite"
    with Ledger.open(path) as ledger:
        cid = ledger.campaigns.start(input_path="c.csv", input_sha256="f" * 64,
                                     template_sha256=None, rows=[
            NewRow(2, CODES[0], RowState.PENDING, "h2", body=b"{}"),
        ])
    with sqlite3.connect(path) as db:  # as dispatcher with schema 4 left it
        db.execute("ALTER TABLE rows DROP COLUMN send_after")
        db.execute("UPDATE meta SET value='4' WHERE key='schema_version'")
    db.close()
    with open_for_reading(path) as old:  # a report reads it as it is: nothing scheduled
        assert old.rows.scheduled(cid, now=0).count == 0
        assert [p.row for p in old.rows.pending_page(cid, after_row=0, limit=9, due_by=0)] \
            == [2]
    with Ledger.open(path) as ledger:
        later = ledger.campaigns.begin(input_path="d.csv", input_sha256="d" * 64,
                                       template_sha256=None)
        ledger.campaigns.record_rows(later, [
            NewRow(2, CODES[1], RowState.PENDING, "h", body=b"{}", send_after=2000.0),
            NewRow(3, CODES[2], RowState.PENDING, "h", body=b"{}", send_after=1000.0),
            NewRow(4, CODES[3], RowState.PENDING, "h", body=b"{}"),
        ])
        due = ledger.rows.pending_page(later, after_row=0, limit=9, due_by=1500.0)
        assert [p.row for p in due] == [3, 4]
        scheduled = ledger.rows.scheduled(later, now=1500.0)
        assert (scheduled.count, scheduled.next_due) == (1, 2000.0)
        assert ledger.rows.get(later, 2).send_after == 2000.0
        assert ledger.rows.get(cid, 2).send_after is None
    with sqlite3.connect(path) as db:
        (version,) = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
    db.close()
    assert int(version) == 5
