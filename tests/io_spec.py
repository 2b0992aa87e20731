"""Where the contract tests find IO's official OpenAPI spec files: the one place that says so.

The files are not part of this repository. ``IO_SPEC_DIR`` names the folder that holds them
(a relative path is taken from the repository root); without it, ``../shared/io-api`` beside
the repository. When the files are not there, tests marked ``io_spec`` are skipped
(tests/conftest.py) with :data:`MISSING_REASON`.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SPEC_DIR = "../shared/io-api"
SPEC_FILES = (
    "io-functions-services.openapi.index.yaml",
    "io-messages.services-func.openapi.index.yaml",
    "io-functions-commons.openapi.definitions_v2.yaml",
)

SPEC_DIR = (REPO_ROOT / Path(os.environ.get("IO_SPEC_DIR") or DEFAULT_SPEC_DIR).expanduser()
            ).resolve()


def _missing_reason() -> str | None:
    missing = [name for name in SPEC_FILES if not (SPEC_DIR / name).is_file()]
    if not missing:
        return None
    which = "" if len(missing) == len(SPEC_FILES) else f" (missing: {', '.join(missing)})"
    return (f"IO spec files not found in {SPEC_DIR}{which}: set IO_SPEC_DIR to a folder holding "
            f"the official IO OpenAPI files ({', '.join(SPEC_FILES)}) to run the contract tests")


MISSING_REASON = _missing_reason()
"""Why the ``io_spec`` tests cannot run here, or None when every file is present."""
