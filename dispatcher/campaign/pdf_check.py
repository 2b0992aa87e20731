"""Checking one attachment file: does it exist, is it a PDF IO accepts, is it a PDF/A.

A campaign of 80,000 rows usually names the same one or two files over and over (the TARI
information leaflet), or one file per row. :class:`PdfChecker` therefore remembers, within a
process, the judgement of each distinct content (by SHA-256) and the hash of each unchanged
file (by device, inode, size and modification time), so a file named by every row is read,
hashed and inspected once. The name and the size cap are judged on every call: the same
content may be attached under a wrong name in one row and a right one in another.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pikepdf

from dispatcher.campaign import pdf_problems as words
from dispatcher.campaign.pdf_inspect import Inspection, inspect_document
from dispatcher.campaign.pdf_problems import PdfProblem

__all__ = ["DEFAULT_MAX_BYTES", "PdfCheck", "PdfChecker", "check_pdf"]

DEFAULT_MAX_BYTES = 10 * 1000 * 1000
"""A cautious default cap (10 MB). IO documents no limit; the citizen downloads on a phone."""

_CHUNK = 1 << 20

Validator = Callable[[Path], tuple[PdfProblem, ...]]
"""A second opinion on a file that passed the pre-flight: its problems (none = passed)."""


@dataclass(frozen=True, slots=True)
class PdfCheck:
    """The verdict on one attachment: acceptable when ``problems`` is empty.

    ``sha256`` and ``size`` are ``None`` only when the file could not be read at all.
    ``pdfa`` is the level the file declares (``"2B"``, ``"1A"``, ``"4"``), whether or not the
    rest of the file lives up to it.
    """

    path: Path
    name: str
    sha256: str | None
    size: int | None
    pdfa: str | None
    problems: tuple[PdfProblem, ...]

    @property
    def ok(self) -> bool:
        return not self.problems


class _NotAFile(Exception):
    """The path names a folder, a device or a pipe: nothing to attach."""


@dataclass(frozen=True, slots=True)
class _Content:
    sha256: str
    size: int
    inspection: Inspection


@dataclass
class PdfChecker:
    """Checks attachments, each distinct content once per process (one thread at a time).

    ``validator``, when given, runs on each distinct content that passed the pre-flight
    (for example :func:`pdf_tools.external_validator` around veraPDF); its problems are
    cached with the content's.
    """

    max_bytes: int = DEFAULT_MAX_BYTES
    validator: Validator | None = None
    _by_content: dict[str, _Content] = field(default_factory=dict, repr=False)
    _by_file: dict[tuple[int, int, int, int], str] = field(default_factory=dict, repr=False)
    inspected: int = field(default=0, init=False)
    """How many times a content was actually opened and inspected (the cache's effect)."""

    def check(self, path: Path, *, name: str | None = None) -> PdfCheck:
        """Judge the file at ``path``, shown to the citizen as ``name`` (default: its name).

        Pass ``name`` when the attachment is renamed for IO (``name`` in the attachment
        list), so the name the app will show is the one checked for ``.pdf``.
        """
        path = Path(path)
        shown = path.name if name is None else name
        naming = () if shown.lower().endswith(".pdf") else (words.bad_name(shown),)
        try:
            content = self._content(path)
        except FileNotFoundError:
            return PdfCheck(path, shown, None, None, None, (words.missing(), *naming))
        except _NotAFile as error:
            return PdfCheck(path, shown, None, None, None,
                            (words.unreadable(str(error)), *naming))
        except PermissionError:
            return PdfCheck(path, shown, None, None, None,
                            (words.unreadable("permission"), *naming))
        except OSError as error:
            kind = errno.errorcode.get(error.errno or 0, type(error).__name__)
            return PdfCheck(path, shown, None, None, None, (words.unreadable(kind), *naming))
        sizing = () if content.size <= self.max_bytes else (
            words.too_large(content.size, self.max_bytes),)
        return PdfCheck(path, shown, content.sha256, content.size, content.inspection.pdfa,
                        (*content.inspection.problems, *sizing, *naming))

    def _content(self, path: Path) -> _Content:
        status = path.stat()
        if not stat.S_ISREG(status.st_mode):
            raise _NotAFile("folder" if stat.S_ISDIR(status.st_mode) else "special")
        file_key = (status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns)
        digest = self._by_file.get(file_key)
        if digest is None or digest not in self._by_content:
            digest, start = _hash(path)
            self._by_file[file_key] = digest
            if digest not in self._by_content:
                self._by_content[digest] = _Content(digest, status.st_size,
                                                    self._inspect(path, start))
        return self._by_content[digest]

    def _inspect(self, path: Path, start: bytes) -> Inspection:
        self.inspected += 1
        inspection = _inspect_file(path, start)
        if self.validator is not None and not inspection.problems:
            inspection = Inspection(inspection.pdfa, self.validator(path))
        return inspection


def check_pdf(path: Path, *, max_bytes: int = DEFAULT_MAX_BYTES,
              name: str | None = None) -> PdfCheck:
    """Judge one file without a cache (see :class:`PdfChecker` for many rows)."""
    return PdfChecker(max_bytes=max_bytes).check(path, name=name)


def _hash(path: Path) -> tuple[str, bytes]:
    """The file's SHA-256 and its first bytes, in one read."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        start = stream.read(_CHUNK)
        digest.update(start)
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest(), start[:16]


def _inspect_file(path: Path, start: bytes) -> Inspection:
    # IO answers 415 unless the bytes start with %PDF, whatever a reader would tolerate
    if not start.startswith(b"%PDF"):
        return Inspection(None, (words.not_pdf(start),))
    try:
        pdf = pikepdf.open(os.fspath(path))
    except pikepdf.PasswordError:
        return Inspection(None, (words.password_protected(),))
    except pikepdf.PdfError as error:
        return Inspection(None, (words.damaged(_detail(error, path)),))
    with pdf:
        if pdf.is_encrypted:
            return Inspection(None, (words.encrypted(),))
        try:
            return inspect_document(pdf)
        except (pikepdf.PdfError, ValueError, TypeError) as error:
            return Inspection(None, (words.damaged(_detail(error, path)),))


def _detail(error: Exception, path: Path) -> str:
    """qpdf's first line without the file's path (the caller names the file)."""
    lines = str(error).replace(os.fspath(path), "").strip().splitlines()
    text = lines[0].lstrip(": ").strip() if lines else ""
    return (text or type(error).__name__)[:200]
