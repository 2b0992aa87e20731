"""Mistakes that hit every row, outages and answers that are not IO's, over loopback.

* A service whose every first submit is refused the same way (a payment cap of 0) or a base
  URL whose every first profile check is APIM's 404 stops within a few requests, exit 4,
  with every untried row still pending; ``--retry-failed`` resends the refused after the fix.
* The gateway down for 20 s: rows whose requests never left stay pending, never ``failed``,
  and the same command again finishes the campaign.
* A proxy answering ``200 text/html`` to ``POST /messages``: ``ambiguous``, never ``sent``.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import replace
from pathlib import Path

import pytest
import uvicorn
from enginetools import (
    TEMPLATE,
    assert_no_duplicates_outside_ambiguous,
    cli_env,
    fast_config,
    ledger_rows,
    ledger_states,
    run_cli,
    write_campaign,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route

from dispatcher.campaign import CampaignSource
from dispatcher.operations.errors import OperationRefused
from dispatcher.operations.run import RunOptions, RunResult, run_campaign
from dispatcher.operations.status import StatusOptions, check_statuses
from dispatcher.settings import RateSpec, Secret, Settings
from dispatcher.simulator import DEFAULT_KEY, running_simulator, simulator_state
from dispatcher.simulator.config import DEMO_KEY
from dispatcher.simulator.server import bind_socket
from dispatcher.stopping import SYSTEMATIC_AFTER, FirstAnswers, StopOptions
from dispatcher.vocabulary import ExitCode, RowState


def _settings(base_url: str) -> Settings:
    return Settings(base_url=base_url, api_key=Secret(DEFAULT_KEY),
                    rate=RateSpec.parse("1000/s"), concurrency=16)


def _run(campaign: Path, base_url: str, ledger: Path, **options: object) -> RunResult:
    return run_campaign(CampaignSource(campaign, TEMPLATE), settings=_settings(base_url),
                        ledger_path=ledger,
                        options=RunOptions(stops=StopOptions(handle_signals=False),
                                           **options))  # type: ignore[arg-type]


def test_a_payment_cap_of_zero_stops_after_a_few_submits_with_the_rest_pending(
    tmp_path: Path,
) -> None:
    campaign = write_campaign(tmp_path / "tari.csv", 120, seed=2)
    capped = replace(DEMO_KEY, max_allowed_payment_amount=0)
    with running_simulator(fast_config(keys=(capped,))) as sim:
        result = _run(campaign, sim.base_url, tmp_path / "l.sqlite")
        assert result.exit_code == ExitCode.CONFIG_ERROR
        assert result.fatal is not None and "payment amount over the service's cap" in (
            result.fatal)
        assert f"the first {SYSTEMATIC_AFTER} message submits" in result.fatal
        states = ledger_states(tmp_path / "l.sqlite")
        assert states.get("rejected") == SYSTEMATIC_AFTER
        assert states.get("pending", 0) >= 100  # not tried: nothing burnt
        assert "failed" not in states and "sent" not in states
        assert int(sim.stats()["requests"].get("messages", 0)) == SYSTEMATIC_AFTER

        sim.configure(keys=[{"key": DEFAULT_KEY, "max_allowed_payment_amount": 9_999_999_999,
                             "payee": True, "premium_write": True, "third_party": True}])
        fixed = _run(campaign, sim.base_url, tmp_path / "l.sqlite", retry_failed=True)
        assert fixed.exit_code == ExitCode.OK, fixed.fatal
        inbox = sim.inbox()
    assert_no_duplicates_outside_ambiguous(tmp_path / "l.sqlite", inbox)
    assert "pending" not in ledger_states(tmp_path / "l.sqlite")


def test_a_base_url_without_api_v1_stops_before_any_citizen(tmp_path: Path) -> None:
    """The pre-flight's probe meets APIM's 404: exit 4, one request, no row touched."""
    campaign = write_campaign(tmp_path / "tari.csv", 200, seed=3)
    with running_simulator(fast_config()) as sim:
        wrong = sim.base_url.removesuffix("/api/v1")
        with pytest.raises(OperationRefused) as refused:
            _run(campaign, wrong, tmp_path / "l.sqlite")
        assert sim.inbox() == {}
    assert refused.value.exit_code == ExitCode.CONFIG_ERROR
    assert "/api/v1" in refused.value.message
    assert ledger_states(tmp_path / "l.sqlite") == {}  # every row still to do


def test_refusals_that_hit_every_row_stop_the_stage_within_a_few_requests() -> None:
    """Past the pre-flight (e.g. a permission the probe cannot see): the first answers."""
    first = FirstAnswers("profile check")
    verdicts = [first.refused(404, None, "Resource not found") for _ in range(SYSTEMATIC_AFTER)]
    assert verdicts[:-1] == [None] * (SYSTEMATIC_AFTER - 1) and not first.learning
    assert verdicts[-1] is not None and "/api/v1" in verdicts[-1]
    mixed = FirstAnswers("message submit")
    assert mixed.refused(403, "Recipient forbidden", None) is None
    assert mixed.refused(400, "Invalid message", None) is None
    assert not mixed.learning  # refusals that differ are the citizens' business
    good = FirstAnswers("message submit")
    good.proven()
    assert not good.learning


# -- an outage ---------------------------------------------------------------------------


def test_the_gateway_down_for_20_s_leaves_no_row_failed_and_a_rerun_finishes(
    tmp_path: Path,
) -> None:
    campaign = write_campaign(tmp_path / "tari.csv", 400, seed=9)
    ledger = tmp_path / "l.sqlite"
    with running_simulator(fast_config()) as first:
        port = first.port
        env = cli_env(first)
        args = [sys.executable, "-m", "dispatcher", "run", str(campaign), "--template",
                str(TEMPLATE), "--ledger", str(ledger), "--rate", "40/s"]
        log = tmp_path / "run.log"  # a file, not a pipe: a full pipe would block the run
        with log.open("w") as sink:
            process = subprocess.Popen(args, env=env, text=True, stdout=sink, stderr=sink)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(first.inbox()) < 40:
            time.sleep(0.1)
        app = first.app
    down_since = time.monotonic()  # connection refused from now on
    # what the first gateway stored, read from its state once its server has stopped
    before = {code: [m.inbox_entry() for m in messages]
              for code, messages in simulator_state(app).store.recipients()}
    time.sleep(max(0.0, 20 - (time.monotonic() - down_since)))
    with running_simulator(fast_config(), port=port) as second:
        code = process.wait(timeout=120)
        stopped = ledger_states(ledger)
        rerun = run_cli(args[3:], env)
        after = second.inbox()
    # the breaker stopped the first run: the rows that could not reach IO wait, pending
    assert code == ExitCode.STOPPED, log.read_text()[-2000:]
    assert "failed" not in stopped and stopped.get("pending", 0) > 0, stopped
    assert rerun.returncode in (ExitCode.OK, ExitCode.INCOMPLETE), rerun.stderr[-2000:]
    states = ledger_states(ledger)
    assert "failed" not in states, states
    assert not {"pending", "sending"} & set(states), states
    inbox = {code: before.get(code, []) + after.get(code, []) for code in {*before, *after}}
    assert_no_duplicates_outside_ambiguous(ledger, inbox)
    # only a request cut off as the server went away may be in doubt
    assert states.get("ambiguous", 0) <= 16


# -- a proxy in front of IO ----------------------------------------------------------------


async def _profile(request: Request) -> JSONResponse:
    return JSONResponse({"sender_allowed": True, "preferred_languages": ["it_IT"]})


async def _portal(request: Request) -> HTMLResponse:
    return HTMLResponse("<html><body><h1>Benvenuto</h1>Portale del comune</body></html>")


@contextmanager
def _proxy_page() -> Iterator[str]:
    """A gateway that answers profile checks like IO and submits with an HTML page."""
    app = Starlette(routes=[Route("/api/v1/profiles", _profile, methods=["POST"]),
                            Route("/api/v1/messages", _portal, methods=["POST"])])
    sock = bind_socket("127.0.0.1", 0)
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, log_level="warning",
                                           lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/api/v1"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


def test_an_html_page_in_answer_to_a_submit_is_ambiguous_never_sent(tmp_path: Path) -> None:
    """Not IO's answer: never ``sent``; on every first submit, a mistake that stops the run."""
    campaign = write_campaign(tmp_path / "tari.csv", 32, seed=5)
    with _proxy_page() as base_url:
        result = _run(campaign, base_url, tmp_path / "l.sqlite")
        status = check_statuses(settings=_settings(base_url), ledger_path=tmp_path / "l.sqlite",
                                options=StatusOptions(min_age_s=0))
    assert result.counts[RowState.SENT] == 0
    assert result.counts[RowState.AMBIGUOUS] == SYSTEMATIC_AFTER  # then the stop
    assert result.exit_code == ExitCode.CONFIG_ERROR
    assert result.fatal is not None and "something other than IO answers" in result.fatal
    assert result.counts[RowState.PENDING] == 32 - SYSTEMATIC_AFTER - result.counts[
        RowState.NO_PROFILE] - result.counts[RowState.SENDER_NOT_ALLOWED]
    # nothing to ask IO about, and that is not "settled": the ambiguous rows need attention
    assert (status.asked, status.open_after, status.unfollowable) == (0, 0, SYSTEMATIC_AFTER)
    assert status.exit_code == ExitCode.INCOMPLETE
    rows = ledger_rows(tmp_path / "l.sqlite")
    assert all(message_id is None for *_, message_id in rows)
    with closing(sqlite3.connect(f"file:{tmp_path / 'l.sqlite'}?mode=ro", uri=True)) as db:
        details = {d for (d,) in db.execute("SELECT detail FROM rows WHERE state='ambiguous'")}
    assert len(details) == 1
    (detail,) = details
    assert detail.startswith("unexpected answer from the gateway: HTTP 200 (text/html)")


def test_a_payment_cap_above_zero_refuses_only_the_rows_above_it(tmp_path: Path) -> None:
    """Large amounts first against a real cap: the citizens' amounts, not a setup mistake."""
    campaign = write_campaign(tmp_path / "tari.csv", 60, seed=7)
    lines = campaign.read_text(encoding="utf-8-sig").splitlines()
    header, rows = lines[0], lines[1:]
    amount = header.split(";").index("importo")
    rows.sort(key=lambda line: -int(line.split(";")[amount]))
    campaign.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    cap = sorted(int(line.split(";")[amount]) for line in rows)[len(rows) // 2]
    capped = replace(DEMO_KEY, max_allowed_payment_amount=cap)
    with running_simulator(fast_config(keys=(capped,))) as sim:
        result = _run(campaign, sim.base_url, tmp_path / "l.sqlite")
    assert result.fatal is None, result.fatal
    assert result.counts[RowState.REJECTED] >= SYSTEMATIC_AFTER  # the first ones all refused
    assert result.counts[RowState.SENT] > 0 and result.counts[RowState.PENDING] == 0
