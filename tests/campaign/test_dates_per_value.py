"""Dates are read one value at a time: mixed zones and forms in one column are normal.

A clean TARI file whose ``due_date`` column mixed ``…Z`` and zone-less values used to end in a
polars panic; these tests pin what each form means, in the parser and through a whole load.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from campaign_helpers import CF1, CF2, CF3, CF4, MARKDOWN, SUBJECT, codes_by_row, rows_csv
from typer.testing import CliRunner

from dispatcher.campaign import values as v
from dispatcher.cli import app
from dispatcher.vocabulary import ExitCode, InputVerdict

DUE = "fiscal_code,subject,markdown,due_date"


def parse(*texts: str | None) -> list[datetime | None]:
    frame = pl.DataFrame({"text": list(texts)}, schema={"text": pl.String})
    return frame.select(v.parse_instant(pl.col("text"))).to_series().to_list()


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def test_one_column_mixes_utc_rome_time_and_offsets() -> None:
    assert parse(
        "2026-12-31T22:59:00Z",         # Z: as given
        "2026-12-31T23:59:00",          # no zone, winter: Rome is UTC+1
        "2027-07-15T23:59:00",          # no zone, summer: Rome is UTC+2
        "2027-01-31T12:00:00+01:00",    # an offset, with a colon
        "2027-01-31T12:00+0100",        # without one
        "2027-01-31T12:00:00.25-05:30",  # negative, fractional seconds
        "2027-01-31T12:00z",
        None,
    ) == [
        utc(2026, 12, 31, 22, 59), utc(2026, 12, 31, 22, 59), utc(2027, 7, 15, 21, 59),
        utc(2027, 1, 31, 11), utc(2027, 1, 31, 11), utc(2027, 1, 31, 17, 30, 0, 250000),
        utc(2027, 1, 31, 12), None,
    ]


def test_iso_and_italian_forms_mean_the_same_instant() -> None:
    end_of_day = utc(2027, 1, 31, 22, 59, 59)  # a date alone: 23:59:59 in Italy
    noon = utc(2027, 1, 31, 11)
    assert parse("2027-01-31", "31/01/2027", "31-01-2027", "31.01.2027", "2027-1-31") == [
        end_of_day] * 5
    assert parse("2027-01-31T12:00", "2027-01-31 12:00:00", "31/01/2027 12:00",
                 "31/01/2027 12.00", "31/01/2027, ore 12:00", "31/01/2027 12:00:00") == [
        noon] * 6


def test_a_time_skipped_by_the_spring_change_is_no_date_and_the_autumn_hour_is_the_first() -> None:
    # 28 March 2027 02:00 → 03:00 in Italy; 25 October 2026 03:00 → 02:00
    assert parse("2027-03-28T02:30", "28/03/2027 02:30", "2027-03-28T02:30:00Z") == [
        None, None, utc(2027, 3, 28, 2, 30)]
    assert parse("2026-10-25T02:30") == [utc(2026, 10, 25, 0, 30)]  # still summer time (+2)


@pytest.mark.parametrize("text", ["2027-02-30", "31/02/2027", "2027-01-31T25:00",
                                  "2027-01-31T12:00+15:00", "2027-01-31T12:00+01:75",
                                  "31/01/27", "domani", "2027-01-31Z"])
def test_impossible_dates_and_zones_do_not_parse(text: str) -> None:
    assert parse(text) == [None]


def test_offset_minutes() -> None:
    frame = pl.DataFrame({"zone": ["Z", "+01:00", "+0130", "-05", "-12:00", "+14:00", "+15"]})
    assert frame.select(v.offset_minutes(pl.col("zone"))).to_series().to_list() == [
        0, 60, 90, -300, -720, 840, None]


def test_a_file_mixing_zones_in_due_date_loads_and_sends_each_instant(load) -> None:
    campaign = load(rows_csv(
        f"{CF1},{SUBJECT},{MARKDOWN},2026-12-31T22:59:00Z",
        f"{CF2},{SUBJECT},{MARKDOWN},2026-12-31T23:59:00",
        f"{CF3},{SUBJECT},{MARKDOWN},31/07/2027 10:00",
        f"{CF4},{SUBJECT},{MARKDOWN},2027-01-31T12:00:00+02:00",
        header=DUE,
    ))
    assert codes_by_row(campaign) == {}
    due = {r.row: r.message.body()["content"]["due_date"]  # type: ignore[union-attr]
           for r in campaign.rows()}
    assert due == {2: "2026-12-31T22:59:00.000Z", 3: "2026-12-31T22:59:00.000Z",
                   4: "2027-07-31T08:00:00.000Z", 5: "2027-01-31T10:00:00.000Z"}


def test_a_non_existent_local_time_is_a_date_format_error_on_its_row(load) -> None:
    campaign = load(rows_csv(
        f"{CF1},{SUBJECT},{MARKDOWN},2027-03-28T02:30:00",
        f"{CF2},{SUBJECT},{MARKDOWN},2027-03-28T02:30:00Z",
        header=DUE,
    ))
    assert codes_by_row(campaign) == {2: ["date_format"]}
    states = {r.row: r.state for r in campaign.rows()}
    assert states == {2: InputVerdict.INVALID, 3: InputVerdict.VALID}


def test_the_date_helpers_read_each_value_on_its_own_too(load) -> None:
    template = ('subject = "Avviso TARI per il 2027"\nmarkdown = """\nScadenza {scadenza|data} '
                'ore {scadenza|ora}: un testo abbastanza lungo da superare gli ottanta caratteri.'
                '\n"""\n')
    campaign = load(rows_csv(f"{CF1},2027-01-31T10:00:00Z", f"{CF2},2027-01-31T12:00:00",
                             header="fiscal_code,scadenza"), template=template)
    texts = [r.message.body()["content"]["markdown"][:26]  # type: ignore[union-attr]
             for r in campaign.rows()]
    assert texts == ["Scadenza 31/01/2027 ore 11", "Scadenza 31/01/2027 ore 12"]


def test_validate_on_a_mixed_zone_file_exits_zero(write, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    path = write(rows_csv(f"{CF1},{SUBJECT},{MARKDOWN},2030-12-31T22:59:00Z",
                          f"{CF2},{SUBJECT},{MARKDOWN},2030-12-31T23:59:00", header=DUE))
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == ExitCode.OK, result.output
    assert "Traceback" not in result.output
