"""The attachment files of a campaign: found, judged once each, converted when asked.

Rows name their PDFs in one column (``allegati_file`` / ``attachments``): one path, or
several separated by ``;``, ``|`` or a line break (Alt+Enter in an Excel cell), relative to
the campaign file's folder (an absolute path is taken as written). The app shows each by
its file name; its id in the message is made from that name (``Referto 2027.pdf`` →
``referto-2027``) and its URL is ``attachments/<id>``. Campaign-wide PDFs come from the
template's ``[[remote.attachments]]`` (remote_template.py) and precede the row's own.

80,000 rows that name one leaflet must not open it 80,000 times: :class:`AttachmentFiles`
keeps the verdict of each (file, name) it has judged, and under it pdfa.PdfChecker keeps one
verdict per distinct content. ``--convert-pdfa`` converts a PDF that fails only the PDF/A
pre-flight through Ghostscript into :attr:`AttachmentOptions.converted_dir` (by default the
folder ``<campaign file>.dispatcher/pdfa/`` beside the campaign, where the ledger lives too),
named by the SHA-256 of the original, so a rerun converts nothing again; the converted copy
is what gets checked, hashed and registered. ``--pdfa-validator CMD`` runs the operator's
validator once on each distinct content that passed the pre-flight.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from dispatcher.campaign.pdf_problems import PdfProblem, PdfProblemCode
from dispatcher.campaign.problems import ProblemCode
from dispatcher.campaign.remote_template import TemplateAttachment, attachment_id
from dispatcher.content.model import Attachment
from dispatcher.paths import campaign_folder
from dispatcher.storage import private_folder
from dispatcher.vocabulary import Language

__all__ = ["FILE_CODES", "PROBLEM_STRUCT", "AttachmentFiles", "AttachmentOptions",
           "CheckedFile", "attachment_url", "parse_size", "split_paths"]

_SEPARATORS = re.compile(r"[;|\r\n]+")
PDF_CODES: dict[str, ProblemCode] = {
    PdfProblemCode.MISSING: ProblemCode.ATTACHMENT_MISSING,
    PdfProblemCode.UNREADABLE: ProblemCode.ATTACHMENT_MISSING,
    PdfProblemCode.NOT_PDF: ProblemCode.ATTACHMENT_NOT_PDF,
    PdfProblemCode.DAMAGED: ProblemCode.ATTACHMENT_NOT_PDF,
    PdfProblemCode.ENCRYPTED: ProblemCode.ATTACHMENT_ENCRYPTED,
    PdfProblemCode.TOO_LARGE: ProblemCode.ATTACHMENT_TOO_LARGE,
    PdfProblemCode.NAME: ProblemCode.ATTACHMENT_NAME,
    PdfProblemCode.VALIDATOR_FAILED: ProblemCode.ATTACHMENT_VALIDATOR,
    PdfProblemCode.VALIDATOR_TIMEOUT: ProblemCode.ATTACHMENT_VALIDATOR,
}
"""How a PDF reason becomes a row problem; every other reason is ``attachment_not_pdfa``."""
FILE_CODES: tuple[ProblemCode, ...] = (
    ProblemCode.ATTACHMENT_MISSING, ProblemCode.ATTACHMENT_NOT_PDF,
    ProblemCode.ATTACHMENT_ENCRYPTED, ProblemCode.ATTACHMENT_TOO_LARGE,
    ProblemCode.ATTACHMENT_NAME, ProblemCode.ATTACHMENT_NOT_PDFA,
    ProblemCode.ATTACHMENT_VALIDATOR, ProblemCode.ATTACHMENT_ID_DUPLICATE,
)
"""The problems one cell of attachment paths can have (one rule each)."""
# reasons Ghostscript cannot cure: there is no document to convert
_NOT_CONVERTIBLE = {PdfProblemCode.MISSING, PdfProblemCode.UNREADABLE, PdfProblemCode.NOT_PDF,
                    PdfProblemCode.DAMAGED, PdfProblemCode.ENCRYPTED}


def display_name(file_name: str) -> str:
    """The name the app shows: ``Referto 2027.PDF`` as ``Referto 2027.pdf`` (IO's guide asks
    for names ending in ``.pdf``; a Windows export often writes the extension upper-case)."""
    stem, dot, extension = file_name.rpartition(".")
    return f"{stem}.pdf" if dot and extension.lower() == "pdf" else file_name


def split_paths(cell: str | None) -> list[str]:
    """``"a.pdf; b.pdf|c.pdf"`` → the three paths, trimmed; empty parts dropped."""
    if not cell:
        return []
    return [part.strip() for part in _SEPARATORS.split(cell) if part.strip()]


_SIZE = re.compile(r"^\s*(\d+(?:[.,]\d+)?)\s*([kmg]i?)?b?\s*$", re.IGNORECASE)
_FACTORS = {"": 1, "k": 1000, "m": 1000**2, "g": 1000**3,
            "ki": 1024, "mi": 1024**2, "gi": 1024**3}


def parse_size(text: str) -> int:
    """``10MB`` → 10,000,000 (decimal units like the messages; ``MiB`` for binary ones).

    ``--max-attachment-size`` takes it; ``1,5MB`` is read the Italian way, as 1.5 MB.
    """
    found = _SIZE.match(text)
    if found is None:
        raise ValueError(f"{text!r} is not a size (write 10MB, 500kB or a number of bytes)")
    number = float(found.group(1).replace(",", "."))
    size = int(number * _FACTORS[(found.group(2) or "").lower()])
    if size < 1:
        raise ValueError(f"{text!r}: the limit must be at least one byte")
    return size


def attachment_url(identifier: str) -> str:
    """Where IO fetches the bytes, relative to ``/messages/{third_party_id}/``."""
    return f"attachments/{identifier}"


def problem_code(problem: PdfProblem) -> ProblemCode:
    return PDF_CODES.get(problem.code, ProblemCode.ATTACHMENT_NOT_PDFA)


@dataclass(frozen=True, slots=True)
class AttachmentOptions:
    """The campaign's choices about attachments (CampaignOptions carries them)."""

    max_bytes: int | None = None  # default: pdfa.DEFAULT_MAX_BYTES (10 MB)
    convert_pdfa: bool = False
    converted_dir: Path | None = None  # default: <campaign file>.dispatcher/pdfa
    validator: str | None = None  # --pdfa-validator, e.g. "verapdf --format text"


@dataclass(frozen=True, slots=True)
class CheckedFile:
    """One attachment as judged: what the row wrote, what will be registered, and why not."""

    written: str
    source: Path  # the file to register: the converted copy when one was made
    name: str
    id: str
    sha256: str | None
    size: int | None
    problems: tuple[PdfProblem, ...]
    converted: bool = False

    def attachment(self) -> Attachment:
        """The typed attachment of a valid row (its file passed, so it has a hash)."""
        if self.sha256 is None or self.size is None:
            raise ValueError(f"{self.written}: an attachment with problems has no content")
        return Attachment(id=self.id, name=self.name, sha256=self.sha256, size=self.size,
                          url=attachment_url(self.id), source=self.source)


class AttachmentFiles:
    """Every attachment of one campaign, each (file, name) judged once.

    Raises pdfa.PdfaError (a missing validator or Ghostscript) from the first call that
    needs the tool; Campaign turns it into an error naming the campaign file.
    """

    def __init__(self, campaign: Path, options: AttachmentOptions, language: Language,
                 template: Sequence[TemplateAttachment] = ()) -> None:
        # pikepdf is loaded only by campaigns that have attachments
        from dispatcher.campaign.pdfa import DEFAULT_MAX_BYTES, PdfChecker, external_validator

        self.base = Path(campaign).absolute().parent
        self.options = options
        self.language = language
        # beside the ledger: one folder of the campaign's own files to keep or clean up
        self.converted_dir = options.converted_dir or campaign_folder(Path(campaign)) / "pdfa"
        validator = external_validator(options.validator) if options.validator else None
        self.max_bytes = options.max_bytes or DEFAULT_MAX_BYTES
        self.checker = PdfChecker(max_bytes=self.max_bytes, validator=validator)
        self._seen: dict[tuple[Path, str, str], CheckedFile] = {}
        self.template = tuple(self._check(a.file, a.written, a.name, a.id) for a in template)

    # -- one file ----------------------------------------------------------------------------

    def check(self, written: str) -> CheckedFile:
        """A path as a row writes it, resolved against the campaign's folder."""
        path = Path(written.replace("\\", "/")).expanduser()  # a Windows path works too
        if not path.is_absolute():
            path = self.base / path
        name = display_name(path.name)
        return self._check(path, written, name, attachment_id(name))

    def _check(self, path: Path, written: str, name: str, identifier: str) -> CheckedFile:
        key = (path, name, identifier)
        found = self._seen.get(key)
        if found is None:
            found = self._seen[key] = self._judge(path, written, name, identifier)
        return found

    def _judge(self, path: Path, written: str, name: str, identifier: str) -> CheckedFile:
        from dispatcher.campaign.pdfa import PdfaConversionFailed, convert_to_pdfa

        check = self.checker.check(path, name=name)
        codes = {p.code for p in check.problems}
        if (self.options.convert_pdfa and check.sha256 is not None
                and not codes & _NOT_CONVERTIBLE
                and any(problem_code(p) is ProblemCode.ATTACHMENT_NOT_PDFA
                        for p in check.problems)):
            target = self.converted_dir / f"{check.sha256}.pdf"
            try:
                if not target.is_file():
                    private_folder(self.converted_dir)
                    convert_to_pdfa(path, target, max_bytes=self.max_bytes)
            except PdfaConversionFailed as failure:
                return CheckedFile(written, path, name, identifier, check.sha256, check.size,
                                   failure.problems)
            again = self.checker.check(target, name=name)
            return CheckedFile(written, target, name, identifier, again.sha256, again.size,
                               again.problems, converted=True)
        return CheckedFile(written, path, name, identifier, check.sha256, check.size,
                           check.problems)

    # -- one row -----------------------------------------------------------------------------

    def row_files(self, cell: str | None) -> list[CheckedFile]:
        """The template's attachments, then the row's own, in order."""
        return [*self.template, *(self.check(written) for written in split_paths(cell))]

    def attachments(self, cell: str | None) -> tuple[Attachment, ...]:
        """The typed attachments of a valid row."""
        return tuple(file.attachment() for file in self.row_files(cell))

    def cell_problems(self, cell: str | None) -> dict[ProblemCode, str]:
        """What is wrong with a cell's files: per code, the files and reasons as one text.

        The template's own files are not judged here: their problems are said once for the
        whole file (see :meth:`template_problems`); only an id a row's file takes from them
        is this row's problem.
        """
        found: dict[ProblemCode, list[str]] = {}
        ids = {file.id for file in self.template}
        for written in split_paths(cell):
            file = self.check(written)
            for problem in file.problems:
                found.setdefault(problem_code(problem), []).append(
                    f"{written!r}: {problem.text(self.language)}")
            if file.id in ids:
                found.setdefault(ProblemCode.ATTACHMENT_ID_DUPLICATE, []).append(file.id)
            ids.add(file.id)
        return {code: "; ".join(texts) for code, texts in found.items()}

    def template_problems(self) -> list[tuple[CheckedFile, ProblemCode, str]]:
        """Each campaign-wide file's problems: (file, code, the file and its reasons)."""
        found: list[tuple[CheckedFile, ProblemCode, str]] = []
        for file in self.template:
            by_code: dict[ProblemCode, list[str]] = {}
            for problem in file.problems:
                by_code.setdefault(problem_code(problem), []).append(
                    problem.text(self.language))
            found += [(file, code, f"{file.written!r}: {'; '.join(texts)}")
                      for code, texts in by_code.items()]
        return found

    def problem_columns(self, cells: pl.Series) -> pl.Series:
        """:meth:`cell_problems` per row, as a struct with one text field per FILE_CODES code.

        Computed once per distinct cell, then joined back to the rows: a campaign whose
        80,000 rows name one file pays for one.
        """
        distinct = cells.drop_nulls().unique().to_list()
        table: dict[str, list[str | None]] = {code.value: [] for code in FILE_CODES}
        for cell in distinct:
            problems = self.cell_problems(cell)
            for code in FILE_CODES:
                table[code.value].append(problems.get(code))
        found = pl.DataFrame({"__cell": distinct, **table},
                             schema={"__cell": pl.String,
                                     **{code.value: pl.String for code in FILE_CODES}})
        joined = cells.alias("__cell").to_frame().join(found, on="__cell", how="left",
                                                       maintain_order="left")
        return joined.select(pl.struct(code.value for code in FILE_CODES)).to_series()

    @property
    def converted(self) -> Iterable[CheckedFile]:
        """The files ``--convert-pdfa`` replaced by a PDF/A copy (for a summary line)."""
        return (file for file in self._seen.values() if file.converted)


PROBLEM_STRUCT = pl.Struct({code.value: pl.String for code in FILE_CODES})
"""The dtype :meth:`AttachmentFiles.problem_columns` returns."""
