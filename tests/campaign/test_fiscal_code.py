"""The vectorised fiscal-code check gives python-stdnum's verdict, code for code."""

from __future__ import annotations

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stdnum.it import codicefiscale

from dispatcher.campaign.fiscal_code import normalise, normalise_expr, verdict, verdict_expr

SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
DIGITS = "0123456789"
OMOCODIA = "LMNPQRSTUV"
MONTHS = "ABCDEHLMPRST"
DIGIT_POSITIONS = (6, 7, 9, 10, 12, 13, 14)


def vectorised_verdicts(codes: list[str | None]) -> list[str | None]:
    series = pl.Series("c", codes, dtype=pl.String)
    return pl.select(verdict_expr(pl.lit(series))).to_series().to_list()


def vectorised_normalise(raw: list[str | None]) -> list[str | None]:
    series = pl.Series("c", raw, dtype=pl.String)
    return pl.select(normalise_expr(pl.lit(series))).to_series().to_list()


@st.composite
def valid_codes(draw: st.DrawFn) -> str:
    """A code with a real-looking structure; any day 1-31, so some dates do not exist."""
    body = (
        "".join(draw(st.lists(st.sampled_from(LETTERS), min_size=6, max_size=6)))
        + f"{draw(st.integers(0, 99)):02d}"
        + draw(st.sampled_from(MONTHS))
        + f"{draw(st.integers(1, 31)) + draw(st.sampled_from((0, 40))):02d}"
        + draw(st.sampled_from(LETTERS))
        + f"{draw(st.integers(0, 999)):03d}"
    )
    return body + codicefiscale.calc_check_digit(body)


@st.composite
def omocodes(draw: st.DrawFn) -> str:
    code = list(draw(valid_codes())[:15])
    for position in draw(st.sets(st.sampled_from(DIGIT_POSITIONS), min_size=1)):
        code[position] = OMOCODIA[int(code[position])]
    body = "".join(code)
    return body + codicefiscale.calc_check_digit(body)


@st.composite
def corrupted(draw: st.DrawFn) -> str:
    code = list(draw(st.one_of(valid_codes(), omocodes())))
    position = draw(st.integers(0, 15))
    code[position] = draw(st.sampled_from(LETTERS + DIGITS))
    if draw(st.booleans()):
        i, j = draw(st.integers(0, 15)), draw(st.integers(0, 15))
        code[i], code[j] = code[j], code[i]
    return "".join(code)


pattern_like = st.text(alphabet=LETTERS + DIGITS, min_size=15, max_size=17)
noise = st.text(alphabet=LETTERS + DIGITS + "abcxyzàèìòù€ :-._\u200b\xa0ıß", max_size=20)
eleven_digits = st.text(alphabet=DIGITS, min_size=11, max_size=11)
any_code = st.one_of(valid_codes(), omocodes(), corrupted(), pattern_like, noise,
                     eleven_digits, st.none())


@SETTINGS
@given(st.lists(any_code, min_size=1, max_size=60))
def test_vectorised_verdict_equals_stdnum(codes: list[str | None]) -> None:
    normalised = [normalise(c) for c in codes]
    assert vectorised_verdicts(normalised) == [verdict(c) for c in normalised]


@SETTINGS
@given(st.lists(st.one_of(valid_codes(), omocodes()), min_size=1, max_size=40))
def test_valid_and_omocode_codes_pass_both_checks(codes: list[str]) -> None:
    expected = [None if codicefiscale.is_valid(c) else "birth_date" for c in codes]
    assert vectorised_verdicts(codes) == expected


whitespace = st.sampled_from([" ", "\t", "\xa0", "\u200b", "\u2009", "\ufeff", "\u3000", "-",
                              "\u00ad", "\r\n"])


@st.composite
def messy(draw: st.DrawFn) -> str:
    """A code as an office pastes it: mixed case, spaces, invisible characters."""
    code = draw(st.one_of(valid_codes(), omocodes(), pattern_like))
    chars = [c.lower() if draw(st.booleans()) else c for c in code]
    for _ in range(draw(st.integers(0, 4))):
        chars.insert(draw(st.integers(0, len(chars))), draw(whitespace))
    return "".join(chars)


@SETTINGS
@given(st.lists(st.one_of(messy(), st.text(max_size=24), st.none()), min_size=1, max_size=60))
def test_normaliser_in_polars_equals_python(raw: list[str | None]) -> None:
    assert vectorised_normalise(raw) == [normalise(r) for r in raw]


@SETTINGS
@given(messy())
def test_normaliser_undoes_what_offices_do_to_a_code(text: str) -> None:
    code = normalise(text)
    assert code == normalise(code)  # idempotent
    assert code is not None and " " not in code and "\u200b" not in code
    assert code == "".join(ch for ch in text.upper() if ch.isalnum())


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("RSSMRA80A01H501U", None),
        ("DNGNCL87P28L73SB", None),  # omocodia: one digit replaced
        ("DNGNCLUTPNULTPSB", None),  # omocodia: all seven
        ("RSSMRA80A01H501X", "checksum"),
        ("RSSMRA80A01H501", "format"),
        ("RSSMRA80A01H501UU", "format"),
        ("RSSMRA80Z01H501U", "format"),  # Z is not a month letter
        ("80012345678", "temporary"),
        ("8001234567A", "format"),
        (None, "missing"),
        ("RSS:MRA80A01H501U", "format"),  # stdnum would strip ':'; we send what we check
    ],
)
def test_known_codes(code: str | None, expected: str | None) -> None:
    assert verdict(code) == expected
    assert vectorised_verdicts([code]) == [expected]


def _with_day(year: str, month: str, day: int) -> str:
    body = f"RSSMRA{year}{month}{day:02d}H501"
    return body + codicefiscale.calc_check_digit(body)


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (_with_day("00", "B", 29), None),  # 2000 is a leap year
        (_with_day("19", "B", 29), "birth_date"),  # 2019 is not (stdnum: 1920..2019)
        (_with_day("20", "B", 29), None),  # 1920 is
        (_with_day("27", "B", 69), "birth_date"),  # women: day + 40; 29 Feb 1927 no
        (_with_day("80", "D", 31), "birth_date"),  # 31 April
        (_with_day("80", "A", 0), "birth_date"),
        (_with_day("80", "A", 71), None),
        (_with_day("80", "A", 32), "birth_date"),
    ],
)
def test_birth_dates_follow_stdnum(code: str, expected: str | None) -> None:
    assert verdict(code) == expected
    assert vectorised_verdicts([code]) == [expected]
