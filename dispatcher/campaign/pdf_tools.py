"""The programs an ente may have beside us: Ghostscript to convert, a validator to judge.

Both run as child processes from an argument list (never through a shell), in their own
process group so that a timeout ends the whole program (veraPDF's launcher is a shell script
that starts Java), with no standard input. A missing program is a :class:`PdfaToolMissing`
that says what to install; a file they cannot handle is a :class:`PdfProblem`, like any other
reason to refuse an attachment.
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

import pikepdf

from dispatcher.campaign import pdf_problems as words
from dispatcher.campaign.pdf_check import PdfCheck, Validator, check_pdf
from dispatcher.campaign.pdf_problems import PdfProblem, PdfProblemCode
from dispatcher.privacy import mask_fiscal_codes_in
from dispatcher.storage import private_folder

__all__ = ["PdfaConversionFailed", "PdfaError", "PdfaToolMissing", "convert_to_pdfa",
           "external_validator", "ghostscript_profile", "run_external_validator"]

_NOT_CONVERTIBLE = {PdfProblemCode.MISSING, PdfProblemCode.UNREADABLE, PdfProblemCode.NOT_PDF,
                    PdfProblemCode.DAMAGED}
_QUOTED_LINES = 3
_LINE_WIDTH = 160
# what a validator prints for a failed file: veraPDF's text "FAIL path", its XML/JSON reports;
# FAIL in capitals only, so that a summary's "0 failed" is not taken for a failure
_FAIL_WORD = re.compile(r"\bFAIL\b")
_NON_COMPLIANT = re.compile(r"\bnon[- ]compliant\b|\bnot compliant\b|"
                            r"isCompliant\W{1,3}false", re.IGNORECASE)
# where Debian's ghostscript package and a source build put Ghostscript's sRGB profile
_PROFILE_PLACES = ("/usr/share/color/icc/ghostscript/srgb.icc",
                   "/usr/share/ghostscript/*/iccprofiles/srgb.icc",
                   "/usr/local/share/ghostscript/*/iccprofiles/srgb.icc")


class PdfaError(Exception):
    """Something around the PDF/A tools went wrong; the message says what to do."""


class PdfaToolMissing(PdfaError):
    """A program the operator asked for (Ghostscript, the validator) is not installed."""


class PdfaConversionFailed(PdfaError):
    """Ghostscript failed, or its output is still not acceptable: ``problems`` say why."""

    def __init__(self, message: str, problems: tuple[PdfProblem, ...]) -> None:
        super().__init__(message)
        self.problems = problems


# -- conversion --------------------------------------------------------------------------------


def ghostscript_profile(gs: str | None = None) -> Path:
    """Ghostscript's own sRGB ICC profile, the colour space PDF/A-2b output is tied to."""
    places = list(_PROFILE_PLACES)
    if gs:  # a Ghostscript installed elsewhere keeps its profiles under its own prefix
        prefix = Path(gs).resolve().parent.parent
        places.append(str(prefix / "share" / "ghostscript" / "*" / "iccprofiles" / "srgb.icc"))
    for place in places:
        for found in sorted(glob.glob(place), reverse=True):
            return Path(found)
    raise PdfaToolMissing("Ghostscript's colour profile srgb.icc was not found; "
                          "install Ghostscript completely (apt install ghostscript)")


def convert_to_pdfa(source: Path, target: Path, *, max_bytes: int | None = None,
                    timeout: float = 300.0) -> Path:
    """Convert ``source`` to PDF/A-2b at ``target`` (mode 0600) and prove it with check_pdf.

    ``target`` is written only when the result passes the pre-flight (and ``max_bytes``, when
    given); otherwise :class:`PdfaConversionFailed` carries the problems and nothing is left
    behind. ``-dPDFACompatibilityPolicy=1`` makes Ghostscript drop what PDF/A cannot hold
    (scripts, for instance) instead of giving up.
    """
    gs = shutil.which("gs")
    if gs is None:
        raise PdfaToolMissing("Ghostscript (gs) is needed to convert attachments to PDF/A and "
                              "is not installed: apt install ghostscript")
    source, target = Path(source).absolute(), Path(target).absolute()
    shown = mask_fiscal_codes_in(source.name)
    before = check_pdf(source, max_bytes=1 << 62, name=source.name)
    hopeless = [problem for problem in before.problems if problem.code in _NOT_CONVERTIBLE
                or (problem.code == PdfProblemCode.ENCRYPTED and _needs_password(source))]
    if hopeless:  # Ghostscript would read such a file as PostScript, or print blank pages
        raise PdfaConversionFailed(f"{shown} cannot be converted to PDF/A", tuple(hopeless))
    profile = ghostscript_profile(gs)
    private_folder(target.parent)
    work = Path(tempfile.mkdtemp(prefix=".pdfa-", dir=target.parent))
    try:
        definition = work / "pdfa_def.ps"
        definition.write_text(_pdfa_definition(profile), encoding="ascii")
        output = work / "out.pdf"  # a plain name: gs reads % in -sOutputFile as a page pattern
        argv = [gs, "-dSAFER", "-dBATCH", "-dNOPAUSE", "-dNOOUTERSAVE", "-dQUIET",
                "-sDEVICE=pdfwrite", "-dPDFA=2", "-dPDFACompatibilityPolicy=1",
                "-sColorConversionStrategy=RGB", "-sProcessColorModel=DeviceRGB",
                f"--permit-file-read={profile}", f"-sOutputFile={output}",
                str(definition), str(source)]
        try:
            code, text = _run(argv, timeout)
        except subprocess.TimeoutExpired:
            raise PdfaConversionFailed(
                f"Ghostscript did not convert {shown} within {timeout:g} s",
                (words.conversion_timeout(timeout),)) from None
        lines = _first_lines(text, source)
        if code != 0 or not output.is_file():
            raise PdfaConversionFailed(f"Ghostscript could not convert {shown} to PDF/A",
                                       (words.conversion_failed(lines),))
        os.chmod(output, 0o600)
        check: PdfCheck = check_pdf(output, max_bytes=max_bytes or (1 << 62), name=target.name)
        problems = check.problems or _lost_pages(source, output)
        if problems:
            raise PdfaConversionFailed(
                f"the PDF/A that Ghostscript made of {shown} is still not acceptable", problems)
        os.replace(output, target)
        return target
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _needs_password(path: Path) -> bool:
    """Only a password opens it (a file merely restricted by its owner converts fine)."""
    try:
        pikepdf.open(path).close()
    except pikepdf.PasswordError:
        return True
    except pikepdf.PdfError:
        return False
    return False


def _lost_pages(source: Path, output: Path) -> tuple[PdfProblem, ...]:
    with pikepdf.open(source) as before, pikepdf.open(output) as after:
        expected, found = len(before.pages), len(after.pages)
    return () if expected == found else (words.pages_lost(expected, found),)


def _pdfa_definition(profile: Path) -> str:
    """Ghostscript's lib/PDFA_def.ps, reduced to what PDF/A-2b needs: an RGB output intent."""
    escaped = str(profile).replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    return f"""%!
/ICCProfile ({escaped}) def
[/_objdef {{icc_PDFA}} /type /stream /OBJ pdfmark
[{{icc_PDFA}} << /N 3 >> /PUT pdfmark
[{{icc_PDFA}} ICCProfile (r) file /PUT pdfmark
[/_objdef {{OutputIntent_PDFA}} /type /dict /OBJ pdfmark
[{{OutputIntent_PDFA}} <<
  /Type /OutputIntent
  /S /GTS_PDFA1
  /DestOutputProfile {{icc_PDFA}}
  /OutputConditionIdentifier (sRGB IEC61966-2.1)
>> /PUT pdfmark
[{{Catalog}} << /OutputIntents [ {{OutputIntent_PDFA}} ] >> /PUT pdfmark
"""


# -- external validator ------------------------------------------------------------------------


def run_external_validator(command: str, path: Path, *,
                           timeout: float = 120.0) -> tuple[PdfProblem, ...]:
    """Run ``command`` (split like a shell would, run without one) with ``path`` appended.

    A non-zero exit, or a report that says FAIL / non-compliant, is a problem quoting the
    validator's first lines; no problem means the validator passed the file. A command that
    cannot be found or run raises :class:`PdfaToolMissing`.
    """
    argv = _command(command)
    program = os.path.basename(argv[0])
    path = Path(path)
    try:
        code, text = _run([*argv, os.fspath(path)], timeout)
    except subprocess.TimeoutExpired:
        return (words.validator_timeout(program, timeout),)
    except (FileNotFoundError, PermissionError, NotADirectoryError) as error:
        raise PdfaToolMissing(
            f"the PDF/A validator {argv[0]!r} cannot be run ({error.strerror or error}); "
            "install it (veraPDF: https://verapdf.org) or correct --pdfa-validator") from None
    if code != 0 or _reports_failure(text):
        return (words.validator_failed(program, _first_lines(text, path)),)
    return ()


def external_validator(command: str, *, timeout: float = 120.0) -> Validator:
    """``run_external_validator`` as a :class:`PdfChecker` validator (checked up front)."""
    argv = _command(command)
    if shutil.which(argv[0]) is None:
        raise PdfaToolMissing(
            f"the PDF/A validator {argv[0]!r} was not found; install it (veraPDF: "
            "https://verapdf.org) or correct --pdfa-validator")

    def validate(path: Path) -> tuple[PdfProblem, ...]:
        return run_external_validator(command, path, timeout=timeout)

    return validate


def _command(command: str) -> list[str]:
    try:
        argv = shlex.split(command)
    except ValueError as error:
        raise PdfaError(f"--pdfa-validator {command!r} cannot be read: {error}") from None
    if not argv:
        raise PdfaToolMissing("--pdfa-validator names no program")
    return argv


def _reports_failure(text: str) -> bool:
    return bool(_FAIL_WORD.search(text) or _NON_COMPLIANT.search(text))


def _run(argv: Sequence[str], timeout: float) -> tuple[int, str]:
    """Exit code and output (stdout, then stderr) of a program, its whole group ended on
    timeout."""
    with subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, start_new_session=True) as process:
        try:
            out, err = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            raise
    text = out.decode("utf-8", "replace") + "\n" + err.decode("utf-8", "replace")
    return process.returncode, text


def _first_lines(text: str, path: Path) -> list[str]:
    """The first lines worth quoting, with the file's path shortened to its name."""
    lines = []
    for line in text.replace(os.fspath(path), path.name).splitlines():
        line = line.strip()
        if line:
            lines.append(line if len(line) <= _LINE_WIDTH else line[:_LINE_WIDTH - 1] + "…")
        if len(lines) == _QUOTED_LINES:
            break
    return lines
