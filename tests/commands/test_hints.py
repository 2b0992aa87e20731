"""A suggested command repeats the context flags of the invocation, and only those."""

from __future__ import annotations

import shlex

from dispatcher.commands.hints import Invocation, suggest
from dispatcher.operations.errors import Suggestion


def test_the_campaign_flags_travel_and_the_per_run_choices_do_not() -> None:
    given = Invocation.parse([
        "dispatcher", "--lang", "it", "--log-file", "run.log", "-q", "run", "tari 2027.csv",
        "-t", "t.toml",
        "--ledger=out/ledger.sqlite", "--skip-invalid", "--rate", "300/s", "--json", "--yes",
        "--journal", "j.sqlite", "--encoding", "cp1252"])
    assert given is not None and given.file == "tari 2027.csv"
    command = suggest("run", given.file, flags=("--resend-ambiguous",), invocation=given)
    assert shlex.split(command) == [
        "dispatcher", "run", "tari 2027.csv", "--template", "t.toml", "--ledger",
        "out/ledger.sqlite", "--rate", "300/s", "--encoding", "cp1252", "--journal",
        "j.sqlite", "--resend-ambiguous"]


def test_a_target_gets_only_the_flags_it_accepts() -> None:
    given = Invocation({"template": "t.toml", "ledger": "l.sqlite", "rate": "300/s",
                        "journal": "j.sqlite"}, "c.csv")
    words = shlex.split(suggest("test", "c.csv", flags=("--to", "AAAAAA00A00A000A"),
                                invocation=given))
    assert words == ["dispatcher", "test", "c.csv", "--template", "t.toml", "--ledger",
                     "l.sqlite", "--to", "AAAAAA00A00A000A"]  # test has no --rate, --journal
    status = shlex.split(suggest("status", "l.sqlite", invocation=given))
    assert status == ["dispatcher", "status", "l.sqlite", "--rate", "300/s"]


def test_words_are_quoted_for_a_shell() -> None:
    given = Invocation({"template": "modelli/tari $(rm -rf).toml"}, "a;b.csv")
    command = suggest("run", given.file, invocation=given)
    assert shlex.split(command)[2:] == ["a;b.csv", "--template", "modelli/tari $(rm -rf).toml"]
    assert "'a;b.csv'" in command


def test_a_recorded_command_line_is_read_like_the_current_one() -> None:
    recorded = Invocation.recorded("dispatcher run c.csv -tt.toml --ledger 'my ledger.sqlite'")
    assert recorded == Invocation({"template": "t.toml", "ledger": "my ledger.sqlite"},
                                  "c.csv")
    assert Invocation.recorded("dispatcher demo --out x") == Invocation({}, None)
    assert Invocation.recorded("rm -rf /") is None
    assert Invocation.recorded("dispatcher run 'unbalanced") is None


def test_an_operations_suggestion_gets_the_invocations_flags() -> None:
    from dispatcher.commands.hints import suggestion_text

    advice = Suggestion("run", ("c.csv",), ("--skip-invalid",))
    assert advice.plain() == "dispatcher run c.csv --skip-invalid"
    given = Invocation({"template": "t.toml", "config": "prod.toml"}, "c.csv")
    assert suggestion_text(advice, given) == (
        "dispatcher run c.csv --template t.toml --config prod.toml --skip-invalid")
