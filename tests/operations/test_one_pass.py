"""One pass over the input: a new run renders each row once; a resume renders none.

The proof counts calls of the message builder (every rendered row goes through it) and
makes loading the campaign fail on a resume: the pending rows must come from the ledger.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from enginetools import TEMPLATE, write_campaign

import dispatcher.campaign.campaign as campaign_module
from dispatcher.campaign import CampaignSource
from dispatcher.ledger import Ledger
from dispatcher.message import MessageBuilder
from dispatcher.operations.run import RunOptions, run_campaign
from dispatcher.settings import RateSpec, Secret, Settings
from dispatcher.simulator import DEFAULT_KEY
from dispatcher.stopping import StopOptions
from dispatcher.vocabulary import ExitCode, RowState


def _settings(base_url: str) -> Settings:
    return Settings(base_url=base_url, api_key=Secret(DEFAULT_KEY), rate=RateSpec.parse("500/s"),
                    concurrency=8)


class _Counting(MessageBuilder):
    calls = 0

    def __call__(self, fiscal_code, record):  # type: ignore[no-untyped-def]
        type(self).calls += 1
        return super().__call__(fiscal_code, record)


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> type[_Counting]:
    _Counting.calls = 0
    monkeypatch.setattr(campaign_module, "MessageBuilder", _Counting)
    return _Counting


def _options(**changes: object) -> RunOptions:
    values: dict[str, object] = {"stops": StopOptions(handle_signals=False, grace_seconds=5)}
    values.update(changes)
    return RunOptions(**values)  # type: ignore[arg-type]


def test_a_new_run_renders_and_records_each_row_once(tmp_path: Path, simulator,
                                                     counted: type[_Counting]) -> None:
    source = CampaignSource(write_campaign(tmp_path / "c.csv", 120), TEMPLATE)
    result = run_campaign(source, settings=_settings(simulator.base_url),
                          ledger_path=tmp_path / "l.sqlite", options=_options())
    assert result.exit_code in (ExitCode.OK, ExitCode.INCOMPLETE)
    assert result.unfinished == 0 and not result.unrecorded
    assert counted.calls == 120  # validation renders nothing; recording renders each row once
    assert sum(result.counts.values()) == 120


def test_a_resume_streams_pending_rows_from_the_ledger_without_reading_the_rows(
    tmp_path: Path, simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = CampaignSource(write_campaign(tmp_path / "c.csv", 80), TEMPLATE)
    stop = tmp_path / "STOP"
    stop.touch()  # the first run records every row, then stops before sending them all
    first = run_campaign(source, settings=_settings(simulator.base_url),
                         ledger_path=tmp_path / "l.sqlite",
                         options=_options(stops=StopOptions(handle_signals=False,
                                                            stop_file=stop, grace_seconds=5)))
    assert not first.unrecorded and sum(first.counts.values()) == 80
    stop.unlink()

    def refuse(self: CampaignSource) -> None:
        raise AssertionError("a resume must not validate or render the campaign again")

    monkeypatch.setattr(CampaignSource, "load", refuse)
    second = run_campaign(source, settings=_settings(simulator.base_url),
                          ledger_path=tmp_path / "l.sqlite",
                          options=_options(export=False))
    assert second.resumed and second.unfinished == 0
    inbox = simulator.inbox()
    assert all(len(messages) == 1 for messages in inbox.values())
    assert len(inbox) == second.counts[RowState.SENT]


def test_a_recording_cut_short_continues_where_it_stopped(tmp_path: Path, simulator,
                                                          counted: type[_Counting]) -> None:
    source = CampaignSource(write_campaign(tmp_path / "c.csv", 50), TEMPLATE)
    campaign = source.load()
    rows = list(campaign.rows())
    ledger_path = tmp_path / "l.sqlite"
    with Ledger.open(ledger_path) as ledger:  # as a run killed after its first chunk leaves it
        from dispatcher.operations.starting import new_row

        cid = ledger.campaigns.begin(input_path=str(source.path),
                                     input_sha256=campaign.source_sha256,
                                     template_sha256=campaign.template_sha256)
        ledger.campaigns.record_rows(cid, [new_row(r) for r in rows[:20]])
    counted.calls = 0
    result = run_campaign(source, settings=_settings(simulator.base_url),
                          ledger_path=ledger_path, options=_options())
    assert result.campaign_id == cid and result.resumed and not result.unrecorded
    assert counted.calls == 30  # only the rows the first run did not record
    assert sum(result.counts.values()) == 50 and result.unfinished == 0
    assert all(len(m) == 1 for m in simulator.inbox().values())


def test_pending_rows_of_an_older_ledger_without_stored_messages_are_rendered_once(
    tmp_path: Path, simulator
) -> None:
    source = CampaignSource(write_campaign(tmp_path / "c.csv", 30), TEMPLATE)
    stop = tmp_path / "STOP"
    stop.touch()
    ledger_path = tmp_path / "l.sqlite"
    run_campaign(source, settings=_settings(simulator.base_url), ledger_path=ledger_path,
                 options=_options(stops=StopOptions(handle_signals=False, stop_file=stop)))
    with sqlite3.connect(ledger_path) as db:  # what a ledger of the previous version holds
        db.execute("UPDATE rows SET body=NULL")
    stop.unlink()
    result = run_campaign(source, settings=_settings(simulator.base_url),
                          ledger_path=ledger_path, options=_options())
    assert result.unfinished == 0 and result.counts[RowState.FAILED] == 0
    assert all(len(m) == 1 for m in simulator.inbox().values())
