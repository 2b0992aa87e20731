"""Typed cell values as polars expressions: amounts, dates, booleans, and how to show them.

Every cell arrives as text. These functions parse text into cents, UTC instants and booleans
(``null`` when the text does not parse, so a rule can say why), and format values the way an
Italian office writes them: ``€ 1.234,56``, ``31/01/2027``, ``31 gennaio 2027``.

Money never goes through floats: euro amounts are split into integer and decimal digits.
Dates without a zone are Italian time (Europe/Rome); a date without a time means the end of
that day (23:59:59) in Italy, so "pay by 31/01/2027" stays payable all of the 31st. At the
autumn DST change an ambiguous time takes the earlier instant; a time skipped in spring
(02:30 on the last Sunday of March) does not exist and is reported as a bad date.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import polars as pl

AmountUnit = Literal["cents", "euro"]

ROME = "Europe/Rome"
AMOUNT_MIN = 1
AMOUNT_MAX = 9_999_999_999
ISO_UTC_FORMAT = "%Y-%m-%dT%H:%M:%S%.3fZ"

NOTICE_NUMBER_PATTERN = r"^[0123][0-9]{17}$"
ULID_PATTERN = r"^[0-9a-hjkmnp-tv-zA-HJKMNP-TV-Z]{26}$"
HTML_PATTERN = r"<(?:!--|/?[A-Za-z][A-Za-z0-9-]*(?:\s[^<>]*)?/?>)"
ASTRAL_PATTERN = r"[\x{10000}-\x{10FFFF}]"

TRUE_WORDS = ("true", "vero", "si", "sì", "si'", "yes", "1")
FALSE_WORDS = ("false", "falso", "no", "0")

MONTHS_IT = ("gennaio", "febbraio", "marzo", "aprile", "maggio", "giugno", "luglio",
             "agosto", "settembre", "ottobre", "novembre", "dicembre")


def clean(text: pl.Expr) -> pl.Expr:
    """Trim white space; an empty or blank cell becomes null."""
    stripped = text.str.strip_chars()
    return pl.when(stripped.str.len_bytes() > 0).then(stripped)


def utf16_length(text: pl.Expr) -> pl.Expr:
    """Length as IO counts it (JavaScript ``s.length``): characters beyond the BMP count 2."""
    return (text.str.len_chars() + text.str.count_matches(ASTRAL_PATTERN)).cast(pl.Int64)


def by_distinct(
    text: pl.Expr, function: Callable[[pl.Expr], pl.Expr], dtype: pl.DataType
) -> pl.Expr:
    """``function(text)`` computed once per distinct value, then looked up for every row.

    A campaign repeats its due dates on every row; parsing a date is a regex and a time zone
    conversion, so a million rows with three distinct dates cost three parses, not a million.
    """

    def run(series: pl.Series) -> pl.Series:
        distinct = series.drop_nulls().unique()
        # The distinct values go in as a frame column, not as ``pl.lit(series)``: polars 2.1
        # panics (bitmap_ops.rs, "left == right") on a when/then over fields extracted from
        # a literal series once some are null, e.g. a zone present on one date, absent on
        # the next. Columns take the ordinary, tested path.
        mapped = distinct.to_frame("value").select(function(pl.col("value"))).to_series()
        return series.replace_strict(distinct, mapped, default=None, return_dtype=dtype)

    return text.map_batches(run, return_dtype=dtype)


# -- amounts ---------------------------------------------------------------------------------

_CENTS = r"^[0-9]+$"
# Anything an office writes when it means euros: 12,50 / 12.5 / 1.234,56 / 1,234.56 / € 12
_EURO_LIKE = (
    r"€|^[0-9]+[.,][0-9]{1,2}$|^[0-9]{1,3}([.,][0-9]{3})+([.,][0-9]{1,2})?$"
)
# Accepted euro spellings (after removing € and spaces): decimal comma with optional
# thousands dots, or decimal point with optional thousands commas (then decimals required).
_EURO_COMMA = r"^([0-9]+|[0-9]{1,3}(\.[0-9]{3})+)(,[0-9]{1,2})?$"
_EURO_POINT = r"^([0-9]+\.[0-9]{1,2}|[0-9]{1,3}(,[0-9]{3})+\.[0-9]{1,2})$"


def _digits_to_int(digits: pl.Expr, max_digits: int) -> pl.Expr:
    """Digits to Int64 without overflow: more than ``max_digits`` significant digits → -1."""
    significant = digits.str.strip_chars_start("0")
    return (
        pl.when(significant.str.len_chars() > max_digits).then(pl.lit(-1, pl.Int64))
        .otherwise(digits.cast(pl.Int64, strict=False))
    )


def amount_cents(text: pl.Expr, unit: AmountUnit) -> pl.Expr:
    """Cents as Int64 (may be out of IO's range), or null when the text is not an amount."""
    if unit == "cents":
        return pl.when(text.str.contains(_CENTS)).then(_digits_to_int(text, 12))
    bare = text.str.replace_all(r"[€\s]", "")
    comma = bare.str.contains(_EURO_COMMA)
    point = bare.str.contains(_EURO_POINT)
    plain = (
        pl.when(comma).then(bare.str.replace_all(".", "", literal=True).str.replace(",", "."))
        .when(point).then(bare.str.replace_all(",", "", literal=True))
    )
    euros = _digits_to_int(plain.str.extract(r"^([0-9]+)"), 10)
    decimals = plain.str.extract(r"\.([0-9]{1,2})$").fill_null("").str.pad_end(2, "0")
    return (
        pl.when(euros < 0).then(euros)
        .otherwise(euros * 100 + decimals.cast(pl.Int64, strict=False))
    )


def amount_problem(text: pl.Expr, cents: pl.Expr, unit: AmountUnit) -> pl.Expr:
    """``'not_cents'``, ``'format'``, ``'range'`` or null, for a non-empty amount cell."""
    shape = (
        pl.when(text.str.contains(_EURO_LIKE)).then(pl.lit("not_cents"))
        .otherwise(pl.lit("format"))
        if unit == "cents"
        else pl.lit("format")
    )
    return (
        pl.when(text.is_null()).then(pl.lit(None, pl.String))
        .when(cents.is_null()).then(shape)
        .when((cents < AMOUNT_MIN) | (cents > AMOUNT_MAX)).then(pl.lit("range"))
    )


def format_euro(cents: pl.Expr) -> pl.Expr:
    """1234567 → ``'€ 12.345,67'`` (Italian grouping and decimal comma; up to 10 digits)."""
    euros = cents // 100
    units = (euros % 1000).cast(pl.String)
    thousands = (euros // 1000 % 1000).cast(pl.String)
    millions = (euros // 1_000_000).cast(pl.String)
    grouped = (
        pl.when(euros >= 1_000_000)
        .then(pl.concat_str([millions, thousands.str.zfill(3), units.str.zfill(3)],
                            separator="."))
        .when(euros >= 1000).then(pl.concat_str([thousands, units.str.zfill(3)], separator="."))
        .otherwise(units)
    )
    decimals = (cents % 100).cast(pl.String).str.zfill(2)
    return pl.concat_str([pl.lit("€ "), grouped, pl.lit(","), decimals])


def euro_text(cents: int) -> str:
    """:func:`format_euro` for one Python int (previews)."""
    grouped = f"{cents // 100:,}".replace(",", ".")
    return f"€ {grouped},{cents % 100:02d}"


def utf16_units(text: str) -> int:
    """:func:`utf16_length` for a Python string (template literals)."""
    return len(text.encode("utf-16-le")) // 2


# -- dates -----------------------------------------------------------------------------------

# ISO 8601: 2027-01-31, 2027-01-31T12:00, with seconds, fractions, and Z, +01:00, +0100 or +01.
_ISO = (
    r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ](\d{1,2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?"
    r"\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?)?$"
)
# Italian: 31/01/2027, 31-01-2027, 31.01.2027, with an optional time "12:00", "ore 12.00".
_ITALIAN = (
    r"^(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})(?:,?\s+(?:ore\s+)?(\d{1,2})[:.](\d{2})"
    r"(?:[:.](\d{2}))?)?$"
)
_MAX_OFFSET_HOURS = 14  # the widest UTC offsets in use are -12:00 and +14:00


INSTANT = pl.Datetime("us", "UTC")


def parse_instant(text: pl.Expr) -> pl.Expr:
    """A UTC ``Datetime`` from ISO-8601 or Italian ``31/01/2027 [10:30]``; null if invalid."""
    return by_distinct(text, parse_instant_text, INSTANT)


def parse_instant_text(text: pl.Expr) -> pl.Expr:
    """:func:`parse_instant` without the per-distinct-value shortcut.

    Each value is read on its own, so one column may mix forms and zones: the wall-clock
    part is parsed as a naive datetime, the zone (if any) as minutes east of UTC, and the
    two are combined per value: with a zone, naive minus offset is the UTC instant; without
    one, the naive time is Italian (Europe/Rome, DST-aware).
    """
    iso = text.str.extract_groups(_ISO)
    ita = text.str.extract_groups(_ITALIAN)

    def part(iso_group: str, ita_group: str | None) -> pl.Expr:
        value = iso.struct.field(iso_group)
        return pl.coalesce(value, ita.struct.field(ita_group)) if ita_group else value

    hour = part("4", "4")
    has_time = hour.is_not_null()
    fraction = part("7", None).fill_null("").str.slice(0, 6).str.pad_end(6, "0")
    naive_text = pl.concat_str([
        part("1", "3"), pl.lit("-"), part("2", "2").str.zfill(2), pl.lit("-"),
        part("3", "1").str.zfill(2), pl.lit(" "),
        # a date alone is the end of that day in Italy
        pl.when(has_time).then(hour.str.zfill(2)).otherwise(pl.lit("23")), pl.lit(":"),
        pl.when(has_time).then(part("5", "5")).otherwise(pl.lit("59")), pl.lit(":"),
        pl.when(has_time).then(part("6", "6").fill_null("00")).otherwise(pl.lit("59")),
        pl.lit("."), fraction,
    ])
    naive = naive_text.str.to_datetime("%Y-%m-%d %H:%M:%S%.f", time_unit="us", strict=False)
    zone = part("8", None)
    offset = offset_minutes(zone)
    # ambiguous="earliest": in the autumn hour that happens twice (02:00-02:59 on the last
    # Sunday of October) an office means the first one, still summer time, so a deadline
    # never moves later than written. non_existent="null": 02:30 on the last Sunday of
    # March does not exist in Italy; the null becomes a DATE_FORMAT problem.
    rome = naive.dt.replace_time_zone(ROME, ambiguous="earliest", non_existent="null")
    zoned = (naive - pl.duration(minutes=offset)).dt.replace_time_zone("UTC")
    return (
        pl.when(zone.is_null()).then(rome.dt.convert_time_zone("UTC"))
        .when(offset.is_not_null()).then(zoned)
        .otherwise(pl.lit(None, INSTANT))
    )


def offset_minutes(zone: pl.Expr) -> pl.Expr:
    """``Z`` → 0, ``+01:00``/``+0100``/``+01`` → 60, ``-05:30`` → -330; null if out of range."""
    digits = zone.str.replace(":", "", literal=True)
    hours = digits.str.slice(1, 2).cast(pl.Int32, strict=False)
    minutes = digits.str.slice(3, 2).cast(pl.Int32, strict=False).fill_null(0)
    sign = pl.when(digits.str.starts_with("-")).then(-1).otherwise(1)
    valid = (hours <= _MAX_OFFSET_HOURS) & (minutes < 60)
    return (
        pl.when(digits.str.to_uppercase() == "Z").then(pl.lit(0, pl.Int32))
        .when(valid).then((hours * 60 + minutes) * sign)
    )


def iso_utc(instant: pl.Expr) -> pl.Expr:
    """The form IO documents: ``2027-01-31T22:59:59.000Z``."""
    return instant.dt.strftime(ISO_UTC_FORMAT)


def _in_rome(instant: pl.Expr) -> pl.Expr:
    return instant.dt.convert_time_zone(ROME)


def format_date(instant: pl.Expr) -> pl.Expr:
    """``31/01/2027`` (the day in Italy)."""
    return _in_rome(instant).dt.strftime("%d/%m/%Y")


def format_long_date(instant: pl.Expr) -> pl.Expr:
    """``31 gennaio 2027``."""
    local = _in_rome(instant)
    month = local.dt.month().replace_strict(
        {i + 1: name for i, name in enumerate(MONTHS_IT)}, return_dtype=pl.String
    )
    return pl.concat_str(
        [local.dt.day().cast(pl.String), month, local.dt.year().cast(pl.String)], separator=" "
    )


def format_time(instant: pl.Expr) -> pl.Expr:
    """``10:30`` (Italian time)."""
    return _in_rome(instant).dt.strftime("%H:%M")


# -- other scalars ---------------------------------------------------------------------------


def parse_bool(text: pl.Expr) -> pl.Expr:
    """sì/si/true/vero/yes/1 → true, no/false/falso/0 → false, anything else → null."""
    word = text.str.to_lowercase()
    return (
        pl.when(word.is_in(TRUE_WORDS)).then(pl.lit(True))
        .when(word.is_in(FALSE_WORDS)).then(pl.lit(False))
        .otherwise(pl.lit(None, pl.Boolean))
    )


def parse_whole(text: pl.Expr) -> pl.Expr:
    """A whole number (Int64) or null; more than 12 digits counts as out of range (-1)."""
    return pl.when(text.str.contains(r"^[0-9]+$")).then(_digits_to_int(text, 12))


# -- pagoPA notice numbers -------------------------------------------------------------------

# The 18-digit notice number (numero avviso) is <aux digit><...>; by aux digit:
#   0: 0 + application code (2) + IUV base (13) + check digits (2)
#   1: 1 + IUV (17), no check digits
#   2: 2 + IUV base (15) + check digits (2)
#   3: 3 + segregation code (2) + IUV base (13) + check digits (2)
# The check digits are the remainder modulo 93 of the number formed by all the digits before
# them (zero-padded to two digits). Sources: pagoPA SACI, "Numero avviso e codice IUV nel caso
# di pagamenti attivati presso i PSP" (docs.pagopa.it/saci, schemes per aux digit 0-3); AgID
# "Specifiche attuative dei pagamenti" v2.5.1 §6 "Avviso di pagamento" ("il check-digit viene
# calcolato come resto della divisione per 93 del numero ottenuto concatenando tutti i
# caratteri precedenti"); GovPay's NumeroAvvisoFactory computes the same for aux 0, 2 and 3.
NOTICE_CHECK_MODULUS = 93


def notice_check_digits_match(notice: pl.Expr, well_formed: pl.Expr | None = None) -> pl.Expr:
    """False where a well-formed notice number's check digits are wrong (aux 0, 2 and 3).

    Aux digit 1 carries none, so it is always true; so is anything that is not 18 digits
    (the format rule speaks for those). ``well_formed`` is that format test when the caller
    has it already. 16 digits fit Int64, so this is integer arithmetic.
    """
    if well_formed is None:
        well_formed = notice.str.contains(NOTICE_NUMBER_PATTERN)
    base = notice.str.slice(0, 16).cast(pl.Int64, strict=False)
    check = notice.str.slice(16, 2).cast(pl.Int64, strict=False)
    checked = well_formed & ~notice.str.starts_with("1")
    return pl.when(checked).then(base % NOTICE_CHECK_MODULUS == check).otherwise(True)


def notice_check_digits(first_16: str) -> str:
    """The two check digits for the first 16 digits of a notice number (generators, tests)."""
    return f"{int(first_16) % NOTICE_CHECK_MODULUS:02d}"
