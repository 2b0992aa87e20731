"""The sample campaigns say what their README says, and the generator makes valid people."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from types import ModuleType

import pytest
from campaign_helpers import NOW, REPO_ROOT
from stdnum.it import codicefiscale

from dispatcher.campaign import CampaignOptions, load_campaign
from dispatcher.vocabulary import InputVerdict

SAMPLES = REPO_ROOT / "sample_data"
TEMPLATE = SAMPLES / "tari_2027.toml"


def documented_problems() -> list[tuple[int, str, str, str]]:
    """(row, column, code, severity) from the README table, skipping the '—' rows."""
    table = re.findall(r"^\| (\d+) \| (\S+) \| (\S+) \| (\S+) \|",
                       (SAMPLES / "README.md").read_text(encoding="utf-8"), re.MULTILINE)
    return [(int(r), column, code, severity) for r, column, code, severity in table
            if code != "—"]


def test_the_sample_with_errors_reports_exactly_the_documented_problems() -> None:
    campaign = load_campaign(SAMPLES / "tari_2027.csv", template=TEMPLATE,
                             options=CampaignOptions(now=NOW))
    found = [(p.row, p.column, p.code.value, p.severity.value) for p in campaign.problems]
    assert sorted(found) == sorted(documented_problems())
    assert (campaign.row_count, campaign.valid_count, campaign.invalid_count,
            campaign.duplicate_count, campaign.warning_count) == (200, 189, 10, 1, 1)
    rows = {r.row: r for r in campaign.rows()}
    assert rows[12].state is InputVerdict.VALID and rows[63].state is InputVerdict.VALID
    assert rows[55].duplicate_of == 9


def test_the_clean_sample_is_entirely_valid() -> None:
    campaign = load_campaign(SAMPLES / "tari_2027_clean.csv", template=TEMPLATE,
                             options=CampaignOptions(now=NOW))
    assert (campaign.valid_count, campaign.problems) == (200, [])
    assert campaign.delimiter == ";"


@pytest.fixture(scope="module")
def generate() -> ModuleType:
    spec = importlib.util.spec_from_file_location("sample_generate", SAMPLES / "generate.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["sample_generate"] = module
    spec.loader.exec_module(module)
    return module


def test_generator_is_deterministic_and_makes_distinct_valid_codes(generate) -> None:
    first = list(generate.tari_rows(3000, seed=5))
    assert first == list(generate.tari_rows(3000, seed=5))
    assert first != list(generate.tari_rows(3000, seed=6))
    codes = [r[0] for r in first]
    assert len(set(codes)) == len(codes)
    assert all(codicefiscale.is_valid(code) for code in codes)
    assert any(not code[6:8].isdigit() or not code[12:15].isdigit() for code in codes)


def test_committed_samples_are_what_the_generator_writes(generate, tmp_path: Path,
                                                          monkeypatch) -> None:
    monkeypatch.setattr(generate, "HERE", tmp_path)
    generate.write_samples()
    for name in ("tari_2027.csv", "tari_2027_clean.csv"):
        assert (tmp_path / name).read_bytes() == (SAMPLES / name).read_bytes()
