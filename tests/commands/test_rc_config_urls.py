"""``rc-config`` refuses configurations IO could never use (IO has no delete), and never
prints a password a URL may carry."""

from __future__ import annotations

from pathlib import Path

import pytest

from dispatcher.ioapi.rc_config import ContentAuthentication, Environment
from dispatcher.operations.rc_config import ConfigurationFileError, load_configuration_file
from dispatcher.settings import Secret

TOML = """\
name = "TARI 2027"
description = "Avvisi TARI"
has_precondition = "NEVER"
[prod_environment]
base_url = "{url}"
header_key_name = "{header}"
key_env = "RC_URL_TEST_KEY"
"""


@pytest.mark.parametrize(("url", "header", "why"), [
    ("https://user:pw@contenuti.comune.it/io", "X-Api-Key", "user name or password"),
    ("https://contenuti.comune.it/io?x=1", "X-Api-Key", "query or fragment"),
    ("http://contenuti.comune.it/io", "X-Api-Key", "plain http"),
    ("contenuti.comune.it/io", "X-Api-Key", "https:// URL with a host"),
    ("https://contenuti.comune.it/io", "X Api Key", "not a valid HTTP header name"),
    ("https://contenuti.comune.it/io", "fiscal_code", "IO already uses"),
])
def test_a_configuration_that_could_never_work_is_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, url: str, header: str,
        why: str) -> None:
    monkeypatch.setenv("RC_URL_TEST_KEY", "content-key-for-the-url-test")
    path = tmp_path / "rc.toml"
    path.write_text(TOML.format(url=url, header=header), encoding="utf-8")
    with pytest.raises(ConfigurationFileError, match=why) as refused:
        load_configuration_file(path)
    assert "pw" not in str(refused.value)


def test_the_simulator_on_this_machine_may_be_plain_http(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RC_URL_TEST_KEY", "content-key-for-the-url-test")
    path = tmp_path / "rc.toml"
    path.write_text(TOML.format(url="http://127.0.0.1:8788", header="X-Api-Key"),
                    encoding="utf-8")
    assert load_configuration_file(path).prod_environment.base_url == "http://127.0.0.1:8788"


def test_a_password_in_a_configuration_read_from_io_is_never_shown() -> None:
    environment = Environment(
        base_url="https://user:segreto@contenuti.comune.it/io?token=abc",
        authentication=ContentAuthentication(
            header_key_name="X-Api-Key", key=Secret("content-key-for-the-view-test")))
    assert environment.view()["base_url"] == "https://contenuti.comune.it/io"
