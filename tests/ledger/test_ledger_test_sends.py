"""Test sends: intent before the send, outcome after, and a killed test run never forgotten."""

from __future__ import annotations

from pathlib import Path

from dispatcher.ledger import Ledger
from dispatcher.vocabulary import RowState

TEST_CF = "AAAAAA00A00A000A"


def _begin(ledger: Ledger, source_row: int) -> int:
    return ledger.test_sends.begin(input_path="c.csv", input_sha256="f1",
                                   template_sha256="t1", source_row=source_row,
                                   recipient=TEST_CF, content_hash=f"h{source_row}")


def test_the_intent_is_committed_before_the_send_and_the_outcome_after(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    with Ledger.open(path) as ledger:
        test_id = _begin(ledger, 2)
    with Ledger.open(path) as other:  # committed: another connection sees it
        (sending,) = other.test_sends.list()
        assert (sending.test_id, sending.outcome, sending.source_row) == (test_id, "sending", 2)
        assert sending.at > 0 and sending.message_id is None
        assert not other.test_sends.has_successful("f1", "t1")
        other.test_sends.finish(test_id, outcome=RowState.SENT, message_id="01TEST",
                                http_status=201, detail=None)
        (sent,) = other.test_sends.list("f1", "t1")
        assert (sent.outcome, sent.message_id, sent.http_status) == ("sent", "01TEST", 201)
        assert sent.at == sending.at  # when it was sent, not when the answer came
        assert other.test_sends.has_successful("f1", "t1")
        assert other.test_sends.recover() == 0  # nothing was left in flight


def test_a_test_send_left_sending_by_a_killed_run_becomes_ambiguous(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    with Ledger.open(path) as ledger:
        done = _begin(ledger, 2)
        ledger.test_sends.finish(done, outcome=RowState.REJECTED, message_id=None,
                                 http_status=403, detail="recipient not allowed")
        cut = _begin(ledger, 3)  # ... and the process is killed during the POST
    with Ledger.open(path) as ledger:
        assert ledger.test_sends.recover() == 1
        sends = {s.test_id: s for s in ledger.test_sends.list()}
        assert sends[cut].outcome == RowState.AMBIGUOUS
        assert "may have reached IO" in (sends[cut].detail or "")
        assert sends[done].outcome == RowState.REJECTED  # decided sends are left alone
        assert not ledger.test_sends.has_successful("f1", "t1")  # possibly sent is not sent
        assert ledger.test_sends.recover() == 0
        assert [s.test_id for s in ledger.test_sends.list()] == [cut, done]  # newest first
