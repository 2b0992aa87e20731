"""Which language a command speaks: its --lang, the root's, DISPATCHER_LANG, the locale."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from enginetools import REPO, TEMPLATE, run_cli

from dispatcher.vocabulary import ExitCode

CLEAN = REPO / "sample_data" / "tari_2027_clean.csv"
ENGLISH, ITALIAN = "OK: 200 message(s) ready.", "OK: 200 messaggi pronti."


def _env(**chosen: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("LC_ALL", "LC_MESSAGES", "LANG", "DISPATCHER_LANG")}
    return {**env, **chosen}


@pytest.mark.parametrize(("args", "env", "said"), [
    ([], {"LANG": "C.UTF-8"}, ITALIAN),  # cron's locale says nothing: Italian
    ([], {"LANG": "en_GB.UTF-8"}, ENGLISH),
    ([], {"LANG": "it_IT.UTF-8", "LC_ALL": "en_US.UTF-8"}, ENGLISH),
    ([], {"LANG": "it_IT.UTF-8", "DISPATCHER_LANG": "en"}, ENGLISH),
    (["--lang", "it"], {"DISPATCHER_LANG": "en"}, ITALIAN),  # the root's option
    (["--lang", "en", "@", "--lang", "it"], {}, ITALIAN),  # the command's wins
])
def test_the_language_comes_from_the_nearest_choice(
    args: list[str], env: dict[str, str], said: str
) -> None:
    root, command = (args[:args.index("@")], args[args.index("@") + 1:]) if "@" in args \
        else (args, [])
    done = run_cli([*root, "validate", str(CLEAN), "-t", str(TEMPLATE), *command], _env(**env))
    assert done.returncode == ExitCode.OK, done.stderr
    assert done.stdout.rstrip().endswith(said)


def test_an_unknown_language_is_refused_in_words_and_in_json(tmp_path: Path) -> None:
    done = run_cli(["validate", str(CLEAN), "--lang", "fr"], _env(LANG="en_GB.UTF-8"))
    assert done.returncode == ExitCode.INVALID_INPUT
    assert "--lang must be it or en, not 'fr'" in done.stderr
    assert "Traceback" not in done.stderr
    as_json = run_cli(["validate", str(CLEAN), "--lang", "fr", "--json"], _env())
    document = json.loads(as_json.stdout)
    assert document["exit_code"] == ExitCode.INVALID_INPUT
    assert document["error"] == "--lang must be it or en, not 'fr'"  # JSON stays English


def test_json_output_is_the_same_in_both_languages() -> None:
    documents = [json.loads(run_cli(["validate", str(CLEAN), "-t", str(TEMPLATE), "--json",
                                     "--lang", lang], _env()).stdout) for lang in ("it", "en")]
    assert documents[0] == documents[1]
    assert documents[0]["read_as"] == "CSV, UTF-8, delimiter ';'"
