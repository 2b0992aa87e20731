"""Test sends record their intent before they leave, like campaign rows."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from enginetools import TEMPLATE, write_campaign

from dispatcher.campaign import load_campaign
from dispatcher.ioapi import Client
from dispatcher.ledger import Ledger
from dispatcher.operations.test_send import IO_TEST_FISCAL_CODE, pick_rows, send_tests
from dispatcher.settings import RateSpec, Secret, Settings
from dispatcher.simulator import DEFAULT_KEY
from dispatcher.vocabulary import RowState


def _settings(base_url: str) -> Settings:
    return Settings(base_url=base_url, api_key=Secret(DEFAULT_KEY), rate=RateSpec.parse("50/s"))


def _test_sends(path: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        return db.execute("SELECT recipient, outcome FROM test_sends ORDER BY test_id").fetchall()


def test_a_test_send_is_in_the_ledger_as_sending_before_its_request_leaves(
    tmp_path: Path, simulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    campaign = load_campaign(write_campaign(tmp_path / "c.csv", 5), template=TEMPLATE)
    ledger_path = tmp_path / "l.sqlite"
    seen: list[list[tuple[str, str]]] = []
    submit = Client.submit_message

    async def spying(self, message, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(_test_sends(ledger_path))
        return await submit(self, message, **kwargs)

    monkeypatch.setattr(Client, "submit_message", spying)
    result = send_tests(campaign, settings=_settings(simulator.base_url), ledger_path=ledger_path,
                        recipients=[IO_TEST_FISCAL_CODE], rows=pick_rows(campaign, count=2))
    assert result.all_sent and len(seen) == 2
    assert seen[0] == [(IO_TEST_FISCAL_CODE, "sending")]
    assert seen[1] == [(IO_TEST_FISCAL_CODE, "sent"), (IO_TEST_FISCAL_CODE, "sending")]
    assert _test_sends(ledger_path) == [(IO_TEST_FISCAL_CODE, "sent")] * 2


def test_a_test_send_left_sending_by_a_killed_process_becomes_ambiguous(
    tmp_path: Path, simulator
) -> None:
    campaign = load_campaign(write_campaign(tmp_path / "c.csv", 5), template=TEMPLATE)
    ledger_path = tmp_path / "l.sqlite"
    (row,) = pick_rows(campaign, count=1)
    with Ledger.open(ledger_path) as ledger:  # what kill -9 mid-send leaves behind
        ledger.test_sends.begin(input_path=str(campaign.path),
                                input_sha256=campaign.source_sha256,
                                template_sha256=campaign.template_sha256, source_row=row.row,
                                recipient=IO_TEST_FISCAL_CODE, content_hash=row.content_hash)
    result = send_tests(campaign, settings=_settings(simulator.base_url), ledger_path=ledger_path,
                        recipients=[IO_TEST_FISCAL_CODE], rows=[row])
    assert result.recovered == 1 and result.all_sent
    outcomes = [outcome for _, outcome in _test_sends(ledger_path)]
    assert outcomes == [RowState.AMBIGUOUS.value, RowState.SENT.value]
    with Ledger.open(ledger_path) as ledger:  # the ambiguous one never counts as a test
        assert ledger.test_sends.has_successful(campaign.source_sha256, campaign.template_sha256)
