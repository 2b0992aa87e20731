"""``dispatcher content serve|prune`` as an operator runs them: a process, its env, its exit."""

from __future__ import annotations

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
from contenttools import CITIZEN, KEY, REGISTERED, content, headers, registered_store, write_pdf

from dispatcher.content.store import ContentStore
from dispatcher.operations.content import content_store_path, parse_before
from dispatcher.settings import load_settings


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IO_")}
    env.update(XDG_STATE_HOME=str(tmp_path / "state"), **extra)
    return env


def _cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dispatcher", "content", *args], env=env,
                          text=True, capture_output=True, timeout=60, check=False)


def test_prune_says_how_many_messages_it_made_unreadable(tmp_path: Path) -> None:
    store = registered_store(tmp_path / "content.sqlite", write_pdf(tmp_path / "a.pdf"))
    with ContentStore.open(store) as opened:
        opened.register([(CITIZEN, content("LATER"))],
                        registered_at=REGISTERED + timedelta(days=90))
    done = _cli(["prune", "--before", "2026-02-01", "--content-store", str(store), "--json"],
                _env(tmp_path))
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert (document["unreadable"], document["blobs_removed"], document["remaining"]) == (3, 1, 1)
    assert document["exit_code"] == 0

    human = _cli(["prune", "--before", "2026-02-01", "--content-store", str(store)],
                 _env(tmp_path))
    assert human.returncode == 0
    assert "0 message(s) registered before 2026-02-01T00:00:00+01:00 removed" in human.stdout


def test_prune_refuses_a_bad_date_and_a_missing_store(tmp_path: Path) -> None:
    bad = _cli(["prune", "--before", "31/02/2027", "--content-store",
                str(tmp_path / "x.sqlite"), "--json"], _env(tmp_path))
    assert bad.returncode == 2
    assert "--before" in json.loads(bad.stdout)["error"]
    missing = _cli(["prune", "--before", "2026-02-01", "--content-store",
                    str(tmp_path / "nowhere.sqlite"), "--json"], _env(tmp_path))
    assert missing.returncode == 4
    assert "no content store" in json.loads(missing.stdout)["error"]
    assert not (tmp_path / "nowhere.sqlite").exists()  # pruning creates nothing


def test_prune_takes_italian_dates_and_refuses_a_date_to_come(tmp_path: Path) -> None:
    store = registered_store(tmp_path / "content.sqlite", write_pdf(tmp_path / "a.pdf"))
    future = _cli(["prune", "--before", "01/03/2072", "--content-store", str(store), "--json"],
                  _env(tmp_path))
    assert future.returncode == 2, future.stdout
    assert "not in the past" in json.loads(future.stdout)["error"]
    with ContentStore.open(store) as opened:
        assert opened.count() == 3  # nothing removed
    done = _cli(["prune", "--before", "01/02/2026", "--content-store", str(store), "--json"],
                _env(tmp_path))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["unreadable"] == 3


def test_serve_refuses_to_start_without_a_key(tmp_path: Path) -> None:
    done = _cli(["serve", "--port", "0", "--content-store", str(tmp_path / "c.sqlite")],
                _env(tmp_path))
    assert done.returncode == 4
    assert "IO_CONTENT_KEY" in done.stderr


def test_serve_answers_io_with_the_key_from_a_file_and_stops_on_sigterm(
        tmp_path: Path) -> None:
    store = registered_store(tmp_path / "content.sqlite", write_pdf(tmp_path / "a.pdf"))
    key_file = tmp_path / "content-key"
    key_file.write_text(KEY + "\n")
    env = _env(tmp_path, IO_CONTENT_KEY_FILE=str(key_file))
    process = subprocess.Popen(
        [sys.executable, "-m", "dispatcher", "content", "serve", "--port", "0",
         "--content-store", str(store), "--lollipop", "accept"],
        env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert process.stdout is not None
        banner = process.stdout.readline()
        port = int(re.search(r"http://127\.0\.0\.1:(\d+)", banner).group(1))  # type: ignore[union-attr]
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                answer = httpx.get(url + "/messages/M-1", headers=headers())
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the server did not answer"
                time.sleep(0.05)
        assert answer.status_code == 200
        assert "3 message(s)" in banner
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert KEY not in banner + out + err
    with ContentStore.open(store) as opened:
        assert opened.opens()["M-1"].opens == 1  # written on the way out


def test_the_default_store_sits_beside_the_journal_named_by_the_service(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    one = content_store_path(load_settings(environ={"IO_API_KEY": "key-one"}))
    spelled = content_store_path(load_settings(environ={
        "IO_API_KEY": "key-one", "IO_BASE_URL": "HTTPS://api.io.pagopa.it:443/api/v1/"}))
    other = content_store_path(load_settings(environ={"IO_API_KEY": "key-two"}))
    assert one.parent == tmp_path / "dispatcher" / "content"
    assert one == spelled and one != other
    assert "key-one" not in str(one)
    chosen = load_settings(environ={}, content_store="~/rc.sqlite")
    assert content_store_path(chosen) == Path("~/rc.sqlite").expanduser()
    assert content_store_path(chosen, tmp_path / "flag.sqlite") == tmp_path / "flag.sqlite"


def test_prune_dates_are_italian_time_unless_they_say_otherwise() -> None:
    assert parse_before("2027-07-01") == datetime(2027, 6, 30, 22, 0, tzinfo=UTC)
    assert parse_before("2027-01-15T08:00") == datetime(2027, 1, 15, 7, 0, tzinfo=UTC)
    assert parse_before("2027-01-15T08:00Z") == datetime(2027, 1, 15, 8, 0, tzinfo=UTC)
    with pytest.raises(ValueError, match="2027-03-01"):
        parse_before("domani")
