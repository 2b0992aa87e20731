"""The Prometheus textfile: valid exposition format, every series present, written atomically."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import pytest
from reporttools import (
    RUN_REQUESTS,
    RUN_THROTTLED,
    STATE_OF,
    T0,
    ExpositionError,
    build_mixed_ledger,
    parse_exposition,
)

from dispatcher.ledger import Ledger, LedgerError, NewRow, StatusObservation
from dispatcher.report import (
    build_summary,
    render_metrics,
    write_metrics,
    write_metrics_for_ledger,
)
from dispatcher.report.metrics import campaign_label, escape_label_value
from dispatcher.storage import atomic_writer
from dispatcher.vocabulary import RowState

IO_STATUS_KEYS = ("PROCESSED", "ACCEPTED", "THROTTLED", "REJECTED", "FAILED", "NOT_CHECKED")


def _text(mixed, **options) -> str:
    with mixed.open() as ledger:
        return render_metrics(build_summary(ledger, mixed.campaign_id, now=T0 + 86400),
                              **options)


def test_the_file_is_valid_exposition_format(mixed) -> None:
    parsed = parse_exposition(_text(mixed))
    assert parsed.types["dispatcher_rows"] == "gauge"
    assert parsed.types["dispatcher_run_requests_total"] == "counter"
    assert parsed.types["dispatcher_run_throttled_total"] == "counter"
    assert set(parsed.helps) == set(parsed.types)  # every family explains itself
    assert all(parsed.helps.values())
    for name, _labels in parsed.samples:
        assert name.startswith("dispatcher_")


def test_the_parser_in_this_test_is_strict() -> None:
    """The checks above mean something only if a broken file is refused."""
    good = '# HELP m_x h\n# TYPE m_x gauge\nm_x{a="1"} 2\n'
    assert parse_exposition(good).value("m_x", a="1") == 2
    broken = [
        'm_x{a="1"} 2\n',  # no TYPE
        '# TYPE m_x gauge\nm_x{a="1"} 2',  # no final newline
        '# TYPE m_x gauge\nm_x{a="1"} two\n',  # not a number
        '# TYPE m_x gauge\nm_x{a="1"} 2 1700000000\n',  # a timestamp
        '# TYPE m_x gauge\nm_x{a="1} 2\n',  # unterminated value
        '# TYPE m_x gauge\nm_x{a="x\\q"} 2\n',  # bad escape
        '# TYPE m_x gauge\nm_x{1a="x"} 2\n',  # bad label name
        '# TYPE m_x gauge\nm_x{a="1"} 2\nm_x{a="1"} 3\n',  # duplicate series
        '# TYPE m_x gauge\nm_x 1\n# TYPE m_y gauge\nm_y 1\nm_x 2\n',  # not contiguous
        '# TYPE m_x gauge\n# TYPE m_x gauge\nm_x 1\n',  # TYPE twice
        '# TYPE 1m gauge\n1m 1\n',  # bad metric name
        '# TYPE m_x gauges\nm_x 1\n',  # bad type
    ]
    for text in broken:
        with pytest.raises(ExpositionError):
            parse_exposition(text)


def test_every_outcome_and_io_status_has_a_series_zeros_included(mixed) -> None:
    parsed = parse_exposition(_text(mixed))
    outcomes = {s["outcome"] for s in parsed.series("dispatcher_rows")}
    assert outcomes == {s.value for s in RowState}
    for state in RowState:
        expected = sum(1 for v in STATE_OF.values() if v is state)
        assert parsed.value("dispatcher_rows", outcome=state.value) == expected
    assert parsed.value("dispatcher_rows", outcome="pending") == 0  # an alert needs a zero
    statuses = {s["status"] for s in parsed.series("dispatcher_io_messages")}
    assert statuses == set(IO_STATUS_KEYS)
    assert parsed.value("dispatcher_rows_needing_attention") == 6
    # decided, yet not complete: 2 ambiguous rows and 3 messages without a final IO status
    assert parsed.value("dispatcher_campaign_complete") == 0
    assert parsed.value("dispatcher_rows_open") == 5


def test_run_numbers_match_the_summary(mixed) -> None:
    parsed = parse_exposition(_text(mixed))
    assert parsed.value("dispatcher_runs") == 1
    assert parsed.value("dispatcher_run_requests_total") == RUN_REQUESTS
    assert parsed.value("dispatcher_run_throttled_total") == RUN_THROTTLED
    assert parsed.value("dispatcher_run_duration_seconds") == 40
    assert parsed.value("dispatcher_run_mean_rate") == 2.5
    assert parsed.value("dispatcher_status_requests_total") == 5
    assert parsed.value("dispatcher_report_generated_timestamp_seconds") == T0 + 86400
    assert parsed.value("dispatcher_last_run_timestamp_seconds") == T0 + 40
    assert parsed.value("dispatcher_last_run_exit_code") == 3


def test_every_series_names_the_campaign(mixed) -> None:
    parsed = parse_exposition(_text(mixed))
    for _name, labels in parsed.samples:
        assert dict(labels)["campaign"] == "tari"
        assert dict(labels)["campaign_id"] == str(mixed.campaign_id)


@pytest.mark.parametrize(("name", "label"), [
    ("TARI 2027 (def).csv", "tari_2027_def"),
    ('Avvisi "urgenti" \\ comune\nbis.xlsx', "avvisi_urgenti_comune_bis"),
    ("!!!.csv", "campaign"),
    ("x" * 100 + ".csv", "x" * 64),
    ("città-più_2027.csv", "citta-piu_2027"),  # accents dropped, letters kept
    ("sollecito_RSSMRA85T10A562S.csv", "sollecito_rssmra_62s"),  # no whole fiscal code
    ("Ω≈ç√ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢.csv", None),
])
def test_odd_campaign_names_become_safe_label_values(mixed, name: str,
                                                     label: str | None) -> None:
    got = campaign_label(name)
    assert re.fullmatch(r"[a-z0-9_][a-z0-9_.-]{0,63}", got), got
    if label is not None:
        assert got == label
    parsed = parse_exposition(_text(mixed, campaign=name))
    assert {dict(ls)["campaign"] for _, ls in parsed.samples} == {got}


def test_label_values_are_escaped_as_the_format_asks() -> None:
    assert escape_label_value('a"b\\c\nd') == 'a\\"b\\\\c\\nd'
    assert escape_label_value("plain") == "plain"


def test_a_status_code_with_odd_characters_round_trips_through_the_parser(tmp_path) -> None:
    mixed = build_mixed_ledger(tmp_path / "x" / "ledger.sqlite")
    odd = 'NEW "kind"\\of\nstatus'
    with mixed.open() as ledger:
        ledger.statuses.record(mixed.campaign_id, [StatusObservation(4, "01MSGID0004",
                                                                     T0 + 7200, odd)])
    parsed = parse_exposition(_text(mixed))
    assert parsed.value("dispatcher_io_messages", status=odd) == 1


def test_an_unfinished_campaign_without_runs(tmp_path: Path) -> None:
    with Ledger.open(tmp_path / "l.sqlite") as ledger:
        cid = ledger.campaigns.start(input_path="tari.csv", input_sha256="0" * 64,
                                     template_sha256=None,
                                     rows=[NewRow(2, "X", RowState.PENDING, "h")])
        parsed = parse_exposition(render_metrics(build_summary(ledger, cid)))
    assert parsed.value("dispatcher_campaign_complete") == 0
    assert parsed.value("dispatcher_runs") == 0
    assert parsed.value("dispatcher_run_mean_rate") == 0
    assert parsed.value("dispatcher_rows", outcome="pending") == 1
    assert "dispatcher_last_run_exit_code" not in parsed.types


def test_an_unfinished_last_run_reports_exit_code_minus_one(mixed) -> None:
    with mixed.open() as ledger:
        ledger.runs.begin(mixed.campaign_id, rate="120/5s")
    assert parse_exposition(_text(mixed)).value("dispatcher_last_run_exit_code") == -1


def test_the_file_is_world_readable_and_replaced_atomically(mixed, tmp_path: Path) -> None:
    folder = tmp_path / "textfile"
    folder.mkdir()
    target = folder / "dispatcher.prom"
    target.write_text("old\n")
    os.chmod(target, 0o600)
    before = os.stat(target).st_ino
    with mixed.open() as ledger:
        written = write_metrics(build_summary(ledger, mixed.campaign_id), target)
    assert written == target
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o644  # node_exporter runs as another user
    assert os.stat(target).st_ino != before  # a new file renamed over the old one
    assert [p.name for p in folder.iterdir()] == ["dispatcher.prom"]  # no temporary left
    parse_exposition(target.read_text())


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "dispatcher.prom"
    target.write_text("old\n")
    with pytest.raises(RuntimeError), atomic_writer(target, mode=0o644) as stream:
        stream.write(b"# HELP half")
        raise RuntimeError("disk full")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["dispatcher.prom"]


def test_metrics_for_a_ledger_default_to_its_latest_campaign(mixed, tmp_path: Path) -> None:
    target = tmp_path / "new" / "folder" / "d.prom"
    write_metrics_for_ledger(mixed.path, None, target, campaign="TARI 2027")
    parsed = parse_exposition(target.read_text())
    assert parsed.value("dispatcher_rows", outcome="sent") == 6
    assert {dict(ls)["campaign"] for _, ls in parsed.samples} == {"tari_2027"}
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o644


def test_metrics_for_a_missing_or_empty_ledger_are_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(LedgerError, match="no such ledger"):
        write_metrics_for_ledger(tmp_path / "none.sqlite", None, tmp_path / "d.prom")
    Ledger.open(tmp_path / "empty.sqlite").close()
    with pytest.raises(LedgerError, match="no campaign"):
        write_metrics_for_ledger(tmp_path / "empty.sqlite", None, tmp_path / "d.prom")
    assert not (tmp_path / "d.prom").exists()
