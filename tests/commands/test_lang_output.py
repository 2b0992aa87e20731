"""One language at a time: ``--lang it`` prints no English label, ``--lang en`` no Italian one.

The labels looked for come from the commands' own catalog (``dispatcher.po``): every piece of
a msgid between its placeholders that its translation does not share. So a line printed
without going through the translator, or a msgid left without its Italian text, shows up
here as an English label in the Italian output. ``validate``, ``run`` and ``status`` run as
an operator runs them: subprocesses against the simulator over loopback, with a campaign
that has invalid rows, ambiguous sends (a gateway 504 after IO stored the message) and a
status pass, so their warnings and advice are printed too.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from enginetools import TEMPLATE, cli_env, fast_config, run_cli, write_campaign
from langtools import catalog_labels, labels_found

from dispatcher.i18n import LOCALE_DIR
from dispatcher.simulator import FaultConfig, running_simulator
from dispatcher.vocabulary import ExitCode

CATALOG = LOCALE_DIR / "it" / "LC_MESSAGES" / "dispatcher.po"
HEADERS = ("codice_fiscale", "nome", "cognome", "indirizzo", "importo", "codice_avviso",
           "scadenza")  # the campaign's own column names are data, in any language


def _labels() -> tuple[set[str], set[str]]:
    return catalog_labels(CATALOG)


def _found(labels: set[str], output: str) -> list[str]:
    return labels_found(labels, output)


def _campaign(tmp: Path) -> Path:
    """Ten valid rows and two invalid ones (a bad fiscal code, an amount in euros)."""
    path = write_campaign(tmp / "tari.csv", 10, seed=5)
    with path.open("a", encoding="utf-8") as handle:
        handle.write("NOTACODE;Mario;Rossi;Via Roma 1;1000;301000000000000024;31/01/2027\n")
        handle.write("RSSMRA80A01H501U;Maria;Rossi;Via Po 2;12,50;301000000000000024;"
                     "31/01/2027\n")
    return path


def _outputs(tmp: Path, lang: str) -> dict[str, str]:
    """What validate, run and status print (stdout and stderr), paths and headers removed."""
    campaign = _campaign(tmp)
    ledger = tmp / "ldg" / "l.sqlite"
    faults = FaultConfig(seed=2, gateway_error_after_store_share=0.3)
    with running_simulator(fast_config(faults=faults)) as sim:
        env = cli_env(sim)
        validate = run_cli(["validate", str(campaign), "-t", str(TEMPLATE), "--lang", lang],
                           env)
        assert validate.returncode == ExitCode.INVALID_INPUT, validate.stderr
        # the root option is the same as the command's
        run = run_cli(["--lang", lang, "run", str(campaign), "-t", str(TEMPLATE), "--ledger",
                       str(ledger), "--skip-invalid", "--rate", "400/s"], env)
        assert run.returncode == ExitCode.INCOMPLETE, run.stdout + run.stderr
        status = run_cli(["status", str(ledger), "--min-age", "0s", "--lang", lang], env)
        assert status.returncode == ExitCode.INCOMPLETE, status.stdout + status.stderr
    outputs = {}
    for name, done in (("validate", validate), ("run", run), ("status", status)):
        # log lines are JSON for machines off a terminal: codes, not labels
        said = [line for line in done.stderr.splitlines() if not line.startswith("{")]
        text = (done.stdout + "\n".join(said)).replace(str(tmp), "<tmp>")
        text = text.replace(str(TEMPLATE), "<template>")
        for header in HEADERS:
            text = re.sub(rf"(?<!\w){header}(?!\w)", "<column>", text)
        outputs[name] = _without_code(text)
    return outputs


def _without_code(text: str) -> str:
    """Suggested command lines, flags and paths are code (``--ledger``, ``results.csv``)."""
    text = re.sub(r"dispatcher (?:run|test|status|validate) [^`\n]*", "<command>", text)
    text = re.sub(r"<tmp>/\S+", "<path>", text)
    return re.sub(r"--[a-z][\w-]*", "<flag>", text)


@pytest.fixture(scope="module")
def italiano(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return _outputs(tmp_path_factory.mktemp("it"), "it")


@pytest.fixture(scope="module")
def inglese(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return _outputs(tmp_path_factory.mktemp("en"), "en")


def test_the_label_lists_are_built_from_the_catalog() -> None:
    english, italian = _labels()
    assert {"rows in the file", "read as", "Dry run: nothing was sent"} <= english
    assert {"righe nel file", "letto come"} <= italian
    assert "POST /profiles" not in english  # the same in both languages: not a label


@pytest.mark.parametrize("command", ["validate", "run", "status"])
def test_italian_output_has_no_english_label(italiano: dict[str, str], command: str) -> None:
    english, _ = _labels()
    assert _found(english, italiano[command]) == [], italiano[command]


@pytest.mark.parametrize("command", ["validate", "run", "status"])
def test_english_output_has_no_italian_label(inglese: dict[str, str], command: str) -> None:
    _, italian = _labels()
    output = inglese[command]
    if command == "validate":  # the message itself is the campaign's Italian text
        output = output.split("\nPreview of row")[0]
    assert _found(italian, output) == [], output


def test_the_italian_output_is_the_italian_one(italiano: dict[str, str]) -> None:
    """Not merely free of English: the labels, counts and advice are there, in Italian."""
    validate = italiano["validate"]
    assert re.search(r"letto come +CSV, UTF-8, separatore ';'", validate)
    assert re.search(r"non valide +2 ", validate)
    assert "I primi 4 problemi di riga:" in validate
    assert "riga 12, colonna <column> (fiscal_code)" in validate
    assert "2 righe di <path> vanno corrette prima dell'invio" in validate
    assert "registro: <path>" in italiano["run"]
    assert "Stato IO della campagna" in italiano["status"]
    assert "per inviarle di nuovo" in italiano["status"]
    assert italiano["status"].rstrip().endswith("<command>")  # the advice: a whole command
