"""``dispatcher simulator``: every knob documented, flags reach the config, Ctrl+C stops it."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import httpx
import pytest
import typer
from simtools import ALLOWED_CF
from typer.testing import CliRunner

from dispatcher.commands.simulator import build_config, command
from dispatcher.simulator import ConfigError, RatePolicy
from dispatcher.vocabulary import ExitCode

# The real CLI registers ``command`` as ``dispatcher simulator``; a one-command app keeps
# these tests independent of the other commands' modules.
APP_SOURCE = textwrap.dedent("""
    import typer
    from dispatcher.commands.simulator import command
    app = typer.Typer(add_completion=False)
    app.command("simulator")(command)
    @app.callback()
    def root() -> None:
        pass
""")


def _app() -> typer.Typer:
    app = typer.Typer(add_completion=False)
    app.command("simulator")(command)

    @app.callback()
    def root() -> None:
        """A one-command stand-in for ``dispatcher``."""

    return app


def test_every_option_has_help_and_shows_in_help_output() -> None:
    result = CliRunner().invoke(_app(), ["simulator", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    click_command = typer.main.get_command(_app()).commands["simulator"]  # type: ignore[attr-defined]
    options = [p for p in click_command.params if isinstance(p, typer.core.TyperOption)]
    assert len(options) >= 20
    for option in options:
        assert option.help, f"{option.name} has no help"
        assert option.opts[0] in result.output
    for topic in ("demo-key", "/__sim__/", "IO_BASE_URL", "0 = unlimited"):
        assert topic in result.output


def test_flags_become_the_config() -> None:
    config = build_config(
        rate="10/1s", ente_rate=["comune=250/5s"], seed=3, share_missing=0.5,
        share_blocked=0.25, processing_delay=0.0, latency_ms=5.0, jitter_ms=2.0,
        jitter="uniform", reset_before=0.1, gateway_errors=0.1, errors_500=0.1,
        gateway_errors_after_store=0.1, drop_after_store=0.1, processing_failures=0.2,
        fault_endpoints="messages,profiles", max_payment_amount=500,
    )
    assert config.rate == RatePolicy(10, 1.0)
    assert config.rate_for("comune") == RatePolicy(250, 5.0)
    assert (config.population.seed, config.faults.seed) == (3, 3)
    assert config.population.share_missing == 0.5
    assert config.faults.endpoints == frozenset({"messages", "profiles"})
    assert config.faults.drop_after_store_share == 0.1
    assert config.processing_delay_s == 0.0
    assert [k.max_allowed_payment_amount for k in config.keys] == [500]
    assert config.keys[0].premium_write  # the demo key keeps its other permissions


def test_no_flags_mean_the_documented_defaults() -> None:
    config = build_config()
    assert [k.key for k in config.keys] == ["demo-key"]
    assert config.rate == RatePolicy(150, 5.0)
    assert config.faults.any_response_fault is False


def test_a_keys_file_replaces_the_demo_key(tmp_path: Path) -> None:
    keys = tmp_path / "keys.json"
    keys.write_text('{"keys": [{"key": "k", "ente": "e", "service_id": "s"}]}',
                    encoding="utf-8")
    assert [k.key for k in build_config(keys_file=keys).keys] == ["k"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--rate", "lots"], "is not like '150/5s'"),
        (["--ente-rate", "comune"], "ENTE=RATE"),
        (["--errors-500", "0.7", "--drop-after-store", "0.7"], "more than 1"),
        (["--fault-endpoints", "messages,everything"], "unknown"),
        (["--jitter", "normal"], "exponential"),
        (["--keys-file", "/nonexistent.toml"], "cannot read"),
        (["--population-file", "/nonexistent.csv"], "cannot read population file"),
        (["--host", "192.0.2.1", "--port", "0"], "cannot listen"),  # TEST-NET: not ours
    ],
)
def test_bad_flags_are_one_line_config_errors(args: list[str], message: str) -> None:
    result = CliRunner().invoke(_app(), ["simulator", *args], env={"COLUMNS": "200"})
    assert result.exit_code == ExitCode.CONFIG_ERROR, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_build_config_reports_config_errors_as_such() -> None:
    with pytest.raises(ConfigError):
        build_config(share_missing=2.0)


@pytest.mark.slow
def test_the_command_serves_until_interrupted() -> None:
    process = subprocess.Popen(
        [sys.executable, "-c", APP_SOURCE + "\napp()\n", "simulator", "--port", "0",
         "--rate", "5/60s", "--processing-delay", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("IO simulator: http://127.0.0.1:"), line
        base_url = line.split()[2]
        response = httpx.post(f"{base_url}/profiles", json={"fiscal_code": ALLOWED_CF},
                              headers={"Ocp-Apim-Subscription-Key": "demo-key"}, timeout=10)
        assert response.headers["x-rate-limit-remaining"] == "4"
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.stderr is not None
    assert "Traceback" not in process.stderr.read()


def test_command_is_the_registered_callable() -> None:
    assert callable(command)
    assert command.__doc__ and "demo-key" in command.__doc__
