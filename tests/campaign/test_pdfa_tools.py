"""Ghostscript conversion and the external validator, run as the real programs they are.

The validators here are tiny real executables written to tmp_path (a shell script that
prints what veraPDF would and exits as it would), so the process handling is the real one.
"""

from __future__ import annotations

import shutil
import stat
from pathlib import Path

import pytest

from dispatcher.campaign.pdfa import (
    PdfaConversionFailed,
    PdfaError,
    PdfaToolMissing,
    PdfChecker,
    PdfProblemCode,
    check_pdf,
    convert_to_pdfa,
    external_validator,
    run_external_validator,
)

SAMPLES = Path(__file__).resolve().parents[2] / "sample_data"
SAMPLE = SAMPLES / "avviso_tari.pdf"
Code = PdfProblemCode
needs_gs = pytest.mark.skipif(shutil.which("gs") is None,
                              reason="Ghostscript is not installed (apt install ghostscript)")


def _program(path: Path, body: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


# -- conversion --------------------------------------------------------------------------------


@needs_gs
@pytest.mark.parametrize("variant", ["font_not_embedded.pdf", "javascript.pdf", "no_xmp.pdf",
                                     "no_output_intent.pdf", "restricted.pdf"])
def test_ghostscript_turns_a_refused_file_into_one_that_passes(
        variants: dict[str, Path], tmp_path: Path, variant: str) -> None:
    assert not check_pdf(variants[variant]).ok
    target = convert_to_pdfa(variants[variant], tmp_path / "out" / "avviso_pdfa.pdf")
    check = check_pdf(target)
    assert check.problems == () and check.pdfa == "2B"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert sorted(p.name for p in target.parent.iterdir()) == ["avviso_pdfa.pdf"]  # no leftovers


@needs_gs
def test_a_conversion_whose_result_fails_the_check_writes_nothing(
        variants: dict[str, Path], tmp_path: Path) -> None:
    target = tmp_path / "avviso_pdfa.pdf"
    with pytest.raises(PdfaConversionFailed) as caught:
        convert_to_pdfa(variants["no_xmp.pdf"], target, max_bytes=1000)
    assert [p.code for p in caught.value.problems] == [Code.TOO_LARGE]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("variant", "code"), [("password.pdf", Code.ENCRYPTED),
                                               ("not_a_pdf.pdf", Code.NOT_PDF),
                                               ("damaged.pdf", Code.DAMAGED)])
def test_files_ghostscript_cannot_read_are_refused_before_it_runs(
        variants: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        variant: str, code: Code) -> None:
    # a gs that would "succeed" on anything: it must never be asked
    _program(tmp_path / "bin" / "gs", f"echo called > {tmp_path / 'bin' / 'called'}; exit 0")
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    with pytest.raises(PdfaConversionFailed) as caught:
        convert_to_pdfa(variants[variant], tmp_path / "out.pdf")
    assert [p.code for p in caught.value.problems] == [code]
    assert not (tmp_path / "bin" / "called").exists()


def test_without_ghostscript_the_error_says_what_to_install(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(PdfaToolMissing, match="apt install ghostscript"):
        convert_to_pdfa(SAMPLE, tmp_path / "out.pdf")


def test_a_failing_ghostscript_is_quoted_and_leaves_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a Ghostscript installed under its own prefix, with its profile where gs keeps it
    prefix = tmp_path / "gs"
    profile = prefix / "share" / "ghostscript" / "10.0" / "iccprofiles" / "srgb.icc"
    profile.parent.mkdir(parents=True)
    profile.write_bytes(b"profile")
    _program(prefix / "bin" / "gs", "echo 'Error: /undefined in --run--' >&2; exit 1")
    monkeypatch.setenv("PATH", str(prefix / "bin"))
    out = tmp_path / "out"
    with pytest.raises(PdfaConversionFailed, match="could not convert") as caught:
        convert_to_pdfa(SAMPLE, out / "avviso.pdf")
    (problem,) = caught.value.problems
    assert problem.code == Code.CONVERSION_FAILED
    assert "Error: /undefined in --run--" in problem.english
    assert list(out.iterdir()) == []


# -- external validator ------------------------------------------------------------------------


def test_a_validator_that_fails_the_file_is_quoted_without_the_folder(tmp_path: Path) -> None:
    validator = _program(tmp_path / "fake-verapdf",
                         'echo "FAIL $3 2b"; echo "  6.2.11.4.1: font not embedded"; exit 1')
    (problem,) = run_external_validator(f"{validator} --format text", SAMPLE, timeout=30)
    assert problem.code == Code.VALIDATOR_FAILED
    assert "fake-verapdf refused the file: FAIL avviso_tari.pdf 2b | 6.2.11.4.1" \
        in problem.english
    assert str(SAMPLE.parent) not in problem.english
    assert "ha rifiutato il file" in problem.italian


def test_a_validator_gets_its_arguments_and_the_file_last(tmp_path: Path) -> None:
    log = tmp_path / "args.txt"
    validator = _program(tmp_path / "v", f'printf "%s\\n" "$@" > {log}; echo "PASS $3"')
    assert run_external_validator(f"{validator} --format 'text only'", SAMPLE) == ()
    assert log.read_text().splitlines() == ["--format", "text only", str(SAMPLE)]


@pytest.mark.parametrize("report", ['<validationReport isCompliant="false">',
                                    "The file is non-compliant with PDF/A-2B"])
def test_a_report_of_failure_counts_even_with_exit_code_zero(tmp_path: Path,
                                                             report: str) -> None:
    validator = _program(tmp_path / "v", f"echo '{report}'; exit 0")
    assert [p.code for p in run_external_validator(str(validator), SAMPLE)] == [
        Code.VALIDATOR_FAILED]


def test_a_passing_summary_mentioning_failed_checks_is_a_pass(tmp_path: Path) -> None:
    validator = _program(tmp_path / "v", "echo 'PASS file.pdf: 0 failed checks, compliant'")
    assert run_external_validator(str(validator), SAMPLE) == ()


def test_a_validator_that_hangs_is_stopped_and_said_so(tmp_path: Path) -> None:
    validator = _program(tmp_path / "slow", "sleep 30")
    (problem,) = run_external_validator(str(validator), SAMPLE, timeout=0.5)
    assert problem.code == Code.VALIDATOR_TIMEOUT and "0.5 s" in problem.english


@pytest.mark.parametrize("command", ["no-such-validator-anywhere --format text", "",
                                     "/nonexistent/verapdf"])
def test_a_missing_validator_is_a_clear_error(command: str) -> None:
    with pytest.raises(PdfaToolMissing) as caught:
        run_external_validator(command, SAMPLE)
    assert "--pdfa-validator" in str(caught.value)


def test_a_validator_command_with_broken_quotes_is_refused() -> None:
    with pytest.raises(PdfaError, match="cannot be read"):
        run_external_validator("verapdf --format 'text", SAMPLE)


def test_a_checker_runs_the_validator_once_per_distinct_passing_file(
        tmp_path: Path, variants: dict[str, Path]) -> None:
    calls = tmp_path / "calls.txt"
    validator = _program(tmp_path / "v", f'echo "$1" >> {calls}; echo "FAIL $1"; exit 1')
    checker = PdfChecker(max_bytes=1_000_000, validator=external_validator(str(validator)))
    for _ in range(100):
        check = checker.check(SAMPLE)
    assert [p.code for p in check.problems] == [Code.VALIDATOR_FAILED]
    assert [p.code for p in checker.check(variants["no_xmp.pdf"]).problems] == [
        Code.PDFA_NOT_DECLARED]  # refused by the pre-flight: the validator is not asked
    assert calls.read_text().splitlines() == [str(SAMPLE)]


def test_a_checker_refuses_a_missing_validator_up_front() -> None:
    with pytest.raises(PdfaToolMissing, match="not found"):
        external_validator("no-such-validator-anywhere")


def test_a_ghostscript_that_hangs_is_stopped(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    prefix = tmp_path / "gs"
    profile = prefix / "share" / "ghostscript" / "10.0" / "iccprofiles" / "srgb.icc"
    profile.parent.mkdir(parents=True)
    profile.write_bytes(b"profile")
    _program(prefix / "bin" / "gs", "exec /bin/sleep 30")
    monkeypatch.setenv("PATH", str(prefix / "bin"))
    with pytest.raises(PdfaConversionFailed, match=r"within 0\.5 s") as caught:
        convert_to_pdfa(SAMPLE, tmp_path / "out" / "avviso.pdf", timeout=0.5)
    assert [p.code for p in caught.value.problems] == [Code.CONVERSION_FAILED]
    assert list((tmp_path / "out").iterdir()) == []
