"""``dispatcher demo`` (what ``make demo`` runs): the whole job, from file to reports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from enginetools import TEMPLATE, write_campaign


def test_the_demo_sends_follows_up_and_leaves_the_reports(tmp_path: Path) -> None:
    csv_path = write_campaign(tmp_path / "c.csv", 12)
    out = tmp_path / "demo-run"
    out.mkdir()
    (out / "notes.txt").write_text("mine", encoding="utf-8")  # not the demo's: kept
    env = {k: v for k, v in os.environ.items() if not k.startswith("IO_")}
    result = subprocess.run(
        [sys.executable, "-m", "dispatcher", "demo", "--file", str(csv_path), "--template",
         str(TEMPLATE), "--out", str(out), "--rate", "150/5s"],
        env=env, text=True, capture_output=True, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for step in ("1. validate", "2. send", "3. ask IO", "4. remote content", "5. reports",
                 "6. what the simulator"):
        assert step in result.stdout
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    sent = summary["rows"]["by_outcome"]["sent"]
    assert sent > 0 and summary["rows"]["total"] == 12
    assert summary["io_status"]["PROCESSED"] == sent and summary["io_status"]["NOT_CHECKED"] == 0
    assert "<svg" in (out / "report.html").read_text(encoding="utf-8")
    assert (out / "notes.txt").read_text(encoding="utf-8") == "mine"
    assert f"{sent} messages stored for {sent} citizens (at most 1 per citizen)" in result.stdout
    # the remote-content part: the app opened the message and fetched its PDF/A attachment
    # from the content server, and the report counts the open
    assert "Attachment avviso_tari.pdf: 8283 bytes" in result.stdout
    assert "Precondition: Contenuto riservato" in result.stdout
    remote = json.loads((out / "remote" / "summary.json").read_text(encoding="utf-8"))
    assert remote["remote_content"] == {"messages": 3, "opened": 1}
    assert oct((out / "content.key").stat().st_mode & 0o777) == "0o600"
