"""Stopping never turns a row that provably never left into an ambiguous one, nor loses one."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import anyio
import httpx
from enginetools import TEMPLATE, write_campaign

from dispatcher.campaign import Campaign, load_campaign
from dispatcher.ioapi import Client
from dispatcher.ledger import Ledger
from dispatcher.pacing import Pacer
from dispatcher.pipeline import PipelineOptions
from dispatcher.runner import RunOptions, dispatch_pending, open_campaign_in_ledger
from dispatcher.settings import RateSpec
from dispatcher.vocabulary import RowState

Handler = Callable[[httpx.Request], httpx.Response]


def _run(tmp: Path, rows: int, handler: Handler, options: PipelineOptions
         ) -> tuple[Ledger, int, tuple[str | None, str | None]]:
    campaign: Campaign = load_campaign(write_campaign(tmp / "c.csv", rows), template=TEMPLATE)
    ledger = Ledger.open(tmp / "l.sqlite")
    campaign_id, _ = open_campaign_in_ledger(ledger, campaign, RunOptions())
    run_id = ledger.begin_run(campaign_id, rate="test")

    async def go() -> tuple[str | None, str | None]:
        async with Client(base_url="http://io.test", api_key="k", pacer=Pacer(
                RateSpec.parse("1000/s")), transport=httpx.MockTransport(handler)) as client:
            return await dispatch_pending(ledger=ledger, campaign=campaign,
                                          campaign_id=campaign_id, run_id=run_id,
                                          client=client, options=options)

    result = anyio.run(go)
    ledger.recover_interrupted(campaign_id, ledger.begin_run(campaign_id, rate="test"))
    return ledger, campaign_id, result


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
    options = PipelineOptions(concurrency=8, handle_signals=False, grace_seconds=1.0,
                              stop_file=stop)
    ledger, campaign_id, (reason, _) = _run(tmp_path, 30, handler, options)
    assert reason is not None and "stop file" in reason
    counts = ledger.counts(campaign_id)
    assert counts[RowState.AMBIGUOUS] == 0 and counts[RowState.SENDING] == 0
    assert counts[RowState.PENDING] == 30


def test_a_401_on_submit_stops_the_run_and_leaves_the_row_pending(tmp_path: Path) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/profiles":
            return httpx.Response(200, json={"sender_allowed": True})
        return httpx.Response(401, json={"statusCode": 401, "message": "Access denied."})

    options = PipelineOptions(concurrency=4, handle_signals=False, grace_seconds=5)
    ledger, campaign_id, (_, fatal) = _run(tmp_path, 20, handler, options)
    assert fatal is not None and "API key" in fatal
    counts = ledger.counts(campaign_id)
    assert counts[RowState.PENDING] == 20 and counts[RowState.REJECTED] == 0
