"""``dispatcher check`` as an operator runs it: what it checked, in words or JSON, and the exit
code (0 fine, 4 the configuration, 75 try again later), against the simulator on loopback."""

from __future__ import annotations

import json
import socket
from pathlib import Path

from enginetools import cli_env, run_cli

from dispatcher.simulator import RunningSimulator
from dispatcher.vocabulary import ExitCode


def _env(simulator: RunningSimulator, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = cli_env(simulator, HOME=str(tmp_path), XDG_STATE_HOME=str(tmp_path / "state"))
    env.update(extra)
    return env


def test_check_says_what_it_checked_and_passes_against_the_simulator(
    tmp_path: Path, simulator: RunningSimulator
) -> None:
    result = run_cli(["check"], _env(simulator, tmp_path))
    assert result.returncode == ExitCode.OK, result.stderr
    out = result.stdout
    assert simulator.base_url in out and "present, valid (never shown)" in out
    assert "200: a profile, sender_allowed=true" in out and "URL, key and service work" in out
    as_json = run_cli(["check", "--json"], _env(simulator, tmp_path))
    assert as_json.returncode == ExitCode.OK, as_json.stderr
    data = json.loads(as_json.stdout)
    assert data["ok"] is True and data["exit_code"] == 0
    assert data["key"] == {"present": True, "source": "IO_API_KEY", "valid": True}
    assert data["probe"]["verdict"] == "ok" and data["probe"]["http_status"] == 200
    stats = simulator.stats()  # one profile check per command, nothing sent
    assert stats["by_endpoint"] == {"profiles": {"200": 2}} and stats["messages_stored"] == 0


def test_a_wrong_key_is_exit_4_with_the_diagnosis_and_never_shown(
    tmp_path: Path, simulator: RunningSimulator
) -> None:
    result = run_cli(["check"], _env(simulator, tmp_path, IO_API_KEY="not-the-key-4242"))
    assert result.returncode == ExitCode.CONFIG_ERROR
    assert "IO refused the API key" in result.stderr and "Nothing was sent" in result.stderr
    assert "not-the-key-4242" not in result.stdout + result.stderr


def test_a_base_url_without_api_v1_is_exit_4_with_a_warning_naming_the_fix(
    tmp_path: Path, simulator: RunningSimulator
) -> None:
    root = simulator.base_url.removesuffix("/api/v1")
    result = run_cli(["check", "--json"], _env(simulator, tmp_path, IO_BASE_URL=root))
    assert result.returncode == ExitCode.CONFIG_ERROR
    data = json.loads(result.stdout)
    assert data["probe"]["verdict"] == "not_io"
    assert data["warnings"] == [f"the path is '/', IO's API lives under /api/v1: did you mean "
                                f"{root}/api/v1?"]
    assert "does not reach IO's API (wrong path?)" in result.stderr


def test_a_base_url_without_scheme_is_refused_before_any_request(
    tmp_path: Path, simulator: RunningSimulator
) -> None:
    bare = simulator.base_url.removeprefix("http://")
    result = run_cli(["check"], _env(simulator, tmp_path, IO_BASE_URL=bare))
    assert result.returncode == ExitCode.CONFIG_ERROR
    assert f"has no scheme: did you mean https://{bare}?" in result.stderr
    assert "probe     not tried" in result.stdout


def test_nothing_listening_is_exit_75_cannot_reach_the_host(
    tmp_path: Path, simulator: RunningSimulator
) -> None:
    with socket.socket() as sock:  # a port that was free a moment ago, now closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/api/v1"
    result = run_cli(["check"], _env(simulator, tmp_path, IO_BASE_URL=url))
    assert result.returncode == ExitCode.STOPPED, result.stderr
    assert f"cannot reach 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


def test_check_is_listed_after_validate_in_the_help(tmp_path: Path,
                                                    simulator: RunningSimulator) -> None:
    helped = run_cli(["--help"], _env(simulator, tmp_path))
    assert helped.returncode == 0
    text = helped.stdout
    assert "check" in text and text.index("validate") < text.index(" check ")
