"""The send journal: copies, symlinks, second ledgers and parallel runs send nothing twice.

Unit tests of :class:`SendJournal` (reserve, settle, release, a reservation left by a dead
process), one across two processes (the reservation is atomic), and runs over loopback
against the simulator: a copied file, a symlink, a second ``--ledger`` and two runs started
together deliver exactly one message per citizen; ``--allow-resend`` is the way to a second.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
import textwrap
from contextlib import closing
from pathlib import Path

from enginetools import TEMPLATE, cli_env, fast_config, ledger_rows, run_cli, write_campaign

from dispatcher.campaign import CampaignSource
from dispatcher.journal import (
    EntryState,
    Owner,
    Reservation,
    SendJournal,
    default_journal_path,
)
from dispatcher.operations.run import RunOptions, run_campaign
from dispatcher.operations.send_guard import journal_path
from dispatcher.settings import RateSpec, Secret, Settings
from dispatcher.simulator import DEFAULT_KEY, running_simulator
from dispatcher.stopping import StopOptions
from dispatcher.vocabulary import ExitCode, RowState

CF = "RSSMRA85T10A562S"
CF2 = "BNCGNN80A41H501X"


def _owner(ledger: str = "/l/a.sqlite", campaign_id: int = 1, **kw: object) -> Owner:
    return Owner(ledger=ledger, campaign_id=campaign_id, label=f"campaign {campaign_id} of a",
                 **kw)  # type: ignore[arg-type]


def _dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    return process.pid


def test_a_sent_message_is_refused_to_every_other_owner_and_named(tmp_path: Path) -> None:
    with SendJournal.open(tmp_path / "j.sqlite") as journal:
        first, other = _owner(), _owner("/l/b.sqlite")
        taken = journal.reserve(first, [Reservation(2, CF, "h1"), Reservation(3, CF2, "h1")])
        assert taken.taken == (2, 3)
        journal.settle(first, [(2, EntryState.SENT, "01MSGID"), (3, None, None)])

        again = journal.reserve(other, [Reservation(7, CF.lower(), "h1"),
                                        Reservation(8, CF2, "h1"),
                                        Reservation(9, CF, "other content")])
        assert again.taken == (8, 9)  # row 3 was released: IO never stored it
        refused = again.refused[7]
        assert (refused.state, refused.message_id, refused.in_flight) == (
            EntryState.SENT, "01MSGID", False)
        assert "already sent as message 01MSGID" in refused.describe()
        assert "campaign 1 of a" in refused.describe()
        assert "--allow-resend" in refused.describe()
        # not even its own owner sends a sent message again (a resume never needs to) ...
        assert 2 in journal.reserve(first, [Reservation(2, CF, "h1")]).refused
        # ... but takes back its own reservation or ambiguous entry (a resume, a requeue)
        journal.settle(first, [(2, EntryState.AMBIGUOUS, None)])
        assert journal.reserve(first, [Reservation(2, CF, "h1")]).taken == (2,)
        assert journal.reserve(other, [Reservation(7, CF, "h1")]).postponed[7].in_flight
        journal.settle(first, [(2, EntryState.SENT, "01MSGID")])
        # --allow-resend takes it over
        forced = journal.reserve(other, [Reservation(7, CF, "h1")], allow_resend=True)
        assert forced.taken == (7,)


def test_a_reservation_of_a_live_run_is_postponed_and_of_a_dead_one_is_possibly_sent(
    tmp_path: Path,
) -> None:
    with SendJournal.open(tmp_path / "j.sqlite") as journal:
        journal.reserve(_owner("/l/live.sqlite"), [Reservation(2, CF, "h")])
        journal.reserve(_owner("/l/dead.sqlite", pid=_dead_pid()), [Reservation(2, CF2, "h")])
        mine = _owner("/l/mine.sqlite")
        items = [Reservation(5, CF, "h"), Reservation(6, CF2, "h")]
        answer = journal.reserve(mine, items)
        assert answer.taken == ()
        assert answer.postponed[5].in_flight  # still being sent: it may yet be released
        dead = answer.refused[6]
        assert (dead.state, dead.in_flight) == (EntryState.RESERVED, False)
        assert "possibly sent already" in dead.describe()
        forced = journal.reserve(mine, items, allow_resend=True)
        assert (forced.taken, list(forced.postponed)) == ((6,), [5])  # never a live one


def test_the_journal_never_holds_a_fiscal_code_and_is_private(tmp_path: Path) -> None:
    path = tmp_path / "state" / "journals" / "abc.sqlite"
    with SendJournal.open(path) as journal:
        journal.reserve(_owner(), [Reservation(2, CF, "h")])
    data = b"".join(p.read_bytes() for p in path.parent.iterdir())
    assert CF.encode() not in data
    assert path.stat().st_mode & 0o777 == 0o600
    assert path.parent.stat().st_mode & 0o777 == 0o700
    assert default_journal_path("abc", {"XDG_STATE_HOME": "/s"}) == Path(
        "/s/dispatcher/journals/abc.sqlite")
    assert default_journal_path("abc", {"HOME": "/h"}) == Path(
        "/h/.local/state/dispatcher/journals/abc.sqlite")


_RESERVER = textwrap.dedent("""
    import sys
    from dispatcher.journal import Owner, Reservation, SendJournal
    path, ledger = sys.argv[1], sys.argv[2]
    codes = [f"RSSMRA85T10A{n:03d}S" for n in range(300)]
    with SendJournal.open(path) as journal:
        taken = []
        for start in range(0, 300, 10):
            items = [Reservation(n, codes[n], "h") for n in range(start, start + 10)]
            taken += journal.reserve(Owner(ledger=ledger, campaign_id=1, label=ledger),
                                     items).taken
    print(",".join(map(str, taken)))
""")


def test_two_processes_reserving_the_same_messages_never_both_take_one(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    SendJournal.open(path).close()
    processes = [subprocess.Popen([sys.executable, "-c", _RESERVER, str(path), f"/l/{n}"],
                                  stdout=subprocess.PIPE, text=True) for n in range(2)]
    outputs = [p.communicate(timeout=120)[0].strip() for p in processes]
    taken = [set(map(int, out.split(","))) if out else set() for out in outputs]
    assert not taken[0] & taken[1]
    assert taken[0] | taken[1] == set(range(300))


# -- over loopback, as operators meet it -------------------------------------------------


def _run(campaign: Path, env: dict[str, str], *extra: str) -> subprocess.CompletedProcess[str]:
    return run_cli(["run", str(campaign), "--template", str(TEMPLATE), "--rate", "500/s",
                    *extra], env)


def _messages(inbox: dict[str, list[dict]]) -> int:
    return sum(len(m) for m in inbox.values())


def _states(ledger: Path) -> dict[str, int]:
    counts: dict[str, int] = {}
    for _, _, state, _ in ledger_rows(ledger):
        counts[state] = counts.get(state, 0) + 1
    return counts


def test_a_copy_a_symlink_and_a_second_ledger_send_nothing_new(tmp_path: Path) -> None:
    campaign = write_campaign(tmp_path / "tari.csv", 60, seed=4)
    copy = tmp_path / "tari (1).csv"
    shutil.copy(campaign, copy)
    link = tmp_path / "link.csv"
    link.symlink_to(campaign)
    with running_simulator(fast_config()) as sim:
        env = cli_env(sim)
        first = _run(campaign, env)
        assert first.returncode == ExitCode.OK, first.stderr[-2000:]
        sent = _messages(sim.inbox())
        assert sent > 40
        profiles_before = int(sim.stats()["requests"].get("profiles", 0))
        for again, ledger in ((copy, None), (link, None),
                              (campaign, tmp_path / "second" / "ledger.sqlite")):
            extra = ["--ledger", str(ledger)] if ledger else []
            result = _run(again, env, *extra)
            assert result.returncode == ExitCode.OK, result.stderr[-2000:]
            assert _messages(sim.inbox()) == sent  # not one new message
        # the sent rows were decided from the journal, before any profile check; only the
        # citizens who got nothing (no IO, service blocked) were checked again
        checked = int(sim.stats()["requests"].get("profiles", 0)) - profiles_before
        assert checked == 3 * (1 + 60 - sent)  # each run: the pre-flight's probe, and them
        states = _states(tmp_path / "tari (1).dispatcher" / "ledger.sqlite")
        assert states.get("already_sent") == sent
        detail_rows = [r for r in ledger_rows(tmp_path / "second" / "ledger.sqlite")
                       if r[2] == "already_sent"]
        assert all(message_id for *_, message_id in detail_rows)  # the earlier message id

        forced = _run(copy, env, "--allow-resend", "--ledger", str(tmp_path / "f.sqlite"))
        assert forced.returncode == ExitCode.OK, forced.stderr[-2000:]
        assert _messages(sim.inbox()) == 2 * sent  # the operator asked for a second copy


def test_two_runs_of_one_campaign_on_two_ledgers_at_once_send_one_message_each(
    tmp_path: Path,
) -> None:
    campaign = write_campaign(tmp_path / "tari.csv", 150, seed=6)
    with running_simulator(fast_config()) as sim:
        env = cli_env(sim)
        args = [[sys.executable, "-m", "dispatcher", "run", str(campaign), "--template",
                 str(TEMPLATE), "--rate", "300/s", "--ledger", str(tmp_path / f"l{n}.sqlite")]
                for n in range(2)]
        # output to files, not pipes: a full pipe would block a run
        logs = [(tmp_path / f"run{n}.log").open("w") for n in range(2)]
        processes = [subprocess.Popen(a, env=env, text=True, stdout=log, stderr=log)
                     for a, log in zip(args, logs, strict=True)]
        codes = [p.wait(timeout=180) for p in processes]
        for log in logs:
            log.close()
        # a run that met the other's reservations in flight left them pending: rerun it
        for n, code in enumerate(codes):
            if code == ExitCode.STOPPED:
                codes[n] = subprocess.run(args[n], env=env, timeout=180,
                                          capture_output=True).returncode
        inbox = sim.inbox()
    assert set(codes) == {ExitCode.OK}, codes
    assert all(len(messages) == 1 for messages in inbox.values())
    sent = [{code for _, code, state, _ in ledger_rows(tmp_path / f"l{n}.sqlite")
             if state == "sent"} for n in range(2)]
    assert not sent[0] & sent[1]
    assert sent[0] | sent[1] == set(inbox)


def test_the_journal_location_follows_the_settings_file_and_the_flag(tmp_path: Path) -> None:
    campaign = write_campaign(tmp_path / "tari.csv", 20, seed=8)
    pinned = tmp_path / "pinned" / "journal.sqlite"
    settings = tmp_path / "dispatcher.toml"
    settings.write_text(f'journal = "{pinned}"\n')
    with running_simulator(fast_config()) as sim:
        env = cli_env(sim)
        first = _run(campaign, env, "--config", str(settings))
        assert first.returncode == ExitCode.OK, first.stderr[-2000:]
        assert pinned.is_file()
        elsewhere = tmp_path / "other" / "journal.sqlite"
        second = _run(campaign, env, "--ledger", str(tmp_path / "b.sqlite"), "--journal",
                      str(elsewhere))
        assert second.returncode == ExitCode.OK
        assert elsewhere.is_file()
        # another journal knows nothing: the second ledger sent again
        assert all(len(m) == 2 for m in sim.inbox().values())


def test_a_new_ledger_at_the_old_path_is_not_the_old_ones_owner(tmp_path: Path) -> None:
    """``rm -rf tari.dispatcher`` and run again: nothing sent before is sent again."""
    campaign = write_campaign(tmp_path / "tari.csv", 30, seed=15)
    with running_simulator(fast_config()) as sim:
        env = cli_env(sim)
        first = _run(campaign, env)
        assert first.returncode == ExitCode.OK, first.stderr[-2000:]
        sent = _messages(sim.inbox())
        shutil.rmtree(tmp_path / "tari.dispatcher")
        again = _run(campaign, env)
        assert again.returncode == ExitCode.OK, again.stderr[-2000:]
        assert _messages(sim.inbox()) == sent
    assert _states(tmp_path / "tari.dispatcher" / "ledger.sqlite")["already_sent"] == sent


def test_resend_ambiguous_keeps_the_rows_guarded_until_it_resends_them(tmp_path: Path) -> None:
    """Rows cut off mid-POST by a kill stay "possibly sent" for every other ledger, even once
    ``--resend-ambiguous`` has made them pending again in their own."""
    campaign = write_campaign(tmp_path / "tari.csv", 40, seed=16)
    source = CampaignSource(campaign, TEMPLATE)
    quiet = StopOptions(handle_signals=False)
    with running_simulator(fast_config()) as sim:
        settings = Settings(base_url=sim.base_url, api_key=Secret(DEFAULT_KEY),
                            rate=RateSpec.parse("1000/s"))
        first = run_campaign(source, settings=settings, ledger_path=tmp_path / "a.sqlite",
                             options=RunOptions(stops=quiet))
        cut = [row for row, _, state, _ in ledger_rows(tmp_path / "a.sqlite")
               if state == "sent"][:5]
        _as_if_killed_mid_post(tmp_path / "a.sqlite", journal_path(settings), cut)
        stop = tmp_path / "STOP"
        stop.touch()  # recover, requeue, then stop before sending anything
        requeued = run_campaign(
            source, settings=settings, ledger_path=tmp_path / "a.sqlite",
            options=RunOptions(stops=StopOptions(handle_signals=False, stop_file=stop),
                               resend_ambiguous=True))
        assert requeued.counts[RowState.PENDING] == len(cut)
        copy = run_campaign(source, settings=settings, ledger_path=tmp_path / "b.sqlite",
                            options=RunOptions(stops=quiet))
        inbox = sim.inbox()
    assert copy.counts[RowState.SENT] == 0  # A sent, or possibly sent, every one of them
    assert copy.counts[RowState.ALREADY_SENT] == first.counts[RowState.SENT]
    assert all(len(messages) == 1 for messages in inbox.values())


def _as_if_killed_mid_post(ledger: Path, journal: Path, rows: list[int]) -> None:
    """Rows sent, made to look as a ``kill -9`` leaves them: ``sending``, reserved, no id."""
    marks = ",".join("?" * len(rows))
    with closing(sqlite3.connect(ledger)) as db, db:
        db.execute(f"UPDATE rows SET state='sending', message_id=NULL WHERE row IN ({marks})",
                   rows)
    with closing(sqlite3.connect(journal)) as db, db:
        db.execute(f"UPDATE entries SET state='reserved', message_id=NULL, settled_at=NULL, "
                   f"pid=? WHERE ledger LIKE '%a.sqlite#%' AND row IN ({marks})",
                   [_dead_pid(), *rows])


def test_one_service_spelt_two_ways_has_one_journal() -> None:
    from dispatcher.operations.send_guard import same_service_url

    assert {same_service_url(u) for u in (
        "https://api.io.pagopa.it/api/v1", "HTTPS://API.IO.PAGOPA.IT:443/api/v1/",
        " https://api.io.pagopa.it/api/v1 ")} == {"https://api.io.pagopa.it/api/v1"}
    assert same_service_url("http://127.0.0.1:8787/api/v1") != same_service_url(
        "http://127.0.0.1:8788/api/v1")


def test_a_journal_that_cannot_be_opened_is_a_configuration_error(tmp_path: Path) -> None:
    campaign = write_campaign(tmp_path / "tari.csv", 5, seed=17)
    (tmp_path / "notadir").write_text("a file where a folder should be")
    with running_simulator(fast_config()) as sim:
        result = _run(campaign, cli_env(sim), "--journal",
                      str(tmp_path / "notadir" / "j.sqlite"))
        assert sim.inbox() == {}
    assert result.returncode == ExitCode.CONFIG_ERROR, result.stderr[-2000:]
    assert "send journal" in result.stderr and "Traceback" not in result.stderr
