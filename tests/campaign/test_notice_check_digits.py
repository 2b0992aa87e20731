"""pagoPA notice numbers carry check digits: a wrong pair means a notice nobody can pay.

The rule (SACI): for aux digits 0, 2 and 3 the last two digits are the remainder modulo 93 of
the 16 digits before them; aux digit 1 has none. The expected values here are worked out by
hand, not with the function under test.
"""

from __future__ import annotations

import polars as pl
import pytest
from campaign_helpers import CF1, CF2, MARKDOWN, REPO_ROOT, SUBJECT, codes_by_row, row, rows_csv

from dispatcher.campaign import values as v
from dispatcher.vocabulary import InputVerdict

PAY = "fiscal_code,subject,markdown,amount,notice_number"

# 3 + segregation 01 + IUV base 2345678901234: 3012345678901234 = 93 × 32390813751626 + 16
AUX3_RIGHT, AUX3_WRONG = "301234567890123416", "301234567890123456"
# 0 + application code 01 + base: 0012345678901234 = 93 × 132749235497 + 13
AUX0_RIGHT, AUX0_WRONG = "001234567890123413", "001234567890123431"
# 2 + IUV base (15): 2000000000000000 = 93 × 21505376344086 + 2
AUX2_RIGHT, AUX2_WRONG = "200000000000000002", "200000000000000020"
AUX1 = "112345678901234567"  # aux 1: a 17-digit IUV, no check digits to compare


def matches(*notices: str | None) -> list[bool]:
    frame = pl.DataFrame({"n": list(notices)}, schema={"n": pl.String})
    return frame.select(v.notice_check_digits_match(pl.col("n"))).to_series().to_list()


def test_check_digits_right_and_wrong_for_each_aux_digit() -> None:
    assert matches(AUX3_RIGHT, AUX0_RIGHT, AUX2_RIGHT, AUX1) == [True] * 4
    assert matches(AUX3_WRONG, AUX0_WRONG, AUX2_WRONG) == [False] * 3


def test_a_remainder_below_ten_is_written_with_a_leading_zero() -> None:
    # 0000000000000005 % 93 = 5 → "05"; "5" in the last place alone is not the same number
    assert matches("000000000000000505", "000000000000000550") == [True, False]
    assert v.notice_check_digits("0000000000000005") == "05"


def test_malformed_numbers_are_left_to_the_format_rule() -> None:
    assert matches("12345", "401234567890123456", "3012345678901234xx", None) == [True] * 4


def test_the_largest_bases_do_not_overflow() -> None:
    # 3999999999999999 = 93 × 43010752688172 + 3
    assert matches("399999999999999903", "399999999999999999") == [True, False]
    assert v.notice_check_digits("3999999999999999") == "03"


@pytest.mark.parametrize("notice", [AUX3_WRONG, AUX0_WRONG, AUX2_WRONG])
def test_a_wrong_pair_is_a_row_error_naming_the_value(load, notice: str) -> None:
    campaign = load(rows_csv(row(CF1, SUBJECT, MARKDOWN, "1250", notice),
                             row(CF2, SUBJECT, MARKDOWN, "1250", AUX3_RIGHT), header=PAY))
    assert codes_by_row(campaign) == {2: ["notice_number_check_digits"]}
    (problem,) = campaign.problems
    assert problem.column == "notice_number"
    assert notice in problem.message and "cannot be paid" in problem.message
    states = {r.row: r.state for r in campaign.rows()}
    assert states == {2: InputVerdict.INVALID, 3: InputVerdict.VALID}


def test_spaces_inside_are_removed_before_the_check(load) -> None:
    spaced = "3012 3456 7890 1234 16"
    campaign = load(rows_csv(row(CF1, SUBJECT, MARKDOWN, "1250", spaced), header=PAY))
    assert codes_by_row(campaign) == {}
    payment = campaign.preview().message.body()["content"]["payment_data"]  # type: ignore[union-attr]
    assert payment["notice_number"] == AUX3_RIGHT


def test_a_digit_dropped_by_a_spreadsheet_is_only_a_format_error(load) -> None:
    campaign = load(rows_csv(row(CF1, SUBJECT, MARKDOWN, "1250", AUX0_RIGHT[1:]), header=PAY))
    assert codes_by_row(campaign) == {2: ["notice_number_format"]}


def test_the_sample_campaign_is_generated_with_correct_check_digits() -> None:
    frame = pl.read_csv(REPO_ROOT / "sample_data" / "tari_2027_clean.csv", separator=";",
                        infer_schema=False)
    notices = frame.get_column("codice_avviso")
    assert notices.str.contains(v.NOTICE_NUMBER_PATTERN).all()
    assert all(n[16:] == f"{int(n[:16]) % 93:02d}" for n in notices.to_list())
