"""Every command the tool suggests is taken from its output and run, and does what it says.

Each hint must repeat what the invocation needed (here a template and a ledger that are not
the defaults, in paths with spaces): the operator copies the line, and it works.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

from enginetools import TEMPLATE, cli_env, fast_config, ledger_states, run_cli, write_campaign

from dispatcher.simulator import FaultConfig, running_simulator
from dispatcher.vocabulary import ExitCode


def _suggested(output: str, command: str) -> list[str]:
    """The last ``dispatcher COMMAND ...`` the output suggests, as argv after the program."""
    found = re.findall(rf"(?<![\w-])dispatcher {command} [^`\n]*", output)
    assert found, f"no `dispatcher {command}` suggested in:\n{output}"
    words = shlex.split(found[-1].strip())
    assert words[0] == "dispatcher"
    return words[1:]


def _space(tmp_path: Path, rows: int) -> tuple[Path, Path, Path]:
    """A campaign, a copy of its template, a ledger: none where the defaults would look."""
    folder = tmp_path / "ufficio tributi"
    folder.mkdir()
    campaign = write_campaign(folder / "tari 2027.csv", rows)
    template = folder / "modello tari.toml"
    template.write_text(TEMPLATE.read_text(encoding="utf-8"), encoding="utf-8")
    return campaign, template, tmp_path / "registri" / "tari.sqlite"


def test_the_require_test_refusal_and_the_test_hint_lead_to_a_real_run(
    tmp_path: Path, simulator
) -> None:
    campaign, template, ledger = _space(tmp_path, 6)
    env = cli_env(simulator)
    refused = run_cli(["--lang", "it", "run", str(campaign), "-t", str(template), "--ledger",
                       str(ledger), "--require-test"], env)
    assert refused.returncode == ExitCode.INVALID_INPUT, refused.stderr
    test = _suggested(refused.stderr, "test")
    assert test[:2] == ["test", str(campaign)]
    assert {"--template", str(template), "--ledger", str(ledger)} <= set(test)

    sent = run_cli(test, env)
    assert sent.returncode == ExitCode.OK, sent.stdout + sent.stderr
    run = _suggested(sent.stdout, "run")
    assert run[-1] == "--require-test" and str(template) in run and str(ledger) in run

    real = run_cli(run, env)
    assert real.returncode == ExitCode.OK, real.stdout + real.stderr  # the test was found
    assert sum(ledger_states(ledger).values()) == 6
    assert not campaign.with_name("tari 2027.dispatcher").exists()  # no default ledger


def test_the_invalid_file_refusal_suggests_the_skip_invalid_run(
    tmp_path: Path, simulator
) -> None:
    campaign, template, ledger = _space(tmp_path, 5)
    with campaign.open("a", encoding="utf-8") as handle:
        handle.write("NOTACODE;Mario;Rossi;Via Roma 1;1000;326063279842733207;31/01/2027\n")
    env = cli_env(simulator)
    refused = run_cli(["run", str(campaign), "--template", str(template), "--ledger",
                       str(ledger)], env)
    assert refused.returncode == ExitCode.INVALID_INPUT
    assert simulator.stats()["requests_total"] == 0
    skip = _suggested(refused.stderr, "run")
    assert skip[-1] == "--skip-invalid"
    done = run_cli(skip, env)
    assert done.returncode == ExitCode.OK, done.stdout + done.stderr
    states = ledger_states(ledger)
    assert states["invalid"] == 1 and sum(states.values()) == 6


def test_a_stopped_run_says_how_to_resume_and_a_changed_file_how_to_start_anew(
    tmp_path: Path, simulator
) -> None:
    campaign, template, ledger = _space(tmp_path, 8)
    stop = tmp_path / "STOP"
    stop.touch()  # the run stops before sending anything
    env = cli_env(simulator)
    first = run_cli(["run", str(campaign), "-t", str(template), "--ledger", str(ledger),
                     "--stop-file", str(stop), "--rate", "400/s"], env)
    assert first.returncode == ExitCode.STOPPED, first.stdout + first.stderr
    resume = _suggested(first.stdout, "run")
    assert "--stop-file" not in resume and "400/s" in resume
    resumed = run_cli(resume, env)
    assert resumed.returncode == ExitCode.OK, resumed.stdout + resumed.stderr
    assert "pending" not in ledger_states(ledger)

    other = tmp_path / "registri" / "altra.sqlite"
    stopped = run_cli(["run", str(campaign), "-t", str(template), "--ledger", str(other),
                       "--stop-file", str(stop)], env)
    assert stopped.returncode == ExitCode.STOPPED
    write_campaign(campaign, 9)  # the file changes under the unfinished campaign
    changed = run_cli(_suggested(stopped.stdout, "run"), env)
    assert changed.returncode == ExitCode.INVALID_INPUT, changed.stdout + changed.stderr
    anew = _suggested(changed.stderr, "run")
    assert anew[-1] == "--new-campaign" and str(other) in anew
    switched = run_cli(anew, env)
    assert switched.returncode == ExitCode.OK, switched.stdout + switched.stderr
    assert sum(ledger_states(other).values()) == 9 + 8  # both campaigns' rows, each decided


def test_the_status_advice_for_ambiguous_rows_resends_them(tmp_path: Path) -> None:
    campaign, template, ledger = _space(tmp_path, 10)
    faults = FaultConfig(seed=2, gateway_error_after_store_share=0.3)  # 504 after storing
    with running_simulator(fast_config(faults=faults)) as sim:
        env = cli_env(sim)
        run = run_cli(["run", str(campaign), "-t", str(template), "--ledger", str(ledger),
                       "--rate", "400/s"], env)
        assert run.returncode == ExitCode.INCOMPLETE, run.stdout + run.stderr
        ambiguous = ledger_states(ledger)["ambiguous"]
        assert ambiguous > 0
        # the run itself says what the ambiguous rows are and how to resend them
        assert _suggested(run.stdout, "run")[-1] == "--resend-ambiguous"
        assert "risks" in run.stdout
        status = run_cli(["status", str(ledger), "--min-age", "0s"], env)
        resend = _suggested(status.stdout, "run")  # status knows only the ledger
        assert resend[-1] == "--resend-ambiguous"
        assert {"--template", str(template), "--ledger", str(ledger)} <= set(resend)
        sim.configure(faults={"gateway_error_after_store_share": 0.0})
        again = run_cli(resend, env)
        assert again.returncode == ExitCode.OK, again.stdout + again.stderr
        inbox = sim.inbox()
    assert "ambiguous" not in ledger_states(ledger)
    assert sum(len(messages) - 1 for messages in inbox.values()) == ambiguous  # as warned


def test_with_an_invalid_row_the_test_hint_and_the_refusal_keep_every_needed_flag(
    tmp_path: Path, simulator
) -> None:
    campaign, template, ledger = _space(tmp_path, 4)
    with campaign.open("a", encoding="utf-8") as handle:
        handle.write("NOTACODE;Mario;Rossi;Via Roma 1;1000;326063279842733207;31/01/2027\n")
    env = cli_env(simulator)
    sent = run_cli(["test", str(campaign), "-t", str(template), "--ledger", str(ledger),
                    "--to", "AAAAAA00A00A000A"], env)
    assert sent.returncode == ExitCode.OK, sent.stdout + sent.stderr
    run = _suggested(sent.stdout, "run")
    assert {"--require-test", "--skip-invalid"} <= set(run)  # it would exit 2 without
    real = run_cli(run, env)
    assert real.returncode == ExitCode.OK, real.stdout + real.stderr
    assert ledger_states(ledger)["invalid"] == 1
    # the refusal of a run without --skip-invalid keeps the --require-test it was given
    again = tmp_path / "again.sqlite"
    refused = run_cli(["run", str(campaign), "-t", str(template), "--ledger", str(again),
                       "--require-test"], env)
    assert refused.returncode == ExitCode.INVALID_INPUT
    assert {"--require-test", "--skip-invalid"} <= set(_suggested(refused.stderr, "run"))
