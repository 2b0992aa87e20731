"""What the browser tests share: the screenshot scripts, loaded as modules, and the skip."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]


def load_script(name: str) -> ModuleType:
    """``scripts/<name>.py`` as a module (the scripts are not a package)."""
    path = REPO / "scripts" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being built
    spec.loader.exec_module(module)
    return module


def needs_chromium(chromium: object, what: str) -> list[pytest.MarkDecorator]:
    """The marks of a browser test: slow, and skipped (saying why) without Chromium."""
    return [
        pytest.mark.slow,
        pytest.mark.skipif(
            chromium is None,
            reason="no Chromium binary (chromium / chromium-browser on PATH, /usr/bin/chromium)"
                   f": install it (Debian: apt-get install chromium) to open {what} in a "
                   "browser",
        ),
    ]
