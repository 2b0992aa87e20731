"""results.csv / results.parquet: the input row, then what happened to it, safe for Excel."""

from __future__ import annotations

import csv
import io
import os
import re
import stat
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from reporttools import (
    AMBIGUOUS,
    AMBIGUOUS_2,
    FAILED,
    INPUT_HEADER,
    IO_OBSERVED,
    NO_PROFILE,
    REJECTED,
    ROWS,
    SENT_PROCESSED,
    SENT_UNCHECKED,
    STATE_OF,
    T0,
    MixedLedger,
    build_mixed_ledger,
)

from dispatcher.ledger import StatusObservation
from dispatcher.report import (
    CsvDialect,
    export_results,
    formula_safe,
    io_status_label,
    outcome_label,
    results_frame,
    write_csv,
    write_parquet,
)
from dispatcher.report.inputs import input_frame_of
from dispatcher.vocabulary import RowState

RESULT_COLUMNS = [
    "outcome", "outcome_label", "message_id", "http_status", "error_detail", "attempts",
    "sending_at", "decided_at", "io_status", "io_status_label", "read_status",
    "read_status_label", "payment_status", "payment_status_label", "io_checked_at",
    "io_detail",
]
"""The documented order of our columns (a reordering breaks operators' spreadsheets)."""

BOM = b"\xef\xbb\xbf"


def _read_back(path: Path, separator: str = ";") -> list[dict[str, str]]:
    """The CSV as Excel reads it: BOM dropped, quoted CR/LF kept inside cells."""
    text = path.read_bytes().decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text, newline=""), delimiter=separator))


def _by_row(frame: pl.DataFrame) -> dict[int, dict[str, object]]:
    return {r["row"]: r for r in frame.iter_rows(named=True)}


def _frame(mixed: MixedLedger, lang: str = "it", with_input: bool = True) -> pl.DataFrame:
    with mixed.open() as ledger:
        source = input_frame_of(mixed.input_file) if with_input else None
        return results_frame(source, ledger, mixed.campaign_id, lang=lang)


# -- columns -------------------------------------------------------------------------------


def test_columns_are_row_and_the_input_columns_then_ours_in_a_fixed_order(mixed) -> None:
    frame = _frame(mixed)
    assert frame.columns == ["row", *INPUT_HEADER, *RESULT_COLUMNS]
    assert frame["row"].to_list() == list(ROWS)  # one row per input row, in input order
    assert frame["codice_fiscale"].to_list() == [mixed.codes[r] for r in ROWS]
    assert frame["nome"][0] == "Nome2"


def test_an_input_column_named_like_ours_keeps_its_name_and_ours_get_a_prefix(mixed) -> None:
    source = pl.DataFrame({
        "row": list(ROWS),
        "codice_fiscale": [mixed.codes[r] for r in ROWS],
        "outcome": ["input outcome"] * len(ROWS),
        "io_status": ["input status"] * len(ROWS),
        "message_id": ["input id"] * len(ROWS),
    })
    with mixed.open() as ledger:
        frame = results_frame(source, ledger, mixed.campaign_id)
    renamed = {"outcome", "io_status", "message_id"}
    assert frame.columns == [
        "row", "codice_fiscale", "outcome", "io_status", "message_id",
        *(f"dispatcher_{c}" if c in renamed else c for c in RESULT_COLUMNS),
    ]
    assert set(frame["outcome"].to_list()) == {"input outcome"}
    assert set(frame["io_status"].to_list()) == {"input status"}
    rows = _by_row(frame)
    assert rows[SENT_PROCESSED]["dispatcher_outcome"] == "sent"
    assert rows[SENT_PROCESSED]["dispatcher_io_status"] == "PROCESSED"
    assert rows[SENT_PROCESSED]["dispatcher_message_id"] == f"01MSGID{SENT_PROCESSED:04d}"
    assert rows[NO_PROFILE]["dispatcher_outcome"] == "no_profile"


def test_the_input_order_of_rows_is_kept(mixed) -> None:
    source = input_frame_of(mixed.input_file).reverse()
    with mixed.open() as ledger:
        frame = results_frame(source, ledger, mixed.campaign_id)
    assert frame["row"].to_list() == list(reversed(ROWS))
    assert frame["outcome"].to_list() == [STATE_OF[r].value for r in reversed(ROWS)]


def test_without_the_input_file_the_ledgers_fiscal_code_leads(mixed) -> None:
    frame = _frame(mixed, with_input=False)
    assert frame.columns == ["row", "fiscal_code", *RESULT_COLUMNS]
    assert frame["fiscal_code"].to_list() == [mixed.codes[r] for r in ROWS]
    assert frame["outcome"].to_list() == [STATE_OF[r].value for r in ROWS]


# -- values --------------------------------------------------------------------------------


def test_each_row_carries_its_outcome_submit_details_and_labels(mixed) -> None:
    rows = _by_row(_frame(mixed))
    for row in ROWS:
        state = STATE_OF[row]
        got = rows[row]
        assert got["outcome"] == state.value
        assert got["outcome_label"] == outcome_label(state, "it")
        if state is RowState.SENT:
            assert got["message_id"] == f"01MSGID{row:04d}"
            assert got["http_status"] == 201 and got["error_detail"] is None
        else:
            assert got["message_id"] is None
    assert rows[REJECTED]["http_status"] == 400
    assert rows[REJECTED]["error_detail"] == mixed.details[REJECTED]
    assert rows[FAILED]["attempts"] == 3 and rows[FAILED]["http_status"] is None
    assert rows[AMBIGUOUS]["http_status"] == 504
    assert rows[NO_PROFILE]["error_detail"] == mixed.details[NO_PROFILE]
    for row in ROWS:  # every row is decided; only submitted ones were ever "sending"
        assert rows[row]["decided_at"] is not None
    assert rows[NO_PROFILE]["sending_at"] is None
    assert rows[SENT_PROCESSED]["sending_at"] is not None


def test_io_status_is_not_checked_for_sent_rows_never_asked_and_empty_for_unsent(
    mixed,
) -> None:
    rows = _by_row(_frame(mixed))
    for row in ROWS:
        got = rows[row]
        if row in IO_OBSERVED:
            status, read, payment = IO_OBSERVED[row]
            assert got["io_status"] == status
            assert got["io_status_label"] == io_status_label(status, "it")
            assert (got["read_status"], got["payment_status"]) == (read, payment)
            assert got["io_checked_at"] == datetime.fromtimestamp(T0 + 3600, UTC)
        elif row == SENT_UNCHECKED:
            assert got["io_status"] == "NOT_CHECKED"
            assert got["io_status_label"] == "Stato non ancora verificato"
            assert got["io_checked_at"] is None
        else:
            assert STATE_OF[row] is not RowState.SENT
            assert got["io_status"] is None and got["io_status_label"] is None
            assert got["read_status"] is None and got["io_checked_at"] is None
    assert rows[SENT_PROCESSED]["io_status_label"] == "Consegnato"


def test_read_and_payment_status_follow_the_latest_observation(mixed) -> None:
    later = T0 + 7200
    with mixed.open() as ledger:
        ledger.statuses.record(mixed.campaign_id, [
            StatusObservation(5, "01MSGID0005", later, "PROCESSED", "READ", "PAID", 200),
            # a failed check later on: IO said nothing, what was learned stays
            StatusObservation(SENT_PROCESSED, "01MSGID0002", later, None, None, None, 500,
                              "500 from IO"),
            StatusObservation(SENT_UNCHECKED, "01MSGID0004", later, None, None, None, 404,
                              "IO does not know this message"),
        ])
    rows = _by_row(_frame(mixed, lang="en"))
    assert (rows[5]["io_status"], rows[5]["read_status"], rows[5]["payment_status"]) == (
        "PROCESSED", "READ", "PAID")
    assert rows[5]["io_status_label"] == "Delivered"
    assert (rows[5]["read_status_label"], rows[5]["payment_status_label"]) == ("Read", "Paid")
    assert rows[NO_PROFILE]["read_status_label"] is None
    assert rows[SENT_PROCESSED]["io_status"] == "PROCESSED"
    assert rows[SENT_PROCESSED]["read_status"] == "READ"
    assert rows[SENT_PROCESSED]["io_detail"] == "500 from IO"
    # asked, but IO gave no status: still not checked, with the reason beside it
    assert rows[SENT_UNCHECKED]["io_status"] == "NOT_CHECKED"
    assert rows[SENT_UNCHECKED]["io_detail"] == "IO does not know this message"
    assert rows[SENT_UNCHECKED]["io_checked_at"] == datetime.fromtimestamp(later, UTC)


def test_labels_follow_the_chosen_language(mixed) -> None:
    italian, english = _by_row(_frame(mixed, "it")), _by_row(_frame(mixed, "en"))
    assert italian[NO_PROFILE]["outcome_label"] == "Il cittadino non ha l'app IO"
    assert english[NO_PROFILE]["outcome_label"] == "The citizen does not have IO"
    assert english[AMBIGUOUS]["outcome_label"] == "Uncertain outcome: check before resending"
    assert italian[SENT_PROCESSED]["io_status_label"] == "Consegnato"
    assert english[SENT_PROCESSED]["io_status_label"] == "Delivered"
    for row in ROWS:  # the codes do not depend on the language
        assert italian[row]["outcome"] == english[row]["outcome"]
        assert italian[row]["io_status"] == english[row]["io_status"]


# -- files ---------------------------------------------------------------------------------


ITALIAN_TITLES = [
    "Esito (codice)", "Esito", "ID messaggio IO", "Codice HTTP", "Dettaglio errore", "Tentativi",
    "Invio iniziato il", "Esito registrato il", "Stato IO (codice)", "Stato IO",
    "Lettura (codice)", "Lettura", "Pagamento (codice)", "Pagamento", "Stato IO verificato il",
    "Dettaglio stato IO",
]
"""RESULT_COLUMNS as the Excel dialect titles them in Italian (same order)."""


def test_the_excel_dialect_has_a_bom_semicolons_italian_titles_and_rome_times(
    mixed, tmp_path: Path,
) -> None:
    source = input_frame_of(mixed.input_file).with_columns(
        pl.lit("Nicolò; «Via» \"Roma\"").alias("nome"))
    with mixed.open() as ledger:
        paths = export_results(source, ledger, mixed.campaign_id, tmp_path / "out")
    raw = paths.csv.read_bytes()
    assert raw.startswith(BOM) and not raw.startswith(BOM * 2)
    header = raw[len(BOM):].split(b"\n", 1)[0].decode().rstrip("\r")
    # the input's columns keep their names; ours are titled in the report's language
    assert header.split(";") == ["Riga", *INPUT_HEADER, *ITALIAN_TITLES]
    rows = _read_back(paths.csv)
    assert [int(r["Riga"]) for r in rows] == list(ROWS)
    assert rows[0]["nome"] == "Nicolò; «Via» \"Roma\""  # quoted, not split on its ";"
    assert [r["Esito (codice)"] for r in rows] == [STATE_OF[r].value for r in ROWS]
    assert rows[0]["Stato IO (codice)"] == "PROCESSED"
    assert rows[0]["Esito"] == "Inviato (accettato da IO)" and rows[0]["Stato IO"] == "Consegnato"
    # 2027-01-15 09:00 UTC is 10:00 in Rome (CET), in the form Excel reads as a date
    assert rows[0]["Stato IO verificato il"] == "2027-01-15 10:00:00"
    for row in rows:
        for title in ("Invio iniziato il", "Esito registrato il", "Stato IO verificato il"):
            assert row[title] == "" or re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d",
                                                    row[title]), row[title]
    again = pl.read_csv(paths.csv, separator=";", infer_schema=False)
    assert again.columns[0] == "Riga"  # the BOM is not glued to the first header
    assert again["codice_fiscale"].to_list() == [mixed.codes[r] for r in ROWS]


def test_the_excel_dialect_in_english_has_english_titles(mixed, tmp_path: Path) -> None:
    with mixed.open() as ledger:
        paths = export_results(input_frame_of(mixed.input_file), ledger, mixed.campaign_id,
                               tmp_path, lang="en")
    rows = _read_back(paths.csv)
    assert list(rows[0])[:6] == ["Row", *INPUT_HEADER, "Outcome (code)"]
    assert rows[0]["Outcome"] == "Sent (accepted by IO)"
    assert rows[0]["IO status checked at"] == "2027-01-15 10:00:00"  # still Rome time


def test_a_plain_csv_has_commas_and_no_bom(mixed, tmp_path: Path) -> None:
    with mixed.open() as ledger:
        paths = export_results(None, ledger, mixed.campaign_id, tmp_path,
                               dialect=CsvDialect.PLAIN)
    raw = paths.csv.read_bytes()
    assert not raw.startswith(BOM)
    assert raw.split(b"\n", 1)[0].decode().startswith("row,fiscal_code,outcome,outcome_label,")
    rows = _read_back(paths.csv, ",")
    assert len(rows) == len(ROWS)
    checked = {int(r["row"]): r["io_checked_at"] for r in rows}
    assert checked[SENT_PROCESSED] == "2027-01-15T09:00:00.000Z"  # UTC ISO, for programs


def test_csv_times_are_iso_8601_utc_with_milliseconds(mixed, tmp_path: Path) -> None:
    frame = _frame(mixed)
    path = write_csv(frame, tmp_path / "r.csv")
    rows = {int(r["row"]): r for r in _read_back(path, ",")}
    expected = _by_row(frame)
    for row in ROWS:
        for column in ("sending_at", "decided_at", "io_checked_at"):
            text, moment = rows[row][column], expected[row][column]
            if moment is None:
                assert text == ""
                continue
            assert text.endswith("Z") and "T" in text and len(text) == len("2027-01-15T08:00"
                                                                            ":00.000Z")
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
            assert abs((parsed - moment).total_seconds()) < 0.001
    assert rows[SENT_PROCESSED]["io_checked_at"] == "2027-01-15T09:00:00.000Z"


def test_parquet_keeps_integers_and_utc_datetimes(mixed, tmp_path: Path) -> None:
    with mixed.open() as ledger:
        paths = export_results(input_frame_of(mixed.input_file), ledger, mixed.campaign_id,
                               tmp_path)
    frame = pl.read_parquet(paths.parquet)
    schema = frame.schema
    for column in ("row", "http_status", "attempts"):
        assert schema[column] == pl.Int64, column
    for column in ("sending_at", "decided_at", "io_checked_at"):
        assert schema[column] == pl.Datetime("us", "UTC"), column
    for column in (*INPUT_HEADER, "outcome", "io_status", "error_detail"):
        assert schema[column] == pl.String, column
    rows = _by_row(frame)
    assert rows[REJECTED]["http_status"] == 400 and rows[FAILED]["attempts"] == 3
    assert rows[SENT_PROCESSED]["io_checked_at"] == datetime.fromtimestamp(T0 + 3600, UTC)
    # Parquet is read by programs, not by Excel: values are kept exactly, no quote prefix
    assert rows[FAILED]["error_detail"] == mixed.details[FAILED]


def test_export_files_are_private_even_when_they_existed_readable(mixed, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    for name in ("results.csv", "results.parquet", "to_reach.csv"):
        (out / name).write_text("old")
        os.chmod(out / name, 0o644)
    with mixed.open() as ledger:
        paths = export_results(None, ledger, mixed.campaign_id, out)
    assert paths.to_reach is not None
    for path in (paths.csv, paths.parquet, paths.to_reach):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, path
        assert path.read_bytes() != b"old"
    assert sorted(p.name for p in out.iterdir()) == ["results.csv", "results.parquet",
                                                     "to_reach.csv"]


# -- formula injection -----------------------------------------------------------------------

TRIGGERS = ["=1+1", "+39 333 1234567", "-2+3", "@SUM(A1:A9)", "\t=1+1", "\r=1+1",
            "=HYPERLINK(\"http://evil.example\",\"clic\")", "-", "="]


@pytest.mark.parametrize("cell", TRIGGERS)
def test_input_cells_a_spreadsheet_would_evaluate_are_quoted(mixed, tmp_path: Path,
                                                            cell: str) -> None:
    source = input_frame_of(mixed.input_file).with_columns(pl.lit(cell).alias("cognome"))
    with mixed.open() as ledger:
        paths = export_results(source, ledger, mixed.campaign_id, tmp_path)
    rows = _read_back(paths.csv)
    assert {r["cognome"] for r in rows} == {"'" + cell}
    assert set(pl.read_parquet(paths.parquet)["cognome"].to_list()) == {cell}


def test_our_own_columns_are_quoted_too(tmp_path: Path) -> None:
    mixed = build_mixed_ledger(tmp_path / "l" / "ledger.sqlite", details={
        AMBIGUOUS: "\tread timeout", AMBIGUOUS_2: "\r=cmd|' /C calc'!A0",
    })
    with mixed.open() as ledger:
        paths = export_results(None, ledger, mixed.campaign_id, tmp_path,
                               dialect=CsvDialect.PLAIN)
    rows = {int(r["row"]): r for r in _read_back(paths.csv, ",")}
    assert rows[REJECTED]["error_detail"] == "'" + mixed.details[REJECTED]  # "-1 is not..."
    assert rows[REJECTED]["error_detail"].startswith("'-")
    assert rows[FAILED]["error_detail"] == "'=connect error: connection refused"
    assert rows[AMBIGUOUS]["error_detail"] == "'\tread timeout"
    assert rows[AMBIGUOUS_2]["error_detail"] == "'\r=cmd|' /C calc'!A0"
    # the harmless details of other rows are left alone
    assert rows[NO_PROFILE]["error_detail"] == "no IO profile for this citizen"


def test_column_names_a_spreadsheet_would_evaluate_are_quoted(mixed, tmp_path: Path) -> None:
    """The header row is cells too: an input column named ``=HYPERLINK(...)`` is a formula."""
    evil = '=HYPERLINK("http://evil.example","x")'
    source = input_frame_of(mixed.input_file).rename({"nome": evil, "cognome": "@cmd",
                                                      "importo": "-importo"})
    with mixed.open() as ledger:
        paths = export_results(source, ledger, mixed.campaign_id, tmp_path,
                               dialect=CsvDialect.PLAIN)
    header = next(csv.reader(io.StringIO(paths.csv.read_text("utf-8"))))
    assert header[:5] == ["row", "codice_fiscale", "'" + evil, "'@cmd", "'-importo"]
    assert header[5:] == RESULT_COLUMNS
    assert pl.read_parquet(paths.parquet).columns[2] == evil  # Parquet keeps the real name


def test_harmless_cells_and_other_types_are_untouched(tmp_path: Path) -> None:
    harmless = ["Mario", "1-2", "a=b", "3+4", "Via Roma 1", "", None, "'già quotato",
                "€ 12,50", "mario@example.it", " spazio"]
    frame = pl.DataFrame({
        "note": harmless,
        "n": [-1] * len(harmless),
        "at": [datetime(2027, 1, 15, tzinfo=UTC)] * len(harmless),
    })
    safe = formula_safe(frame)
    assert safe["note"].to_list() == harmless
    assert safe["n"].to_list() == [-1] * len(harmless)  # numbers are not text: not quoted
    assert safe.schema == frame.schema
    path = write_csv(frame, tmp_path / "h.csv")
    notes = [r["note"] for r in _read_back(path, ",")]
    assert notes == [h or "" for h in harmless]


def test_write_parquet_alone_is_private_and_keeps_the_frame(tmp_path: Path) -> None:
    frame = pl.DataFrame({"row": [2], "note": ["=1+1"]})
    path = write_parquet(frame, tmp_path / "x.parquet")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert pl.read_parquet(path).equals(frame)
