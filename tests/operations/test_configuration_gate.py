"""``run`` asks IO about the campaign's remote-content configuration before the first submit.

* With a manage key: a configuration without a production environment, or one IO does not
  know, stops the run with exit 4 and nothing sent; once it points at a server, the run sends.
* Without a manage key the run goes on and logs what it could not check.
* A test send warns when the tester is not among the configuration's ``test_users``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from enginetools import cli_env, fast_config, run_cli
from ulid import ULID

from dispatcher.campaign import CampaignSource
from dispatcher.operations.errors import OperationRefused
from dispatcher.operations.rc_config import load_configuration_file, update_configuration
from dispatcher.operations.run import RunOptions, RunResult, run_campaign
from dispatcher.settings import RateSpec, Secret, Settings
from dispatcher.simulator import DEFAULT_KEY, DEMO_CONFIGURATION_ID, running_simulator
from dispatcher.stopping import StopOptions
from dispatcher.vocabulary import ExitCode

SAMPLE = Path(__file__).resolve().parents[2] / "sample_data"
RC_TOML = """\
name = "TARI 2027"
description = "Avvisi TARI con allegati"
has_precondition = "ONCE"
[prod_environment]
base_url = "https://contenuti.comune.example.it/io"
header_key_name = "X-Functions-Key"
key_env = "GATE_TEST_CONTENT_KEY"
[test_environment]
base_url = "https://test.comune.example.it/io"
header_key_name = "X-Functions-Key"
key_env = "GATE_TEST_CONTENT_KEY"
test_users = ["BRBMRC45D25H501R"]
"""


def _campaign(folder: Path, configuration_id: str = DEMO_CONFIGURATION_ID) -> CampaignSource:
    for name in ("referto_remoto.csv", "avviso_tari.pdf"):
        shutil.copy(SAMPLE / name, folder / name)
    template = (SAMPLE / "referto_remoto.toml").read_text(encoding="utf-8")
    (folder / "referto.toml").write_text(template.replace(DEMO_CONFIGURATION_ID,
                                                          configuration_id), encoding="utf-8")
    return CampaignSource(folder / "referto_remoto.csv", folder / "referto.toml")


def _settings(base_url: str, tmp_path: Path, *, manage: bool) -> Settings:
    return Settings(base_url=base_url, api_key=Secret(DEFAULT_KEY),
                    manage_key=Secret(DEFAULT_KEY if manage else ""),
                    rate=RateSpec.parse("1000/s"), content_store=tmp_path / "content.sqlite")


def _run(source: CampaignSource, settings: Settings, ledger: Path) -> RunResult:
    return run_campaign(source, settings=settings, ledger_path=ledger,
                        options=RunOptions(stops=StopOptions(handle_signals=False),
                                           export=False))


def test_a_configuration_without_environment_stops_the_run_until_it_points_somewhere(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = _campaign(tmp_path)
    with running_simulator(fast_config()) as sim:
        settings = _settings(sim.base_url, tmp_path, manage=True)
        with pytest.raises(OperationRefused) as refused:
            _run(source, settings, tmp_path / "ledger.sqlite")
        assert refused.value.exit_code == ExitCode.CONFIG_ERROR
        assert DEMO_CONFIGURATION_ID in refused.value.message
        assert sim.inbox() == {}
        monkeypatch.setenv("GATE_TEST_CONTENT_KEY", "content-key-for-the-gate-test")
        (tmp_path / "rc.toml").write_text(RC_TOML, encoding="utf-8")
        body = load_configuration_file(tmp_path / "rc.toml")
        assert update_configuration(settings, DEMO_CONFIGURATION_ID, body).exit_code == 0
        result = _run(source, settings, tmp_path / "ledger.sqlite")
        assert result.counts["sent"] > 0 and len(sim.inbox()) == result.counts["sent"]


def test_an_unknown_configuration_sends_nothing(tmp_path: Path) -> None:
    source = _campaign(tmp_path, str(ULID()))
    with running_simulator(fast_config()) as sim:
        with pytest.raises(OperationRefused) as refused:
            _run(source, _settings(sim.base_url, tmp_path, manage=True),
                 tmp_path / "ledger.sqlite")
        assert refused.value.exit_code == ExitCode.CONFIG_ERROR
        assert sim.inbox() == {}


def test_without_a_manage_key_the_run_says_what_it_could_not_check(tmp_path: Path) -> None:
    source = _campaign(tmp_path)
    with running_simulator(fast_config()) as sim:
        done = run_cli(["run", str(source.path), "-t", str(source.template), "--yes",
                        "--content-store", str(tmp_path / "content.sqlite")],
                       cli_env(sim, XDG_STATE_HOME=str(tmp_path / "state")))
        sent = sum(len(m) for m in sim.inbox().values())
    assert done.returncode in (0, 3), done.stderr
    assert "configuration_not_checked" in done.stderr and sent > 0


def test_a_tester_outside_test_users_is_warned(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    source = _campaign(tmp_path)
    monkeypatch.setenv("GATE_TEST_CONTENT_KEY", "content-key-for-the-gate-test")
    (tmp_path / "rc.toml").write_text(RC_TOML, encoding="utf-8")
    with running_simulator(fast_config()) as sim:
        settings = _settings(sim.base_url, tmp_path, manage=True)
        body = load_configuration_file(tmp_path / "rc.toml")
        assert update_configuration(settings, DEMO_CONFIGURATION_ID, body).exit_code == 0
        env = cli_env(sim, XDG_STATE_HOME=str(tmp_path / "state"), IO_MANAGE_KEY=DEFAULT_KEY)
        args = ["test", str(source.path), "-t", str(source.template), "--rows", "2",
                "--content-store", str(tmp_path / "content.sqlite"),
                "--ledger", str(tmp_path / "ledger.sqlite")]
        outside = run_cli([*args, "--to", "AAAAAA00A00A000A"], env)
        inside = run_cli([*args, "--to", "BRBMRC45D25H501R"], env)
    assert outside.returncode == 0, outside.stderr
    assert "tester_not_a_test_user" in outside.stderr
    assert inside.returncode == 0, inside.stderr
    assert "tester_not_a_test_user" not in inside.stderr
