"""The Campaign object answers questions; rows come lazily, in order, as often as asked."""

from __future__ import annotations

import polars as pl
import pytest
from campaign_helpers import CF1, CF2, CF3, CF4, MARKDOWN, SUBJECT, row, rows_csv

import dispatcher.campaign as public
from dispatcher.campaign import ProblemCode, Severity, judgement
from dispatcher.campaign import campaign as campaign_module
from dispatcher.vocabulary import InputVerdict

MIXED = rows_csv(
    row(CF1),                      # 2 valid
    row("RSSMRA80A01H501X"),       # 3 invalid: checksum
    row(CF2, "corto"),             # 4 invalid: subject
    row(CF1),                      # 5 duplicate of 2
    row(CF3, f"Avviso per {CF3}"),  # 6 valid with a warning
    row(""),                       # 7 invalid: missing
    row(CF4),                      # 8 valid
)


def test_public_api_is_exactly_what_the_engine_imports() -> None:
    for name in ("Campaign", "CampaignOptions", "CampaignFileError", "Problem", "ProblemCode",
                 "Severity", "CampaignRow", "load_campaign"):
        assert name in public.__all__ and hasattr(public, name)


def test_counts_and_reasons(load) -> None:
    campaign = load(MIXED)
    assert (campaign.row_count, campaign.valid_count, campaign.invalid_count,
            campaign.duplicate_count, campaign.warning_count) == (7, 3, 3, 1, 1)
    assert campaign.has_errors
    assert campaign.invalid_by_reason() == {
        ProblemCode.FISCAL_CODE_CHECKSUM: 1, ProblemCode.SUBJECT_TOO_SHORT: 1,
        ProblemCode.FISCAL_CODE_MISSING: 1,
    }
    assert campaign.warnings_by_code() == {ProblemCode.SUBJECT_PERSONAL_DATA: 1}


def test_problems_are_ordered_by_row_and_first_problems_is_a_prefix(load) -> None:
    campaign = load(MIXED)
    problems = campaign.problems
    assert [(p.row, p.code.value) for p in problems] == [
        (3, "fiscal_code_checksum"), (4, "subject_too_short"), (5, "duplicate"),
        (6, "subject_personal_data"), (7, "fiscal_code_missing"),
    ]
    assert campaign.first_problems(2) == problems[:2]
    assert campaign.first_problems(100) == problems
    assert [p.severity for p in problems] == [Severity.ERROR, Severity.ERROR, Severity.NOTICE,
                                               Severity.WARNING, Severity.ERROR]
    assert [p.is_error for p in problems] == [True, True, False, False, True]


def test_rows_are_every_data_row_in_order_and_repeatable(load) -> None:
    campaign = load(MIXED)
    first = list(campaign.rows())
    assert first == list(campaign.rows())
    assert [r.row for r in first] == [2, 3, 4, 5, 6, 7, 8]
    assert [r.state for r in first] == [
        InputVerdict.VALID, InputVerdict.INVALID, InputVerdict.INVALID, InputVerdict.DUPLICATE,
        InputVerdict.VALID, InputVerdict.INVALID, InputVerdict.VALID,
    ]
    for item in first:
        assert (item.message is not None) is (item.state is InputVerdict.VALID)
        assert (item.content_hash is not None) is (item.state is InputVerdict.VALID)
    assert first[1].fiscal_code == "RSSMRA80A01H501X"
    assert first[5].fiscal_code == ""
    assert first[0].message.body()["fiscal_code"] == CF1  # type: ignore[index]


def test_invalid_row_keeps_its_cell_normalised_when_possible(load) -> None:
    campaign = load(rows_csv(row(" n/a\u200b ")))
    only = next(campaign.rows())
    assert (only.state, only.fiscal_code) == (InputVerdict.INVALID, "N/A")


def test_preview_is_the_first_valid_row(load) -> None:
    campaign = load(MIXED)
    assert campaign.preview().row == 2  # type: ignore[union-attr]
    assert load(rows_csv(row("RSSMRA80A01H501X"))).preview() is None


def test_duplicates_alone_are_not_errors(load) -> None:
    campaign = load(rows_csv(row(CF1), row(CF1)))
    assert not campaign.has_errors and campaign.duplicate_count == 1


def test_input_frame_has_row_and_the_original_columns_as_text(load) -> None:
    campaign = load(rows_csv(f"{CF1},{SUBJECT},{MARKDOWN},007,x", "",
                             f"{CF2},{SUBJECT},{MARKDOWN},010,y",
                             header="Codice Fiscale,Oggetto,Testo,CAP,row"))
    frame = campaign.input_frame()
    assert frame.columns == ["row", "Codice Fiscale", "Oggetto", "Testo", "CAP", "row (input)"]
    assert frame.schema["row"] == pl.Int64
    assert all(dtype == pl.String for name, dtype in frame.schema.items() if name != "row")
    assert frame.get_column("row").to_list() == [2, 4]
    assert frame.get_column("CAP").to_list() == ["007", "010"]


def test_results_do_not_depend_on_chunk_sizes(load, monkeypatch: pytest.MonkeyPatch) -> None:
    text = rows_csv(*(row(code) for code in (CF1, "X", CF2, CF1, CF3, CF2, "", CF4, CF1, CF3)))
    expected = [(r.row, r.state, r.duplicate_of, r.problems, r.content_hash)
                for r in load(text).rows()]
    monkeypatch.setattr(judgement, "CHUNK_ROWS", 3)
    monkeypatch.setattr(campaign_module, "ROWS_CHUNK", 2)
    campaign = load(text)
    assert [(r.row, r.state, r.duplicate_of, r.problems, r.content_hash)
            for r in campaign.rows()] == expected
    assert [r.duplicate_of for r in campaign.rows()] == [None, None, None, 2, None, 4, None,
                                                         None, 2, 6]
    assert campaign.first_problems(3) == campaign.problems[:3]
