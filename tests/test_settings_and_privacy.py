"""Settings never reveal the key and refuse one IO cannot take; masking hides fiscal codes and
every printed form of the key everywhere they may appear; what we create is private."""

from __future__ import annotations

import html
import io
import json
import logging
import os
import stat
import sys
from pathlib import Path
from urllib.parse import quote, quote_plus

import pytest
import structlog

from dispatcher.logs import _scrubbed_excepthook, configure_for_command, configure_logging
from dispatcher.privacy import (
    REDACTED,
    mask_fiscal_code,
    mask_fiscal_codes_in,
    printed_forms,
    redact,
    register_secret,
)
from dispatcher.settings import ConfigError, RateSpec, Secret, load_settings
from dispatcher.storage import open_database, write_atomically


def test_a_fiscal_code_is_masked_keeping_the_first_six_and_last_three() -> None:
    assert mask_fiscal_code("RSSMRA85T10A562S") == "RSSMRA*******62S"


def test_fiscal_codes_inside_text_are_masked_including_omocodes() -> None:
    text = "GET /messages/RSSMRA85T10A562S/01J and MRTMTT91D08F20QZ failed"
    masked = mask_fiscal_codes_in(text)
    assert "RSSMRA85T10A562S" not in masked and "MRTMTT91D08F20QZ" not in masked
    assert "RSSMRA*******62S" in masked


@pytest.mark.parametrize(
    ("text", "per_second"),
    [("150/5s", 30.0), ("30/s", 30.0), ("1800/1m", 30.0), ("25", 25.0), ("120 / 5 s", 24.0)],
)
def test_rates_are_parsed_as_requests_per_period(text: str, per_second: float) -> None:
    assert RateSpec.parse(text).per_second == pytest.approx(per_second)


@pytest.mark.parametrize("text", ["fast", "0/5s", "-3/s", "150/0s"])
def test_a_bad_rate_is_a_config_error(text: str) -> None:
    with pytest.raises(ConfigError):
        RateSpec.parse(text)


def test_the_key_comes_from_the_environment_or_a_file_and_never_prints(tmp_path: Path) -> None:
    settings = load_settings(environ={"IO_API_KEY": "sk-123456"})
    assert settings.require_api_key() == "sk-123456"
    assert "sk-123456" not in repr(settings) and "sk-123456" not in str(settings.api_key)
    key_file = tmp_path / "key"
    key_file.write_text("from-file\n")
    assert load_settings(environ={"IO_API_KEY_FILE": str(key_file)}).api_key == Secret("from-file")


def test_a_missing_key_and_a_key_in_the_config_file_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="IO_API_KEY"):
        load_settings(environ={}).require_api_key()
    config = tmp_path / "d.toml"
    config.write_text('api_key = "x"\n')
    with pytest.raises(ConfigError, match="do not put the API key"):
        load_settings(config_file=config, environ={})


def test_flags_override_environment_which_overrides_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "d.toml"
    config.write_text('base_url = "http://file/api/v1"\nrate = "10/s"\nconcurrency = 3\n')
    env = {"IO_BASE_URL": "http://env/api/v1/"}
    settings = load_settings(config_file=config, environ=env, concurrency=7)
    assert settings.base_url == "http://env/api/v1"
    assert settings.rate.per_second == 10 and settings.concurrency == 7


def test_json_logs_mask_fiscal_codes_and_redact_the_key() -> None:
    stream = io.StringIO()
    configure_logging(json=True, secrets=("sk-SECRET",), stream=stream, level=logging.INFO)
    structlog.get_logger().info("boom", detail="key sk-SECRET for RSSMRA85T10A562S")
    line = json.loads(stream.getvalue().strip().splitlines()[-1])
    assert line["detail"] == "key [REDACTED] for RSSMRA*******62S"


# -- the key is checked as it is read (issue 13) --------------------------------------------

def _key_file(tmp_path: Path, content: str | bytes) -> dict[str, str]:
    path = tmp_path / "io.key"
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return {"IO_API_KEY_FILE": str(path)}


def test_a_key_file_with_a_trailing_newline_or_a_bom_gives_the_key_alone(tmp_path: Path) -> None:
    assert load_settings(environ=_key_file(tmp_path, "  k3y-ABC\r\n\n")).require_api_key() == (
        "k3y-ABC")
    bom = _key_file(tmp_path, "\ufeffk3y-ABC\n".encode())  # Windows Notepad's UTF-8
    assert load_settings(environ=bom).require_api_key() == "k3y-ABC"


def test_a_key_file_with_two_keys_is_refused_counting_the_lines_never_showing_them(
    tmp_path: Path,
) -> None:
    env = _key_file(tmp_path, "PRIMARYkey0123\n\nSECONDARYkey456\n")
    with pytest.raises(ConfigError) as refused:
        load_settings(environ=env)
    message = str(refused.value)
    assert "2 non-empty lines" in message and "primary key alone" in message
    assert str(tmp_path / "io.key") in message
    assert "PRIMARY" not in message and "SECONDARY" not in message


@pytest.mark.parametrize(
    ("key", "kind", "position"),
    [
        ("abcdé12345", "non-ASCII character", 5),
        ("abc\u00a0def", "Unicode space", 4),
        ("abc\u200bdef", "invisible formatting character", 4),
        ("abc def", "a space", 4),
        ("abc\tdef", "a tab", 4),
        ("abc\x07def", "control character", 4),
        ("abc\x7fdef", "control character", 4),
    ],
)
def test_a_key_io_cannot_take_is_refused_naming_the_kind_and_position_only(
    key: str, kind: str, position: int
) -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings(environ={"IO_API_KEY": key})
    message = str(refused.value)
    assert message.startswith("IO_API_KEY: ")
    assert kind in message and f"position {position} of {len(key)}" in message
    for part in ("abc", "def", "12345"):
        assert part not in message


def test_a_key_file_that_is_not_utf8_or_is_not_a_key_file_is_a_config_error(
    tmp_path: Path,
) -> None:
    with pytest.raises(ConfigError, match="byte 4 of the file is not UTF-8"):
        load_settings(environ=_key_file(tmp_path, b"abc\xe9def"))
    with pytest.raises(ConfigError, match="not a key file"):
        load_settings(environ=_key_file(tmp_path, "x" * 5000))


def test_a_secret_refuses_a_malformed_value_wherever_it_is_built() -> None:
    with pytest.raises(ConfigError, match=r"line|control character"):
        Secret("PRIMARY\nSECONDARY")
    assert Secret("printable!ASCII~key'%\\+").reveal() == "printable!ASCII~key'%\\+"


def test_a_key_with_quotes_and_percent_signs_is_accepted_as_it_is() -> None:
    key = "a'b%c\\d+e\"f"
    assert load_settings(environ={"IO_API_KEY": f" {key}\n"}).require_api_key() == key


# -- every printed form of the key is redacted ----------------------------------------------

AWKWARD = "Aw'k%ey\\x+y\"z&<1>"


@pytest.mark.parametrize(
    "printed",
    [
        AWKWARD,
        repr(AWKWARD),
        repr(AWKWARD.encode()),
        repr(f"Illegal header value {AWKWARD.encode()!r}"),
        quote(AWKWARD, safe=""),
        quote(AWKWARD),
        quote_plus(AWKWARD),
        json.dumps(AWKWARD),
        json.dumps({"detail": repr(AWKWARD.encode())}),
        html.escape(AWKWARD),
        AWKWARD.replace('"', '""'),
    ],
)
def test_redaction_removes_every_printed_form_of_the_key(printed: str) -> None:
    text = redact(f"before {printed} after", (AWKWARD,))
    assert REDACTED in text and text.startswith("before ") and text.endswith(" after")
    for form in printed_forms(AWKWARD):
        assert form not in text


def test_redaction_removes_a_two_line_key_in_httpx_words() -> None:
    two_lines = "PRIMARYkey0123\nSECONDARYkey456"
    error = f"Illegal header value {two_lines.encode()!r}"
    assert "PRIMARY" not in redact(error, (two_lines,)) and "SECONDARY" not in redact(
        error, (two_lines,))


def test_log_lines_redact_nested_values_and_tracebacks() -> None:
    register_secret(AWKWARD)
    stream = io.StringIO()
    configure_logging(json=True, stream=stream, level=logging.INFO)
    try:
        raise ValueError(f"Illegal header value {AWKWARD.encode()!r} for RSSMRA85T10A562S")
    except ValueError:
        structlog.get_logger().exception("boom", extra={"headers": [repr(AWKWARD)]})
    line = stream.getvalue().strip().splitlines()[-1]
    assert REDACTED in line and "RSSMRA85T10A562S" not in line
    for form in printed_forms(AWKWARD):
        assert form not in line, form
    console = io.StringIO()
    configure_logging(json=False, stream=console, level=logging.INFO)
    try:
        raise ValueError(f"key {AWKWARD!r}")
    except ValueError:
        structlog.get_logger().exception("boom")
    assert "ValueError" in console.getvalue() and REDACTED in console.getvalue()
    assert "Aw" not in console.getvalue().replace("AwAw", "")  # no piece of the key either


def test_an_uncaught_exception_prints_its_traceback_redacted(
    capsys: pytest.CaptureFixture[str],
) -> None:
    register_secret(AWKWARD)
    try:
        raise RuntimeError(f"header {AWKWARD.encode()!r} for RSSMRA85T10A562S")
    except RuntimeError as exc:
        _scrubbed_excepthook(RuntimeError, exc, exc.__traceback__)
    err = capsys.readouterr().err
    assert "RuntimeError" in err and REDACTED in err and "RSSMRA85T10A562S" not in err
    assert not any(form in err for form in printed_forms(AWKWARD))


# -- folders we create are private whatever the umask ---------------------------------------

def test_folders_and_files_are_private_under_umask_000(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        database = open_database(tmp_path / "a" / "b" / "ledger.sqlite", schema=None)
        database.close()
        written = write_atomically(tmp_path / "c" / "d" / "results.csv", "x")
    finally:
        os.umask(old)
    for folder in (tmp_path / "a", tmp_path / "a" / "b", tmp_path / "c", tmp_path / "c" / "d"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    for file in (tmp_path / "a" / "b" / "ledger.sqlite", written):
        assert stat.S_IMODE(file.stat().st_mode) == 0o600, file


def test_every_command_gets_the_scrubbing_excepthook(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "excepthook", sys.__excepthook__)
    configure_for_command()
    assert sys.excepthook is _scrubbed_excepthook


def test_a_fiscal_code_glued_to_a_prefix_is_masked_too() -> None:
    from dispatcher.privacy import mask_fiscal_codes_in

    text = "'TINITBRBMRC45D25H501R' and 'ITRMNLSS71L66F839Q' are not fiscal codes"
    masked = mask_fiscal_codes_in(text)
    assert "BRBMRC45D25H501R" not in masked and "RMNLSS71L66F839Q" not in masked
    assert "TINITBRBMRC*******01R" in masked  # the prefix stays, so the row can be found


def test_ios_public_test_citizen_is_never_masked_in_advice() -> None:
    from dispatcher.privacy import mask_fiscal_codes_in

    text = "use AAAAAA00A00A000A, IO's test citizen, not RSSMRA80A01H501U"
    assert mask_fiscal_codes_in(text) == (
        "use AAAAAA00A00A000A, IO's test citizen, not RSSMRA*******01U")
