"""The report finds the campaign file again, and only ever pairs rows with that exact file."""

from __future__ import annotations

import shutil
from pathlib import Path

import polars as pl
import pytest
from reporttools import INPUT_HEADER, ROWS, build_mixed_ledger

from dispatcher.report.inputs import InputMismatch, find_input


def _campaign(mixed):
    with mixed.open() as ledger:
        return ledger.campaigns.get(mixed.campaign_id)


def test_a_relative_recorded_path_is_found_next_to_the_ledger_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mixed = build_mixed_ledger(tmp_path / "tari.dispatcher" / "ledger.sqlite",
                               recorded_path="tari.csv")
    elsewhere = tmp_path / "cron-home"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # cron runs the report from another folder
    match = find_input(_campaign(mixed), mixed.path)
    assert match.note is None and match.path == tmp_path / "tari.csv"
    frame = match.frame
    assert frame is not None
    assert frame.columns == ["row", *INPUT_HEADER]
    assert frame.schema["row"] == pl.Int64
    assert frame["row"].to_list() == list(ROWS)
    assert frame["codice_fiscale"].to_list() == [mixed.codes[r] for r in ROWS]


def test_a_file_moved_beside_the_ledger_folder_is_found_by_name(tmp_path: Path) -> None:
    mixed = build_mixed_ledger(tmp_path / "tari.dispatcher" / "ledger.sqlite",
                               recorded_path="/srv/gone/uffici/tari.csv")
    match = find_input(_campaign(mixed), mixed.path)
    assert match.frame is not None and match.path == tmp_path / "tari.csv"


def test_a_changed_file_is_not_used_and_the_note_says_why(tmp_path: Path) -> None:
    mixed = build_mixed_ledger(tmp_path / "tari.dispatcher" / "ledger.sqlite")
    text = mixed.input_file.read_text("utf-8-sig")
    mixed.input_file.write_text(text.replace("Nome2", "Nome 2"), "utf-8-sig")  # one cell
    match = find_input(_campaign(mixed), mixed.path)
    assert match.frame is None and match.path is None
    assert match.note and "changed since the campaign was sent" in match.note
    assert "--input" in match.note


def test_a_missing_file_leaves_a_note_not_an_error(tmp_path: Path) -> None:
    mixed = build_mixed_ledger(tmp_path / "tari.dispatcher" / "ledger.sqlite")
    mixed.input_file.unlink()
    match = find_input(_campaign(mixed), mixed.path)
    assert match.frame is None
    assert match.note and "not found" in match.note


def test_an_explicit_copy_of_the_same_file_is_used(tmp_path: Path) -> None:
    mixed = build_mixed_ledger(tmp_path / "tari.dispatcher" / "ledger.sqlite")
    copy = tmp_path / "archivio" / "copia.csv"
    copy.parent.mkdir()
    shutil.copy(mixed.input_file, copy)
    mixed.input_file.unlink()
    match = find_input(_campaign(mixed), mixed.path, explicit=copy)
    assert match.path == copy and match.frame is not None and match.note is None


def test_an_explicit_file_that_is_not_the_campaigns_is_refused(tmp_path: Path) -> None:
    mixed = build_mixed_ledger(tmp_path / "tari.dispatcher" / "ledger.sqlite")
    other = tmp_path / "other.csv"
    other.write_text(mixed.input_file.read_text("utf-8-sig") + "\n", "utf-8")
    with pytest.raises(InputMismatch, match="is not the file campaign 1 was sent from"):
        find_input(_campaign(mixed), mixed.path, explicit=other)
    with pytest.raises(InputMismatch, match="no such file"):
        find_input(_campaign(mixed), mixed.path, explicit=tmp_path / "none.csv")
