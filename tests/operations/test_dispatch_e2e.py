"""The dispatch engine against the real simulator over loopback: what users rely on."""

from __future__ import annotations

from pathlib import Path

import pytest
from enginetools import (
    TEMPLATE,
    assert_no_duplicates_outside_ambiguous,
    fast_config,
    write_campaign,
)

from dispatcher.campaign import CampaignSource
from dispatcher.ledger import Ledger
from dispatcher.operations.errors import OperationRefused
from dispatcher.operations.run import RunOptions, run_campaign
from dispatcher.settings import RateSpec, Secret, Settings
from dispatcher.simulator import DEFAULT_KEY, FaultConfig, RatePolicy, running_simulator
from dispatcher.stopping import StopOptions
from dispatcher.vocabulary import ExitCode, RowState


def _settings(base_url: str, rate: str = "400/s", concurrency: int = 16) -> Settings:
    return Settings(base_url=base_url, api_key=Secret(DEFAULT_KEY), rate=RateSpec.parse(rate),
                    concurrency=concurrency, read_timeout=5.0)


def test_every_recipient_gets_exactly_one_message_and_every_row_ends_somewhere(
    tmp_path: Path, simulator
) -> None:
    campaign = CampaignSource(write_campaign(tmp_path / "c.csv", 300), TEMPLATE)
    ledger_path = tmp_path / "run" / "ledger.sqlite"
    summary = run_campaign(campaign, settings=_settings(simulator.base_url),
                           ledger_path=ledger_path, options=RunOptions())
    assert summary.exit_code is ExitCode.OK
    assert summary.unfinished == 0
    assert sum(summary.counts.values()) == 300
    assert summary.counts[RowState.SENT] > 200
    assert summary.counts[RowState.NO_PROFILE] > 0
    assert summary.counts[RowState.SENDER_NOT_ALLOWED] > 0
    inbox = simulator.inbox()
    assert len(inbox) == summary.counts[RowState.SENT]
    assert_no_duplicates_outside_ambiguous(ledger_path, inbox)
    # Only allowed recipients were sent to: two calls per message, one per refusal.
    stats = simulator.stats()
    # the pre-flight's probe, a profile check per row, a submit per sent row
    assert stats["requests_total"] == 1 + 300 + summary.counts[RowState.SENT]

    again = run_campaign(campaign, settings=_settings(simulator.base_url),
                         ledger_path=ledger_path, options=RunOptions())
    assert again.resumed and again.requests == 0
    assert len(simulator.inbox()) == len(inbox)


def test_faults_lose_no_row_and_duplicate_only_what_the_ledger_calls_ambiguous(
    tmp_path: Path,
) -> None:
    faults = FaultConfig(seed=5, error_500_share=0.05, gateway_error_share=0.01,
                         gateway_error_after_store_share=0.01, drop_after_store_share=0.02)
    campaign = CampaignSource(write_campaign(tmp_path / "c.csv", 600, seed=4), TEMPLATE)
    ledger_path = tmp_path / "ledger.sqlite"
    with running_simulator(fast_config(faults=faults)) as sim:
        summary = run_campaign(campaign, settings=_settings(sim.base_url),
                               ledger_path=ledger_path, options=RunOptions())
        inbox = sim.inbox()
        stats = sim.stats()
    assert summary.unfinished == 0 and sum(summary.counts.values()) == 600
    assert stats["faults"].get("drop_after_store", 0) > 0
    assert summary.counts[RowState.AMBIGUOUS] > 0
    assert summary.exit_code is ExitCode.INCOMPLETE
    assert_no_duplicates_outside_ambiguous(ledger_path, inbox)
    # Every message stored behind a lost answer belongs to an ambiguous row, never to a resend.
    assert max(len(m) for m in inbox.values()) == 1


def test_a_429_storm_is_ridden_out_and_the_rate_recovers(tmp_path: Path) -> None:
    campaign = CampaignSource(write_campaign(tmp_path / "c.csv", 100, seed=8), TEMPLATE)
    ledger_path = tmp_path / "ledger.sqlite"
    with running_simulator(fast_config(rate=RatePolicy(limit=25, period_s=1.0))) as sim:
        summary = run_campaign(campaign, settings=_settings(sim.base_url, rate="75/s"),
                               ledger_path=ledger_path, options=RunOptions())
        stats = sim.stats()
        inbox = sim.inbox()
    assert summary.unfinished == 0
    assert summary.counts[RowState.FAILED] == 0
    assert stats["throttled"] > 0 and summary.throttled == stats["throttled"]
    assert_no_duplicates_outside_ambiguous(ledger_path, inbox)
    with Ledger.open(ledger_path) as ledger:
        timeline = ledger.runs.timeline(summary.run_id)
    rates = [sample.current_rate for sample in timeline]
    lowest = min(rates)
    assert lowest < 75 * 0.7  # cut multiplicatively
    assert rates[-1] > lowest  # and growing back afterwards


def test_an_invalid_key_stops_the_run_as_a_configuration_error(tmp_path: Path, simulator) -> None:
    campaign = CampaignSource(write_campaign(tmp_path / "c.csv", 40), TEMPLATE)
    settings = Settings(base_url=simulator.base_url, api_key=Secret("wrong-key"),
                        rate=RateSpec.parse("200/s"))
    with pytest.raises(OperationRefused) as refused:
        run_campaign(campaign, settings=settings, ledger_path=tmp_path / "l.sqlite",
                     options=RunOptions(stops=StopOptions(grace_seconds=5)))
    assert refused.value.exit_code is ExitCode.CONFIG_ERROR
    assert "pre-flight" in refused.value.message and "wrong-key" not in refused.value.message
    assert simulator.inbox() == {}
    assert int(simulator.stats()["requests_total"]) == 1  # the probe, no citizen
    with Ledger.open(tmp_path / "l.sqlite") as ledger:
        assert ledger.campaigns.latest() is None  # nothing recorded, nothing to clean up


@pytest.mark.parametrize("flag", ["resend_ambiguous", "retry_failed"])
def test_operator_flags_requeue_only_what_they_name(tmp_path: Path, flag: str) -> None:
    faults = FaultConfig(seed=9, drop_after_store_share=0.1)
    campaign = CampaignSource(write_campaign(tmp_path / "c.csv", 100, seed=2), TEMPLATE)
    ledger_path = tmp_path / "ledger.sqlite"
    with running_simulator(fast_config(faults=faults)) as sim:
        first = run_campaign(campaign, settings=_settings(sim.base_url), ledger_path=ledger_path,
                             options=RunOptions())
        ambiguous = first.counts[RowState.AMBIGUOUS]
        assert ambiguous > 0
        sim.configure(faults={"drop_after_store_share": 0.0})
        second = run_campaign(campaign, settings=_settings(sim.base_url),
                              ledger_path=ledger_path, options=RunOptions(**{flag: True}))
    if flag == "resend_ambiguous":
        assert second.counts[RowState.AMBIGUOUS] == 0
        assert second.counts[RowState.SENT] == first.counts[RowState.SENT] + ambiguous
    else:  # nothing failed, so nothing is requeued: ambiguous rows stay put
        assert second.counts == first.counts and second.requests == 0


def test_the_encoding_the_file_was_read_in_is_recorded_with_the_campaign(
    tmp_path: Path, simulator
) -> None:
    utf8 = write_campaign(tmp_path / "utf8.csv", 12, seed=4)
    windows = tmp_path / "windows.csv"
    text = utf8.read_text(encoding="utf-8-sig").replace(";Via ", ";Via Città ")
    assert "à" in text  # a byte that is not UTF-8 once saved by Excel on Windows
    windows.write_bytes(text.encode("cp1252"))
    for path, expected in ((utf8, "utf-8"), (windows, "cp1252")):
        ledger_path = tmp_path / f"{path.stem}.sqlite"
        result = run_campaign(CampaignSource(path, TEMPLATE),
                              settings=_settings(simulator.base_url), ledger_path=ledger_path,
                              options=RunOptions(allow_resend=True))
        assert result.exit_code is ExitCode.OK
        with Ledger.open(ledger_path) as ledger:
            assert ledger.campaigns.get(result.campaign_id).encoding == expected
