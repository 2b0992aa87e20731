"""Finding the campaign file again, to put its columns back next to each row's outcome.

The ledger remembers the path the campaign was read from (as typed: often relative) and the
file's SHA-256. A report joins input rows by row number, so it must be exactly that file: a
file edited since (a row inserted, a column sorted) would pair one citizen's data with
another's outcome. The recorded path is tried as typed, then next to the ledger's folder
(``FILE.dispatcher/ledger.sqlite`` is the default); only a file whose SHA-256 matches is used.

Only the table is read, not validated: the columns do not depend on the template, a template
that moved must not block a report, and validating 80,000 rows again would be wasted work.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from dispatcher.campaign.source import file_sha256
from dispatcher.ledger import CampaignRecord

if TYPE_CHECKING:
    import polars as pl


class InputMismatch(ValueError):
    """The file named with ``--input`` is not the one the campaign was sent from."""


@dataclass(frozen=True)
class InputMatch:
    frame: pl.DataFrame | None  # ``row`` + the input columns; None: export without them
    path: Path | None
    note: str | None  # why the input columns are missing, for the operator


def candidates(recorded: str, ledger_path: Path) -> list[Path]:
    """Where the recorded input path may be now, most likely first, without repeats."""
    typed = Path(recorded)
    home = ledger_path.resolve().parent
    # An absolute path goes stale too (the campaign folder archived or moved with its
    # ledger): it falls back to the ledger's neighbourhood like a relative one.
    first = [typed] if typed.is_absolute() else [Path.cwd() / typed, home.parent / typed]
    found = [*first, home.parent / typed.name, home / typed.name]
    unique: list[Path] = []
    for path in found:
        if path.resolve() not in [p.resolve() for p in unique]:
            unique.append(path)
    return unique


def input_frame_of(path: Path, *, encoding: str | None = None,
                   delimiter: str | None = None) -> pl.DataFrame:
    """``row`` (Int64) and the original columns as text: what ``Campaign.input_frame`` gives."""
    import polars as pl

    from dispatcher.campaign.reader import read_table

    table = read_table(path, encoding=encoding, delimiter=delimiter)
    names, labels = table.columns.names, table.columns.labels
    return table.frame.select(
        pl.col("__row").alias("row"),
        *(pl.col(name).alias("row (input)" if labels[name] == "row" else labels[name])
          for name in names),
    )


def find_input(
    campaign: CampaignRecord,
    ledger_path: Path,
    *,
    explicit: Path | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
    read: bool = True,
) -> InputMatch:
    """The campaign's own input file, read (only found, with ``read=False``); or why not.

    An ``explicit`` file that is not the campaign's raises :class:`InputMismatch`; a recorded
    path that moved or changed only leaves a note (the report still has every outcome).
    """
    from dispatcher.campaign import CampaignFileError

    if explicit is not None:
        if not explicit.is_file():
            raise InputMismatch(f"{explicit}: no such file")
        if file_sha256(explicit) != campaign.input_sha256:
            raise InputMismatch(
                f"{explicit} is not the file campaign {campaign.campaign_id} was sent from "
                f"(it was {campaign.input_path}, and the contents differ): its rows would be "
                "paired with the wrong outcomes"
            )
        if not read:
            return InputMatch(None, explicit, None)
        try:
            return InputMatch(input_frame_of(explicit, encoding=encoding, delimiter=delimiter),
                              explicit, None)
        except CampaignFileError as exc:
            raise InputMismatch(str(exc)) from None
    changed = False
    for path in candidates(campaign.input_path, ledger_path):
        if not path.is_file():
            continue
        if file_sha256(path) != campaign.input_sha256:
            changed = True
            continue
        if not read:
            return InputMatch(None, path, None)
        try:
            frame = input_frame_of(path, encoding=encoding, delimiter=delimiter)
        except CampaignFileError as exc:
            return InputMatch(None, None, f"{exc}: exported without the input columns")
        return InputMatch(frame, path, None)
    why = "changed since the campaign was sent" if changed else "not found"
    if not read:
        return InputMatch(None, None, None)
    return InputMatch(
        None, None,
        f"input file {campaign.input_path} {why}: exported without the input columns "
        "(pass --input FILE with the original file to add them)",
    )
