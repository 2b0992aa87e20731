"""Fixtures for the campaign tests: tiny inline files and a loader with a pinned clock."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest
from campaign_helpers import NOW

from dispatcher.campaign import Campaign, CampaignOptions, load_campaign

Loader = Callable[..., Campaign]


@pytest.fixture
def write(tmp_path: Path) -> Callable[..., Path]:
    """``write(text, name="c.csv", encoding="utf-8")`` → a file in tmp_path."""

    def _write(text: str | bytes, name: str = "c.csv", encoding: str = "utf-8") -> Path:
        path = tmp_path / name
        path.write_bytes(text if isinstance(text, bytes) else text.encode(encoding))
        return path

    return _write


@pytest.fixture
def load(write: Callable[..., Path]) -> Loader:
    """``load(csv_text, template=None, **options)`` → a Campaign, with the clock pinned."""

    def _load(text: str | bytes, template: str | None = None, template_name: str = "t.toml",
              name: str = "c.csv", **options: object) -> Campaign:
        path = write(text, name)
        template_path = write(template, template_name) if template is not None else None
        options.setdefault("now", NOW)
        return load_campaign(path, template=template_path,
                             options=CampaignOptions(**options))  # type: ignore[arg-type]

    return _load


SAMPLE_DATA = Path(__file__).resolve().parents[2] / "sample_data"


@pytest.fixture(scope="module")
def maker() -> ModuleType:
    """``sample_data/make_sample_pdfa.py``: the sample PDF/A and its broken variants."""
    spec = importlib.util.spec_from_file_location("make_sample_pdfa",
                                                  SAMPLE_DATA / "make_sample_pdfa.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_sample_pdfa"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def variants(maker: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Every broken variant of the sample PDF/A, by name, written once per module."""
    return maker.write_variants(tmp_path_factory.mktemp("variants"))
