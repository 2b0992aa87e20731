"""The remote-content commands speak one language: ``--lang it`` no English, ``--lang en`` no
Italian.

The labels looked for come from their own catalog (``remote.po``): every piece of a msgid
between its placeholders that its translation does not share (as in ``test_lang_output``).
``rc-config`` runs against the simulator, ``content prune`` and ``content serve`` on a store
of their own, all as an operator runs them: subprocesses. Their JSON documents stay the same
in both languages.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from enginetools import cli_env, fast_config, run_cli
from langtools import catalog_labels, labels_found

from dispatcher.content.model import Attachment, RemoteContent
from dispatcher.content.store import ContentStore
from dispatcher.i18n import LOCALE_DIR
from dispatcher.simulator import (
    DEMO_CONFIGURATION_ID,
    DEMO_KEY,
    RunningSimulator,
    running_simulator,
)
from dispatcher.vocabulary import ExitCode

CATALOG = LOCALE_DIR / "it" / "LC_MESSAGES" / "remote.po"
CONTENT_KEY = "lang-content-key-7f3a"
UNKNOWN_ID = "01J00000000000000000000000"
REGISTERED = datetime(2026, 1, 10, 9, 0, tzinfo=UTC)  # in the past: prune refuses the future
TOML = """\
name = "TARI 2027"
description = "Avvisi TARI con allegati"

[prod_environment]
base_url = "https://contenuti.comune.example.it/io"
header_key_name = "X-Api-Key"
key_file = "content.key"

[test_environment]
base_url = "https://test.comune.example.it/io"
header_key_name = "X-Api-Key"
key_file = "content.key"
test_users = ["AAAAAA00A00A000A"]
"""


def _labels() -> tuple[set[str], set[str]]:
    return catalog_labels(CATALOG)


def _found(labels: set[str], output: str) -> list[str]:
    return labels_found(labels, output)


def _said(done: subprocess.CompletedProcess[str], tmp: Path) -> str:
    """stdout and stderr, without what is data or code in both languages: paths, flags,
    suggested commands, and the simulator's own words about its demo configuration."""
    lines = [line for line in (done.stdout + "\n" + done.stderr).splitlines()
             if not line.startswith("{")  # JSON log lines: codes, not labels
             and not line.startswith(DEMO_CONFIGURATION_ID)
             and "simulator's key config" not in line]
    text = "\n".join(lines).replace(str(tmp), "<tmp>")
    text = re.sub(r"`dispatcher [^`]*`", "<command>", text)
    text = re.sub(r"<tmp>/\S+", "<path>", text)
    return re.sub(r"--[a-z][\w-]*", "<flag>", text)


def _rc_config(sim: RunningSimulator, tmp: Path, lang: str) -> str:
    """What create, show, list, update and a show of an unknown id print."""
    (tmp / "content.key").write_text(CONTENT_KEY, encoding="utf-8")
    path = tmp / "rc.toml"
    path.write_text(TOML, encoding="utf-8")
    env = cli_env(sim, HOME=str(tmp), IO_MANAGE_KEY=DEMO_KEY.key)
    created = run_cli(["rc-config", "create", str(path), "--lang", lang], env)
    assert created.returncode == ExitCode.OK, created.stderr
    conf_id = re.search(r"\b01[0-9A-Z]{24}\b", created.stdout).group(0)  # type: ignore[union-attr]
    outputs = [created]
    for args in (["show", conf_id], ["list"], ["update", conf_id, str(path)]):
        done = run_cli(["--lang", lang, "rc-config", *args], env)  # the root's option too
        assert done.returncode == ExitCode.OK, done.stderr
        outputs.append(done)
    unknown = run_cli(["rc-config", "show", UNKNOWN_ID, "--lang", lang], env)
    assert unknown.returncode == ExitCode.INVALID_INPUT, unknown.stderr
    outputs.append(unknown)
    documents = [run_cli(["rc-config", *args, "--json", "--lang", language], env).stdout
                 for args in (["list"], ["show", UNKNOWN_ID]) for language in ("it", "en")]
    assert documents[0] == documents[1] and documents[2] == documents[3]  # JSON: neutral
    assert json.loads(documents[2])["result"] == "not_found"
    for result in outputs:
        assert CONTENT_KEY not in result.stdout + result.stderr
        assert DEMO_KEY.key not in result.stdout + result.stderr
    text = "\n".join(_said(done, tmp) for done in outputs)
    return text.replace(conf_id, "<id>").replace(UNKNOWN_ID, "<id>")


def _store(path: Path) -> Path:
    """Two messages registered long ago (one with an attachment), one later."""
    data = b"%PDF-1.7\n" + bytes(i % 251 for i in range(2048))
    pdf = path.with_suffix(".pdf")
    pdf.write_bytes(data)
    attachment = Attachment(id="avviso", name="avviso.pdf", sha256=hashlib.sha256(data)
                            .hexdigest(), size=len(data), url="avviso.pdf", source=pdf)
    with ContentStore.open(path) as store:
        store.register([
            ("RSSMRA80A01H501U", RemoteContent("M-1", "Avviso TARI", "Gentile contribuente.",
                                               attachments=(attachment,))),
            ("RSSMRA80A01H501U", RemoteContent("M-2", "Avviso TARI", "Gentile contribuente.")),
        ], registered_at=REGISTERED)
        store.register([("BNCGPP75C41F205X", RemoteContent("M-3", "Avviso", "Gentile."))],
                       registered_at=REGISTERED + timedelta(days=90))
    return path


def _content(tmp: Path, lang: str) -> str:
    """What prune prints (twice: something, then nothing to remove), a refused --lollipop,
    and serve's banner and notes."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("IO_")}
    env.update(XDG_STATE_HOME=str(tmp / "state"), IO_CONTENT_KEY=CONTENT_KEY)

    def prune(path: Path, *flags: str) -> subprocess.CompletedProcess[str]:
        done = run_cli(["content", "prune", "--before", "2026-02-01", "--content-store",
                        str(path), *flags], env)
        assert done.returncode == ExitCode.OK, done.stderr
        return done

    store = _store(tmp / "content.sqlite")
    outputs = [prune(store, "--lang", lang), prune(store, "--lang", lang)]
    documents = []
    for language in ("it", "en"):  # two stores just alike: the same document
        document = json.loads(prune(_store(tmp / f"{language}.sqlite"), "--json", "--lang",
                                    language).stdout)
        documents.append({**document, "content_store": Path(document["content_store"]).name})
    assert documents[0] == {**documents[1], "content_store": "it.sqlite"}
    assert documents[0]["messages_removed"] == 2 and documents[0]["remaining"] == 1
    bad = run_cli(["content", "serve", "--lollipop", "sometimes", "--lang", lang], env)
    assert bad.returncode == 2, bad.stderr
    outputs += [bad, _serve(tmp / "empty.sqlite", env, lang)]
    return "\n".join(_said(done, tmp) for done in outputs)


def _serve(store: Path, env: dict[str, str], lang: str) -> subprocess.CompletedProcess[str]:
    """``content serve`` on an empty store, beyond loopback (both notes), until SIGTERM."""
    process = subprocess.Popen(
        [sys.executable, "-m", "dispatcher", "content", "serve", "--host", "0.0.0.0",
         "--port", "0", "--content-store", str(store), "--lang", lang],
        env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        port = re.search(r"http://0\.0\.0\.0:(\d+)", banner)
        assert port, banner
        deadline = time.monotonic() + 20
        while True:  # serving (its SIGTERM handler in place) once it answers
            try:
                httpx.get(f"http://127.0.0.1:{port.group(1)}/ready", timeout=5)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the server did not answer"
                time.sleep(0.05)
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    return subprocess.CompletedProcess(process.args, 0, banner + out, err)


def _outputs(tmp: Path, lang: str) -> dict[str, str]:
    with running_simulator(fast_config()) as sim:
        rc_config = _rc_config(sim, _mkdir(tmp / "rc"), lang)
    return {"rc-config": rc_config, "content": _content(_mkdir(tmp / "content"), lang)}


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True)
    return path


@pytest.fixture(scope="module")
def italiano(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return _outputs(tmp_path_factory.mktemp("it"), "it")


@pytest.fixture(scope="module")
def inglese(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return _outputs(tmp_path_factory.mktemp("en"), "en")


def test_the_label_lists_are_built_from_the_catalog() -> None:
    english, italian = _labels()
    assert {"Updated configuration", "key set, never shown", "content server on",
            "message(s) remain"} <= english
    assert {"chiave impostata, mai mostrata", "server dei contenuti su"} <= italian
    assert "lollipop" not in english  # the same in both languages: not a label


@pytest.mark.parametrize("command", ["rc-config", "content"])
def test_italian_output_has_no_english_label(italiano: dict[str, str], command: str) -> None:
    english, _ = _labels()
    assert _found(english, italiano[command]) == [], italiano[command]


@pytest.mark.parametrize("command", ["rc-config", "content"])
def test_english_output_has_no_italian_label(inglese: dict[str, str], command: str) -> None:
    _, italian = _labels()
    assert _found(italian, inglese[command]) == [], inglese[command]


def test_the_italian_output_is_the_italian_one(italiano: dict[str, str]) -> None:
    """Not merely free of English: the sentences, counts and notes are there, in Italian."""
    rc_config, content = italiano["rc-config"], italiano["content"]
    assert "Configurazione <id> creata." in rc_config
    assert "Configurazione <id> aggiornata." in rc_config
    assert ("prod_environment: https://contenuti.comune.example.it/io (header X-Api-Key, "
            "chiave impostata, mai mostrata)") in rc_config
    assert "(disattivato per: nessuno)" in rc_config
    assert "errore: IO ha rifiutato la lettura della configurazione <id> (404)" in rc_config
    assert "2 messaggi registrati prima di 2026-02-01T00:00:00+01:00 rimossi" in content
    assert "1 file allegato non più usato rimosso (2.057 byte). Resta 1 messaggio." in content
    assert "0 messaggi registrati" in content and "0 file allegati" in content
    assert "usare off, accept o required" in content
    assert "archivio <path> (0 messaggi)" in content
    assert "nota: l'archivio <path> non contiene" in content
    assert "nota: in ascolto oltre il loopback" in content


def test_the_english_output_is_the_english_one(inglese: dict[str, str]) -> None:
    rc_config, content = inglese["rc-config"], inglese["content"]
    assert "Updated configuration <id>." in rc_config
    assert "(header X-Api-Key, key set, never shown)" in rc_config
    assert "2 message(s) registered before 2026-02-01T00:00:00+01:00 removed" in content
    assert "(2,057 bytes). 1 message(s) remain." in content
    assert "note: listening beyond loopback" in content
