"""The commands a report suggests repeat what the campaign's run needed, and nothing else."""

from __future__ import annotations

import shlex
from pathlib import Path

from dispatcher.ledger import RunRecord
from dispatcher.report.settle import completeness, settle_commands
from dispatcher.vocabulary import RowState


def _run(command: str | None) -> RunRecord:
    return RunRecord(run_id=1, campaign_id=1, started_at=0.0, finished_at=1.0, rate="1/s",
                     requests=0, throttled=0, stopped_reason=None, exit_code=3,
                     last_second=None, command=command)


def _settle(command: str | None, *, ledger: Path, found: Path | None = None,
            recorded: str = "tari.csv", template: bool = True, campaign_id: int | None = None):
    return settle_commands((_run(command),), ledger_path=ledger, input_path=found,
                           recorded_input=recorded, template_recorded=template,
                           campaign_id=campaign_id)


def test_the_campaigns_flags_are_kept_and_one_off_choices_dropped(tmp_path: Path) -> None:
    ledger = tmp_path / "archivio 2027" / "ledger.sqlite"
    recorded = ("dispatcher --log-level debug run tari.csv --skip-invalid "
                "-t 'modelli/tari 2027.toml' "
                f"--ledger {shlex.quote(str(ledger))} --config ente.toml --rate 150/5s --yes "
                "--retry-failed --deadline 07:30 --json --operator anna")
    found = tmp_path / "tari.csv"
    commands = _settle(recorded, ledger=ledger, found=found)
    run = shlex.split(commands.resume)
    assert run == ["dispatcher", "run", str(found), "--skip-invalid", "-t",
                   "modelli/tari 2027.toml", "--config", "ente.toml", "--rate", "150/5s",
                   "--ledger", str(ledger)]
    assert shlex.split(commands.resend_ambiguous) == [*run, "--resend-ambiguous"]
    assert shlex.split(commands.status) == ["dispatcher", "status", str(ledger), "--config",
                                            "ente.toml"]
    assert "'modelli/tari 2027.toml'" in commands.resume  # quoted for the shell


def test_the_default_ledger_needs_no_flag(tmp_path: Path) -> None:
    found = tmp_path / "tari.csv"
    ledger = tmp_path / "tari.dispatcher" / "ledger.sqlite"
    commands = _settle("dispatcher run tari.csv -t tari.toml --resend-ambiguous", ledger=ledger,
                       found=found)
    assert shlex.split(commands.resume) == ["dispatcher", "run", str(found), "-t", "tari.toml"]
    assert commands.resend_ambiguous.count("--resend-ambiguous") == 1


def test_without_a_recorded_run_the_template_is_said_to_be_missing(tmp_path: Path) -> None:
    commands = _settle(None, ledger=tmp_path / "l.sqlite")
    assert commands.resume is None and commands.resend_ambiguous is None
    assert commands.template_unknown
    assert commands.status == f"dispatcher status {tmp_path / 'l.sqlite'}"
    plain = _settle(None, ledger=tmp_path / "tari.dispatcher" / "ledger.sqlite",
                    recorded=str(tmp_path / "tari.csv"), template=False)
    assert plain.resume == f"dispatcher run {tmp_path / 'tari.csv'}"


def test_an_older_campaign_gets_only_a_status_command(tmp_path: Path) -> None:
    commands = _settle("dispatcher run tari.csv -t t.toml", ledger=tmp_path / "l.sqlite",
                       campaign_id=2)
    assert commands.resume is None
    assert shlex.split(commands.status)[-2:] == ["--campaign", "2"]


def test_complete_means_final_and_nothing_ambiguous() -> None:
    done = {**dict.fromkeys(RowState, 0), RowState.SENT: 2, RowState.NO_PROFILE: 1}
    assert completeness(done, {"PROCESSED": 1, "REJECTED": 1}, True).complete
    assert not completeness(done, {"PROCESSED": 1, "NOT_CHECKED": 1}, True).complete
    assert not completeness(done, {"PROCESSED": 1, "ACCEPTED": 1}, True).complete
    ambiguous = {**done, RowState.AMBIGUOUS: 1}
    state = completeness(ambiguous, {"PROCESSED": 2}, True)
    assert not state.complete and state.open_rows == 1 and state.ambiguous == 1
    pending = {**done, RowState.PENDING: 3}
    assert completeness(pending, {"PROCESSED": 2}, False).unfinished == 3
    cut_short = completeness(done, {"PROCESSED": 2}, False)
    assert cut_short.unrecorded and not cut_short.complete


def test_paths_are_made_absolute_from_the_folder_the_run_was_typed_in(tmp_path: Path) -> None:
    import json

    ledger = tmp_path / "archivio" / "ledger.sqlite"
    record = RunRecord(run_id=1, campaign_id=1, started_at=0.0, finished_at=1.0, rate="1/s",
                       requests=0, throttled=0, stopped_reason=None, exit_code=3,
                       last_second=None,
                       command="dispatcher run tari.csv -t modelli/tari.toml --config ente.toml",
                       settings=json.dumps({"working_directory": "/srv/tributi"}))
    commands = settle_commands((record,), ledger_path=ledger, input_path=None,
                               recorded_input="tari.csv", template_recorded=True)
    run = shlex.split(commands.resume)
    assert run[:3] == ["dispatcher", "run", "/srv/tributi/tari.csv"]
    assert run[3:7] == ["-t", "/srv/tributi/modelli/tari.toml", "--config",
                        "/srv/tributi/ente.toml"]
    assert shlex.split(commands.status)[2] == str(ledger.absolute())
