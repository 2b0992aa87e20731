"""Settings never reveal the key; masking hides fiscal codes everywhere they may appear."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pytest
import structlog

from dispatcher.logs import configure_logging
from dispatcher.privacy import mask_fiscal_code, mask_fiscal_codes_in
from dispatcher.settings import ConfigError, RateSpec, Secret, load_settings


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
