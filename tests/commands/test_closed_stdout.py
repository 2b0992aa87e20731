"""``dispatcher validate FILE | head -1``: the reader closed stdout; that is exit 0, quietly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

SAMPLES = Path(__file__).resolve().parents[2] / "sample_data"


@pytest.mark.parametrize("extra", [[], ["--json"]], ids=["text", "json"])
def test_a_reader_that_closes_stdout_early_gets_exit_0_and_no_traceback(extra: list[str],
                                                                        ) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "dispatcher", "validate", str(SAMPLES / "tari_2027_clean.csv"),
         "-t", str(SAMPLES / "tari_2027.toml"), "--preview", "2-101", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # a reader that stops early, as `head -1` does: the pipe breaks
    code = process.wait(timeout=120)
    errors = process.stderr.read().decode()
    assert code == 0, errors
    assert "Traceback" not in errors and "BrokenPipe" not in errors
