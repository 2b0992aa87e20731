"""`dispatcher run` as a cron job meets it: a subprocess, signals, kill -9, locks, exit codes."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest
from enginetools import (
    TEMPLATE,
    TERMINAL,
    assert_no_duplicates_outside_ambiguous,
    cli_env,
    fast_config,
    ledger_rows,
    ledger_states,
    run_cli,
    start_cli,
    wait_for_decided,
    write_campaign,
)

from dispatcher.ledger import RunLock, open_for_reading
from dispatcher.simulator import DEFAULT_KEY, FaultConfig, running_simulator
from dispatcher.vocabulary import ExitCode


def test_kill_9_at_several_points_loses_no_row_and_sends_nothing_twice(tmp_path: Path) -> None:
    campaign = write_campaign(tmp_path / "c.csv", 2000, seed=21)
    ledger = tmp_path / "run" / "ledger.sqlite"
    args = ["run", str(campaign), "--template", str(TEMPLATE), "--ledger", str(ledger),
            "--rate", "300/s", "--concurrency", "16"]
    faults = FaultConfig(latency_ms=5, jitter_ms=5, endpoints=frozenset({"messages",
                                                                         "profiles"}))
    with running_simulator(fast_config(faults=faults)) as sim:
        env = cli_env(sim)
        kills = 0
        for point in (150, 700, 1300):
            process = start_cli(args, env, tmp_path / "run.log")
            wait_for_decided(ledger, point, process)
            if process.poll() is None:
                process.send_signal(signal.SIGKILL)
                kills += 1
            process.wait(timeout=30)
        assert kills == 3, "a run finished before it could be killed"
        final = run_cli(args, env)
        assert final.returncode in (ExitCode.OK, ExitCode.INCOMPLETE), final.stderr[-2000:]
        inbox = sim.inbox()
    rows = ledger_rows(ledger)
    assert [r for r, *_ in rows] == list(range(2, 2002))  # no row lost
    assert {state for _, _, state, _ in rows} <= TERMINAL
    assert_no_duplicates_outside_ambiguous(ledger, inbox)
    with open_for_reading(ledger) as opened:  # the killed runs kept their timeline
        runs = opened.runs.of_campaign(1)
        killed = [run for run in runs if run.finished_at is None]
        assert len(killed) == 3
        for run in killed:
            assert run.requests > 0 and run.last_second is not None
            assert sum(s.requests for s in opened.runs.timeline(run.run_id)) == run.requests


def test_sigterm_drains_in_flight_requests_and_the_rerun_finishes(tmp_path: Path) -> None:
    campaign = write_campaign(tmp_path / "c.csv", 400, seed=5)
    ledger = tmp_path / "ledger.sqlite"
    args = ["run", str(campaign), "--template", str(TEMPLATE), "--ledger", str(ledger),
            "--rate", "100/s"]
    faults = FaultConfig(latency_ms=150, endpoints=frozenset({"messages"}))
    with running_simulator(fast_config(faults=faults)) as sim:
        env = cli_env(sim)
        log = tmp_path / "run.log"
        process = start_cli(args, env, log)
        wait_for_decided(ledger, 60, process)
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
        assert process.returncode == ExitCode.STOPPED, log.read_text()[-2000:]
        states = ledger_states(ledger)
        assert "sending" not in states and states.get("ambiguous", 0) == 0  # drained, not cut
        assert states.get("pending", 0) > 0
        final = run_cli(args, env)
        assert final.returncode == ExitCode.OK, final.stderr[-2000:]
        inbox = sim.inbox()
    assert_no_duplicates_outside_ambiguous(ledger, inbox)
    assert "pending" not in ledger_states(ledger)


def test_a_second_run_on_the_same_ledger_is_refused_and_names_the_holder(
    tmp_path: Path, simulator
) -> None:
    campaign = write_campaign(tmp_path / "c.csv", 10)
    ledger = tmp_path / "ledger.sqlite"
    with RunLock(ledger):
        result = run_cli(["run", str(campaign), "--template", str(TEMPLATE), "--ledger",
                          str(ledger)], cli_env(simulator))
    assert result.returncode == ExitCode.LOCKED, result.stderr
    assert f"pid {os.getpid()}" in result.stderr
    assert simulator.stats()["requests_total"] == 0


def test_a_changed_input_is_refused_while_the_campaign_is_unfinished(
    tmp_path: Path, simulator
) -> None:
    campaign = write_campaign(tmp_path / "c.csv", 30)
    ledger = tmp_path / "ledger.sqlite"
    stop = tmp_path / "STOP"
    stop.touch()  # the run stops before sending anything: an unfinished campaign
    args = ["run", str(campaign), "--template", str(TEMPLATE), "--ledger", str(ledger)]
    first = run_cli([*args, "--stop-file", str(stop)], cli_env(simulator))
    assert first.returncode == ExitCode.STOPPED, first.stderr
    write_campaign(campaign, 31)
    changed = run_cli(args, cli_env(simulator))
    assert changed.returncode == ExitCode.INVALID_INPUT
    assert "changed" in changed.stderr and "--new-campaign" in changed.stderr
    switched = run_cli([*args, "--new-campaign"], cli_env(simulator))
    assert switched.returncode == ExitCode.OK, switched.stderr[-2000:]


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("no_key", ExitCode.CONFIG_ERROR),
        ("bad_rate", ExitCode.CONFIG_ERROR),
        ("invalid_rows", ExitCode.INVALID_INPUT),
        ("missing_file", ExitCode.INVALID_INPUT),
        ("ambiguous_rows", ExitCode.INCOMPLETE),
    ],
)
def test_exit_codes(tmp_path: Path, case: str, expected: ExitCode) -> None:
    campaign = write_campaign(tmp_path / "c.csv", 40)
    args = ["run", str(campaign), "--template", str(TEMPLATE), "--ledger",
            str(tmp_path / "l.sqlite"), "--rate", "200/s"]
    faults = FaultConfig(seed=1, drop_after_store_share=0.3 if case == "ambiguous_rows" else 0)
    with running_simulator(fast_config(faults=faults)) as sim:
        env = cli_env(sim)
        if case == "no_key":
            env.pop("IO_API_KEY")
        elif case == "bad_rate":
            args += ["--rate", "fast"]
        elif case == "invalid_rows":
            text = campaign.read_text(encoding="utf-8-sig").replace("31/01/2027", "31/02/2027", 1)
            campaign.write_text(text, encoding="utf-8")
        elif case == "missing_file":
            args[1] = str(tmp_path / "nope.csv")
        result = run_cli(args, env)
        if expected in (ExitCode.CONFIG_ERROR, ExitCode.INVALID_INPUT):
            assert sim.stats()["requests_total"] == 0  # nothing sent
    assert result.returncode == expected, result.stdout[-1500:] + result.stderr[-1500:]
    assert "Traceback" not in result.stderr


def test_logs_never_show_the_key_nor_a_whole_fiscal_code(tmp_path: Path, simulator) -> None:
    campaign = write_campaign(tmp_path / "c.csv", 60)
    codes = [line.split(";")[0] for line in
             campaign.read_text(encoding="utf-8-sig").splitlines()[1:]]
    result = run_cli(["run", str(campaign), "--template", str(TEMPLATE), "--ledger",
                      str(tmp_path / "l.sqlite"), "--rate", "200/s", "--json"],
                     cli_env(simulator, DISPATCHER_LOG_LEVEL="debug"))  # a line per row
    assert result.returncode == ExitCode.OK, result.stderr[-2000:]
    output = result.stdout + result.stderr
    assert DEFAULT_KEY not in output
    assert not [c for c in codes if c in output]
    decided = [json.loads(line) for line in result.stderr.splitlines()
               if line.startswith("{") and "row_decided" in line]
    assert len(decided) == 60 and all("*******" in d["fiscal_code"] for d in decided)
    summary = json.loads(result.stdout)
    assert summary["outcomes"]["sent"] + summary["outcomes"]["no_profile"] + \
        summary["outcomes"]["sender_not_allowed"] == 60
