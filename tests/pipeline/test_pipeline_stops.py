"""Stopping never turns a row that provably never left into an ambiguous one, nor loses one."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import httpx
from enginetools import TEMPLATE, write_campaign

from dispatcher.campaign import CampaignSource
from dispatcher.ledger import Ledger
from dispatcher.operations.run import RunOptions, run_campaign
from dispatcher.settings import RateSpec, Secret, Settings
from dispatcher.stopping import StopOptions
from dispatcher.vocabulary import RowState

Handler = Callable[[httpx.Request], httpx.Response]


def _run(tmp: Path, rows: int, handler: Handler, stops: StopOptions, concurrency: int
         ) -> tuple[Ledger, int, tuple[str | None, str | None]]:
    source = CampaignSource(write_campaign(tmp / "c.csv", rows), TEMPLATE)
    settings = Settings(base_url="http://io.test", api_key=Secret("pipeline-test-key"),
                        rate=RateSpec.parse("1000/s"), concurrency=concurrency)
    result = run_campaign(source, settings=settings, ledger_path=tmp / "l.sqlite",
                          options=RunOptions(stops=stops, export=False),
                          transport=httpx.MockTransport(handler))
    return Ledger.open(tmp / "l.sqlite"), result.campaign_id, (result.stopped_reason,
                                                               result.fatal)


def test_submits_waiting_out_a_retry_hint_when_the_grace_ends_go_back_to_pending(
    tmp_path: Path,
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/profiles":
            return httpx.Response(200, json={"sender_allowed": True})
        return httpx.Response(429, headers={"x-rate-limit-retry-after": "30"},
                              json={"statusCode": 429, "message": "Rate limit is exceeded."})

    stop = tmp_path / "STOP"
    threading.Timer(0.5, stop.touch).start()
    stops = StopOptions(handle_signals=False, grace_seconds=1.0, stop_file=stop)
    ledger, campaign_id, (reason, _) = _run(tmp_path, 30, handler, stops, 8)
    assert reason is not None and "stop file" in reason
    counts = ledger.rows.counts(campaign_id)
    assert counts[RowState.AMBIGUOUS] == 0 and counts[RowState.SENDING] == 0
    assert counts[RowState.PENDING] == 30


def test_a_401_on_submit_stops_the_run_and_leaves_the_row_pending(tmp_path: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/profiles":
            return httpx.Response(200, json={"sender_allowed": True})
        return httpx.Response(401, json={"statusCode": 401, "message": "Access denied."})

    stops = StopOptions(handle_signals=False, grace_seconds=5)
    ledger, campaign_id, (_, fatal) = _run(tmp_path, 20, handler, stops, 4)
    assert fatal is not None and "API key" in fatal
    counts = ledger.rows.counts(campaign_id)
    assert counts[RowState.PENDING] == 20 and counts[RowState.REJECTED] == 0
