"""Rows scheduled for later (a send-after time ahead) are neither lost nor unfinished work:
the report says when they go, and the campaign is not complete until they went."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from dispatcher.ledger import Ledger, NewRow
from dispatcher.report.advice import open_items, status_line
from dispatcher.report.settle import SettleCommands
from dispatcher.report.summary import build_summary
from dispatcher.vocabulary import RowState

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ledger"))
from ledgertools import body, code, send


def test_scheduled_rows_are_announced_with_their_time_and_keep_the_campaign_open(
        tmp_path: Path) -> None:
    now = time.time()
    later = now + 3 * 86_400
    rows = [NewRow(r, code(r), RowState.PENDING, f"h{r}", body=body(r),
                   send_after=later if r > 3 else None) for r in range(1, 6)]
    with Ledger.open(tmp_path / "ledger.sqlite") as ledger:
        cid = ledger.campaigns.start(input_path="c.csv", input_sha256="f" * 64,
                                     template_sha256=None, rows=rows)
        send(ledger, cid, {1: RowState.SENT, 2: RowState.SENT, 3: RowState.SENT})
        summary = build_summary(ledger, cid, now=now)
    state = summary.completeness
    assert (state.scheduled, state.unfinished, state.complete) == (2, 0, False)
    assert not state.unrecorded  # waiting by design, not a recording cut short
    commands = SettleCommands(resume="dispatcher run c.csv", resend_ambiguous=None,
                              status="dispatcher status ledger.sqlite")
    items = {item.kind: item for item in open_items(state, commands, "en")}
    assert "unfinished" not in items and "unrecorded" not in items
    assert items["scheduled"].rows == 2 and "scheduled for later" in items["scheduled"].text
    assert items["scheduled"].command == "dispatcher run c.csv"
    italian = {item.kind: item for item in open_items(state, commands, "it")}
    assert "programmate per dopo" in italian["scheduled"].text
    assert "5 rows still open" in status_line(state, "en")  # 3 unchecked too
    assert summary.to_dict()["open"]["scheduled_later"] == 2
