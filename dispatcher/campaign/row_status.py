"""Checks that need the whole file at once: duplicates and shared third-party ids.

Both look across rows, so they run once over the small per-row status columns that
``Campaign`` keeps (never per chunk: row 2 and row 900,000 may share a code or an id).
Both find the few repeated keys with ``is_first_distinct`` (a hash set) and join only those
back to their first row: grouping a million distinct values with ``over()`` would cost
hundreds of megabytes.
"""

from __future__ import annotations

import polars as pl

VALID, INVALID, DUPLICATE = 0, 1, 2

SHARED_SCHEMA = {"__row": pl.Int64, "other_row": pl.Int64, "__tp": pl.String}


def shared_third_party_ids(flags: pl.DataFrame) -> pl.DataFrame:
    """Later rows whose ``third_party_id`` an earlier row of *another* citizen already uses.

    ``flags`` has ``__row``, ``__cf`` (normalised fiscal code) and ``__tp`` (the id). IO's
    guide: the id identifies one message for one recipient. The first row using an id owns
    it; a later row with the same id and the same fiscal code is a duplicate (reported as
    such), with another fiscal code it is returned here, with ``other_row`` the owner.
    Rows without a fiscal code take no part: their own error says enough.
    """
    ids = flags.select("__row", "__cf", "__tp").filter(
        pl.col("__tp").is_not_null() & pl.col("__cf").is_not_null())
    repeated = ids.select(~pl.col("__tp").is_first_distinct()).to_series()
    if not repeated.any():
        return pl.DataFrame(schema=SHARED_SCHEMA)
    later = ids.filter(repeated)
    owners = (ids.filter(pl.col("__tp").is_in(later.get_column("__tp").unique().implode()))
              .group_by("__tp", maintain_order=True)
              .agg(pl.col("__row").first().alias("other_row"),
                   pl.col("__cf").first().alias("__owner")))
    return (later.join(owners, on="__tp", how="left", maintain_order="left")
            .filter(pl.col("__cf") != pl.col("__owner"))
            .select(pl.col("__row"), pl.col("other_row"), pl.col("__tp")))


def row_status(flags: pl.DataFrame, rows: pl.Series) -> pl.DataFrame:
    """state (valid/invalid/duplicate), duplicate_of, and the two "has problems" columns.

    ``flags`` has ``__cf``, ``__error`` (the row is invalid), ``__flagged`` (the row has any
    problem) and ``__listed`` (a problem the per-row listing shows, i.e. not only
    file-level ones). Among valid rows sharing a fiscal code the first is sent and the later
    ones are duplicates of it; invalid rows never claim a code.
    """
    key = pl.when(~pl.col("__error")).then(pl.col("__cf"))
    frame = flags.with_columns(rows.alias("__row")).with_columns(key.alias("__key"))
    repeated = frame.select(
        (pl.col("__key").is_not_null() & ~pl.col("__key").is_first_distinct()).alias("dup")
    ).to_series()
    duplicate_of = pl.Series("duplicate_of", [], dtype=pl.Int64).extend_constant(None,
                                                                              frame.height)
    if repeated.any():
        later = frame.filter(repeated).select("__key", "__row")
        first = (frame.filter(pl.col("__key").is_in(later.get_column("__key").implode()))
                 .group_by("__key").agg(pl.col("__row").min().alias("first")))
        pairs = later.join(first, on="__key", how="left", maintain_order="left")
        duplicate_of = frame.select("__row").join(
            pairs.select("__row", pl.col("first").alias("duplicate_of")), on="__row",
            how="left", maintain_order="left",
        ).get_column("duplicate_of")
    return frame.select(
        pl.when(pl.col("__error")).then(INVALID)
        .when(repeated).then(DUPLICATE)
        .otherwise(VALID).cast(pl.UInt8).alias("state"),
        duplicate_of,
        (pl.col("__flagged") | repeated).alias("__flagged"),
        (pl.col("__listed") | repeated).alias("__listed"),
    )
