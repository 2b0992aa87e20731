"""The ledger's promises: intent before send, recovery to ambiguous, cross-run guard, lock."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dispatcher.ledger import Ledger, LedgerError, LedgerLocked, NewRow, Outcome, RunLock
from dispatcher.vocabulary import RowState

CF_A = "RSSMRA85T10A562S"
CF_B = "BNCLRA90A41F205X"


def _start(ledger: Ledger, rows: list[NewRow], **kw: object) -> int:
    return ledger.campaigns.start(
        input_path="c.csv", input_sha256="f" * 64, template_sha256=None, rows=rows, **kw
    )


def test_a_new_ledger_file_is_private(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    Ledger.open(path).close()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_rows_are_recorded_with_their_first_judgement(tmp_path: Path) -> None:
    with Ledger.open(tmp_path / "l.sqlite") as ledger:
        cid = _start(
            ledger,
            [
                NewRow(2, CF_A, RowState.PENDING, "h1"),
                NewRow(3, "XX", RowState.INVALID, None, "row 3: bad code"),
                NewRow(4, CF_A, RowState.DUPLICATE, None, "same as row 2"),
            ],
        )
        assert ledger.rows.states(cid) == {
            2: RowState.PENDING,
            3: RowState.INVALID,
            4: RowState.DUPLICATE,
        }
        assert ledger.rows.unfinished(cid) == 1


def test_sending_rows_become_ambiguous_when_a_run_is_recovered(tmp_path: Path) -> None:
    with Ledger.open(tmp_path / "l.sqlite") as ledger:
        cid = _start(ledger, [NewRow(2, CF_A, RowState.PENDING, "h"), NewRow(3, CF_B,
                                                                       RowState.PENDING, "h")])
        run = ledger.runs.begin(cid, rate="150/5s")
        ledger.rows.mark_sending(cid, run, [2, 3])
        ledger.rows.record_outcomes(cid, run, [Outcome(3, RowState.SENT, 201, "01ABC", None, 1)])
    # a "crash": reopen without finishing
    with Ledger.open(tmp_path / "l.sqlite") as ledger:
        run2 = ledger.runs.begin(cid, rate="150/5s")
        assert ledger.rows.recover_interrupted(cid, run2) == 1
        assert ledger.rows.states(cid) == {2: RowState.AMBIGUOUS, 3: RowState.SENT}
        assert ledger.rows.pending(cid) == set()
        history = [event.state for event in ledger.rows.history(cid, 2)]
        assert history == ["pending", "sending", "ambiguous"]
        assert ledger.rows.requeue_ambiguous(cid, run2) == 1
        assert ledger.rows.pending(cid) == {2}


def test_mark_sending_only_moves_pending_rows(tmp_path: Path) -> None:
    with Ledger.open(tmp_path / "l.sqlite") as ledger:
        cid = _start(ledger, [NewRow(2, CF_A, RowState.INVALID, None, "bad")])
        run = ledger.runs.begin(cid, rate="1/s")
        ledger.rows.mark_sending(cid, run, [2])
        assert ledger.rows.states(cid) == {2: RowState.INVALID}


def test_abandoning_a_campaign_leaves_every_row_terminal(tmp_path: Path) -> None:
    with Ledger.open(tmp_path / "l.sqlite") as ledger:
        cid = _start(ledger, [NewRow(2, CF_A, RowState.PENDING, "h"),
                              NewRow(3, CF_B, RowState.PENDING, "h")])
        run = ledger.runs.begin(cid, rate="1/s")
        ledger.rows.mark_sending(cid, run, [2])
        ledger.campaigns.abandon(cid, run)
        assert ledger.rows.states(cid) == {2: RowState.AMBIGUOUS, 3: RowState.FAILED}
        assert ledger.rows.unfinished(cid) == 0


def test_a_file_that_is_not_a_ledger_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    path.write_bytes(b"not sqlite at all" * 100)
    with pytest.raises(LedgerError, match="not a dispatcher ledger"):
        Ledger.open(path)


def test_the_run_lock_names_its_holder_and_is_freed_when_the_holder_dies(tmp_path: Path) -> None:
    ledger_path = tmp_path / "l.sqlite"
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys,time; from pathlib import Path; from dispatcher.ledger import RunLock;"
         f"l=RunLock(Path({str(ledger_path)!r})); l.acquire(); print('held', flush=True);"
         "time.sleep(60)"],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(LedgerLocked, match=f"pid {holder.pid}"):
            RunLock(ledger_path).acquire()
    finally:
        holder.kill()
        holder.wait()
    with RunLock(ledger_path):  # kill -9 frees the lock
        pass


@settings(max_examples=30, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["send", "sent", "recover"]), st.integers(2, 8)),
        max_size=30,
    )
)
def test_no_row_is_ever_pending_after_it_was_marked_sending(
    tmp_path_factory: pytest.TempPathFactory, steps: list[tuple[str, int]]
) -> None:
    """Whatever the order of intents, outcomes and crashes, a row that was in flight never
    silently returns to the queue: it ends sent or ambiguous."""
    path = tmp_path_factory.mktemp("prop") / "l.sqlite"
    with Ledger.open(path) as ledger:
        cid = _start(ledger, [NewRow(r, f"CF{r}", RowState.PENDING, "h") for r in range(2, 9)])
        run = ledger.runs.begin(cid, rate="1/s")
        touched: set[int] = set()
        for action, row in steps:
            if action == "send":
                if ledger.rows.states(cid)[row] is RowState.PENDING:
                    ledger.rows.mark_sending(cid, run, [row])
                    touched.add(row)
            elif action == "sent" and ledger.rows.states(cid)[row] is RowState.SENDING:
                ledger.rows.record_outcomes(cid, run, [Outcome(row, RowState.SENT, 201, "id")])
            elif action == "recover":
                run = ledger.runs.begin(cid, rate="1/s")
                ledger.rows.recover_interrupted(cid, run)
        states = ledger.rows.states(cid)
        for row in touched:
            assert states[row] in (RowState.SENDING, RowState.SENT, RowState.AMBIGUOUS)
