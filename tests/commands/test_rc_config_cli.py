"""``dispatcher rc-config`` and ``dispatcher simulator open`` as an operator runs them: words or
one JSON document, the exit code, and no key anywhere in what they print."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from enginetools import cli_env, run_cli

from dispatcher.simulator import DEMO_CONFIGURATION_ID, DEMO_KEY, RunningSimulator
from dispatcher.vocabulary import ExitCode

CONTENT_KEY = "cli-content-key-4e2d"
TOML = """\
name = "TARI 2027"
description = "Avvisi TARI"

[prod_environment]
base_url = "https://contenuti.comune.example.it/io"
header_key_name = "X-Api-Key"
key_file = "content.key"
"""


def _env(sim: RunningSimulator, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = cli_env(sim, HOME=str(tmp_path), IO_MANAGE_KEY=DEMO_KEY.key)
    env.update(extra)
    return env


def _file(tmp_path: Path, text: str = TOML) -> Path:
    (tmp_path / "content.key").write_text(CONTENT_KEY, encoding="utf-8")
    path = tmp_path / "rc.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_create_show_list_update_in_json_and_in_words(
        tmp_path: Path, simulator: RunningSimulator) -> None:
    env, path = _env(simulator, tmp_path), _file(tmp_path)
    created = run_cli(["rc-config", "create", str(path), "--json"], env)
    assert created.returncode == ExitCode.OK, created.stderr
    document = json.loads(created.stdout)
    conf_id = document["configuration_id"]
    assert document["ok"] is True and document["exit_code"] == 0 and len(conf_id) == 26
    assert document["configuration"]["prod_environment"]["key"] == "set (never shown)"
    shown = run_cli(["rc-config", "show", conf_id], env)
    assert shown.returncode == ExitCode.OK, shown.stderr
    assert "https://contenuti.comune.example.it/io (header X-Api-Key, key set" in shown.stdout
    listed = run_cli(["rc-config", "list"], env)
    assert conf_id in listed.stdout and DEMO_CONFIGURATION_ID in listed.stdout
    updated = run_cli(["rc-config", "update", DEMO_CONFIGURATION_ID, str(path)], env)
    assert updated.returncode == ExitCode.OK and "Updated configuration" in updated.stdout
    for result in (created, shown, listed, updated):
        assert CONTENT_KEY not in result.stdout + result.stderr
        assert DEMO_KEY.key not in result.stdout + result.stderr


def test_no_manage_key_bad_file_and_unknown_id_have_their_exit_codes(
        tmp_path: Path, simulator: RunningSimulator) -> None:
    env = _env(simulator, tmp_path)
    del env["IO_MANAGE_KEY"]
    missing = run_cli(["rc-config", "list", "--json"], env)
    assert missing.returncode == ExitCode.CONFIG_ERROR
    assert "IO_MANAGE_KEY" in json.loads(missing.stdout)["error"]
    bad = run_cli(["rc-config", "create", str(_file(tmp_path, TOML.replace(
        'key_file = "content.key"', f'key = "{CONTENT_KEY}"')))], _env(simulator, tmp_path))
    assert bad.returncode == ExitCode.INVALID_INPUT
    assert "prod_environment.key" in bad.stderr and CONTENT_KEY not in bad.stderr
    unknown = run_cli(["rc-config", "show", "01J00000000000000000000000", "--json"],
                      _env(simulator, tmp_path))
    assert unknown.returncode == ExitCode.INVALID_INPUT
    assert json.loads(unknown.stdout)["result"] == "not_found"


def test_simulator_open_prints_what_the_app_shows(
        tmp_path: Path, simulator: RunningSimulator) -> None:
    sent = httpx.post(simulator.base_url + "/messages", headers={
        "Ocp-Apim-Subscription-Key": DEMO_KEY.key}, json={
        "fiscal_code": "AAAAAA00A00A000A", "content": {
            "subject": "Promemoria scadenza TARI",
            "markdown": "Gentile cittadino, le ricordiamo la scadenza del pagamento. " * 2}})
    message_id = sent.json()["id"]
    env = _env(simulator, tmp_path)
    opened = run_cli(["simulator", "open", message_id], env)
    assert opened.returncode == ExitCode.OK, opened.stderr
    assert "Subject: Promemoria scadenza TARI" in opened.stdout
    as_json = json.loads(run_cli(["simulator", "open", message_id, "--json"], env).stdout)
    assert as_json["ok"] is True and as_json["subject"] == "Promemoria scadenza TARI"
    unknown = run_cli(["simulator", "open", "01J00000000000000000000000"], env)
    assert unknown.returncode == ExitCode.INVALID_INPUT and "no such message" in unknown.stderr
