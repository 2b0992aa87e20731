"""Which text a campaign file's bytes hold: UTF-8 first and strictly, never a guess.

A guesser once read a whole UTF-8 file as Mac Roman because of one stray Windows-1252 byte,
and 3,000 garbled messages were ready to go. So, without ``--encoding``:

1. A UTF-16 byte order mark means UTF-16.
2. Valid UTF-8 (with or without BOM) is UTF-8, and polars reads the file itself: no copy.
3. Otherwise, when the file starts with a UTF-8 byte order mark, or holds more valid
   multi-byte UTF-8 sequences than chance makes (:data:`ACCIDENTAL_PAIRS`), or its invalid
   bytes are not many more than those (:data:`INVALID_PER_VALID`), it *is* UTF-8 with damaged
   cells: a few pasted Windows characters, or a file stitched from two encodings, whose rows
   in the other encoding are then invalid instead of garbled. It is
   decoded keeping each invalid byte ``b`` as the private-use character ``chr(0xF700 + b)``;
   :func:`invalid_byte_cells` then finds those cells (code ``invalid_bytes``, their rows are
   invalid) and shows the bytes as U+FFFD. A Windows-1252 file can hold a valid UTF-8 pair by
   accident (``È’`` is ``C8 92``), but only a few among its many invalid accented letters.
4. Otherwise -- no multi-byte UTF-8 at all, or almost none -- the whole file is
   Windows-1252, the code page of Excel on Italian Windows (ISO-8859-1 text is the same
   bytes). A byte that Windows-1252 leaves undefined (0x81, 0x8D, 0x8F, 0x90, 0x9D) means the
   file is not that either (Mac Roman writes è as 0x8F, DOS code page 850 writes ì as 0x8D):
   a clear error that suggests ``--encoding``.

Mac Roman, code page 850 or any other codec is used only when ``--encoding`` names it.
Transcoded text lives in memory (:class:`io.BytesIO`), never in a temporary file: a
``kill -9`` must not leave a copy of the campaign, fiscal codes included, in ``/tmp``.
"""

from __future__ import annotations

import codecs
import hashlib
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import polars as pl

from dispatcher.campaign.problems import (
    CELL_PROBLEM_SCHEMA,
    CampaignFileError,
    ProblemCode,
    no_cell_problems,
)
from dispatcher.privacy import mask_fiscal_codes_in

LEGACY_ENCODING = "cp1252"
# UTF-8 with invalid bytes when invalid bytes <= INVALID_PER_VALID x valid multi-byte sequences
INVALID_PER_VALID = 10
ACCIDENTAL_PAIRS = 2
"""Valid UTF-8 pairs a Windows-1252 file may hold by chance (``È’``); three are UTF-8 text."""
HEAD_SIZE = 65536
_CHUNK = 1 << 20
_PRIVATE_BASE = 0xF700  # invalid byte b (always >= 0x80) -> U+F780..U+F7FF
_ERRORS = "dispatcher-keep-invalid-bytes"
# the characters that stand for invalid bytes (a regex for polars and for re)
INVALID_BYTE_CHARS = "[\uf780-\uf7ff]"
_INVALID_RE = re.compile(INVALID_BYTE_CHARS)
_UNDEFINED_IN_CP1252 = frozenset(b"\x81\x8d\x8f\x90\x9d")
# Windows-1252 letters that Italian text hardly ever has, but that a Mac Roman or DOS file
# read as Windows-1252 is full of (Mac à = ˆ, ò = ˜, é = Ž; DOS è = Š, à = …, ò = •).
_UNLIKELY_LETTERS = re.compile("[ˆ˜‰ŠŽšžŒœŸ‹›†‡ƒ]")
_EXCERPT = 24  # characters quoted each side of an invalid byte (whole words)
_CODE_LIKE = re.compile(r"(?=[A-Za-z]*\d)[A-Za-z0-9]{11,}")  # a fiscal code, maybe broken


def _keep_invalid_bytes(error: UnicodeError) -> tuple[str, int]:
    """Decode error handler: each invalid byte becomes a private-use character."""
    if not isinstance(error, UnicodeDecodeError):
        raise error
    bad = error.object[error.start:error.end]
    return "".join(chr(_PRIVATE_BASE + b) for b in bad), error.end


codecs.register_error(_ERRORS, _keep_invalid_bytes)


@dataclass(frozen=True)
class Scan:
    """One pass over the bytes: SHA-256, the first 64 KiB, and whether it is valid UTF-8."""

    sha256: str
    size: int
    head: bytes
    utf8: bool


@dataclass(frozen=True)
class Decoded:
    """The file as UTF-8 for polars, and how it got there."""

    encoding: str  # recorded with the campaign: "utf-8", "utf-16", "cp1252", or --encoding
    data: Path | io.BytesIO  # the file itself when it is already UTF-8
    head: str  # the first characters of the text, for the delimiter and line endings
    invalid_bytes: int  # bytes kept as INVALID_BYTE_CHARS (UTF-8 with invalid bytes)
    notes: tuple[str, ...] = ()


def scan(path: Path) -> Scan:
    """Hash and check in one read: a clean UTF-8 file is never read by Python again."""
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")()
    head = b""
    size = 0
    utf8 = True
    try:
        with path.open("rb") as stream:
            while chunk := stream.read(_CHUNK):
                digest.update(chunk)
                if len(head) < HEAD_SIZE:
                    head += chunk[: HEAD_SIZE - len(head)]
                size += len(chunk)
                if utf8:
                    try:
                        decoder.decode(chunk)
                    except UnicodeDecodeError:
                        utf8 = False
            if utf8:
                decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        utf8 = False
    except OSError as exc:
        raise CampaignFileError(path, f"cannot read the file: {exc.strerror}") from None
    return Scan(digest.hexdigest(), size, head, utf8)


def decode(path: Path, scanned: Scan, forced: str | None) -> Decoded:
    """Choose the encoding (see the module docstring) and give polars UTF-8."""
    if forced:
        return _forced(path, scanned, forced)
    if scanned.head.startswith((b"\xff\xfe", b"\xfe\xff")):
        data, head, _ = _transcode(path, "utf-16")
        return Decoded("utf-16", data, head, 0, ("read as UTF-16 (byte order mark)",))
    if b"\x00" in scanned.head[:8192]:
        raise CampaignFileError(
            path, "holds NUL bytes: a binary file, or UTF-16 text without a byte order mark, "
            "not CSV text or Excel; save it as CSV UTF-8"
        )
    if scanned.utf8:
        return Decoded("utf-8", path, scanned.head.decode("utf-8", "replace"), 0)
    valid, invalid = _utf8_counts(path)
    marked = scanned.head.startswith(codecs.BOM_UTF8)  # whoever wrote it meant UTF-8
    if valid and (marked or valid > ACCIDENTAL_PAIRS or invalid <= INVALID_PER_VALID * valid):
        data, head, kept = _transcode_keeping_invalid(path)
        return Decoded("utf-8", data, head, kept, (
            f"the file is UTF-8 except for {kept:,} byte(s) that are not: the rows that "
            "hold them are invalid; re-export the file as CSV UTF-8",
        ))
    return _legacy(path)


def _forced(path: Path, scanned: Scan, forced: str) -> Decoded:
    try:
        name = codecs.lookup(forced).name
        "".encode(name)  # LookupError for bytes-to-bytes codecs such as zlib or base64
    except LookupError:
        raise CampaignFileError(path, f"unknown encoding {forced!r}") from None
    if name in ("utf-8", "utf-8-sig"):
        if not scanned.utf8:
            _transcode(path, "utf-8")  # raises, naming the first invalid byte
        return Decoded("utf-8", path, scanned.head.decode("utf-8", "replace"), 0)
    data, head, _ = _transcode(path, name)
    notes = [f"read as {name} (--encoding)"]
    if scanned.utf8 and not name.startswith("utf"):
        valid, _ = _utf8_counts(path)
        if valid:  # "può" would read "puÃ²": say so before anything is sent
            notes.append(f"the file is valid UTF-8 with {valid:,} accented or special "
                         f"character(s): read as {name}, they change; is --encoding right?")
    return Decoded(name, data, head, 0, tuple(notes))


def _legacy(path: Path) -> Decoded:
    data, head, unlikely = _transcode(path, LEGACY_ENCODING, legacy=True)
    notes = [
        "the file is not UTF-8: read as Windows-1252 (cp1252); check accented letters in the "
        "preview, or pass --encoding"
    ]
    if unlikely:
        notes.append(
            f"it holds {unlikely!r}, rare in Italian text: if the file comes from a Mac or a "
            "DOS program, pass --encoding mac_roman or --encoding cp850"
        )
    return Decoded(LEGACY_ENCODING, data, head, 0, tuple(notes))


def _transcode(path: Path, encoding: str, *, legacy: bool = False
               ) -> tuple[io.BytesIO, str, str | None]:
    """``path`` as UTF-8 in memory (no BOM), its head, and (``legacy``) an unlikely letter.

    A decode error names the byte and its line.
    """
    decoder = codecs.getincrementaldecoder("utf-8-sig" if encoding == "utf-8" else encoding)()
    target = io.BytesIO()
    offset = lines = 0
    head = ""
    unlikely: str | None = None
    with _open(path) as source:
        while chunk := source.read(_CHUNK):
            try:
                text = decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                _undecodable(path, encoding, chunk, exc, offset, lines, legacy)
            except UnicodeError as exc:  # e.g. "UTF-16 stream does not start with BOM"
                raise CampaignFileError(
                    path, f"not {encoding} text ({exc}); pass the right --encoding"
                ) from None
            if legacy and unlikely is None and (found := _UNLIKELY_LETTERS.search(text)):
                unlikely = found.group()
            if len(head) < HEAD_SIZE:
                head += text[: HEAD_SIZE - len(head)]
            target.write(text.encode("utf-8"))
            offset += len(chunk)
            lines += chunk.count(b"\n") or chunk.count(b"\r")
        try:
            target.write(decoder.decode(b"", final=True).encode("utf-8"))
        except UnicodeError:
            raise CampaignFileError(
                path, f"not valid {encoding} text: the file ends in the middle of a character; "
                "pass the right --encoding"
            ) from None
    return target, head.lstrip("\ufeff"), unlikely


def _undecodable(path: Path, encoding: str, chunk: bytes, exc: UnicodeDecodeError,
                 offset: int, lines: int, undefined_hint: bool) -> NoReturn:
    before = chunk[: exc.start]
    line = lines + (before.count(b"\n") or before.count(b"\r")) + 1
    byte = exc.object[exc.start] if isinstance(exc.object, bytes) else None
    where = f"byte 0x{byte:02X} on line {line:,}" if byte is not None else f"line {line:,}"
    if undefined_hint and byte in _UNDEFINED_IN_CP1252:
        raise CampaignFileError(
            path, f"neither UTF-8 nor Windows-1252 text ({where} means nothing in "
            "Windows-1252): save it as CSV UTF-8, or pass --encoding mac_roman (old Mac) or "
            "--encoding cp850 (DOS)"
        ) from None
    raise CampaignFileError(
        path, f"not valid {encoding} text at byte {offset + exc.start:,} ({where}); "
        "pass the right --encoding, or save it as CSV UTF-8"
    ) from None


# One valid UTF-8 multi-byte sequence (RFC 3629: no overlong forms, no surrogates).
_MULTIBYTE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|\xe0[\xa0-\xbf][\x80-\xbf]|[\xe1-\xec\xee\xef][\x80-\xbf]{2}"
    rb"|\xed[\x80-\x9f][\x80-\xbf]|\xf0[\x90-\xbf][\x80-\xbf]{2}|[\xf1-\xf3][\x80-\xbf]{3}"
    rb"|\xf4[\x80-\x8f][\x80-\xbf]{2}"
)
_NON_ASCII = re.compile(rb"[\x80-\xff]+")


def _utf8_counts(path: Path) -> tuple[int, int]:
    """(valid multi-byte UTF-8 sequences, other non-ASCII bytes): the decision, at C speed.

    Counting with a regex over the bytes, rather than decoding with an error handler, keeps a
    whole Windows-1252 file (one handler call per accented letter) from costing seconds.
    """
    valid = invalid = 0
    carry = b""
    with _open(path) as source:
        while True:
            chunk = source.read(_CHUNK)
            data = carry + chunk
            cut = len(data)
            if chunk:  # keep a sequence split by the chunk boundary for the next round
                while cut > len(data) - 3 and cut > 0 and data[cut - 1] >= 0x80:
                    cut -= 1
            part, carry = data[:cut], data[cut:]
            for run in _NON_ASCII.findall(part):  # short runs: the regex scans only these
                sequences = _MULTIBYTE.findall(run)
                valid += len(sequences)
                invalid += len(run) - sum(map(len, sequences))
            if not chunk:
                return valid, invalid


def _transcode_keeping_invalid(path: Path) -> tuple[io.BytesIO, str, int]:
    """UTF-8 in memory, invalid bytes kept as private-use characters, and how many."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")(errors=_ERRORS)
    target = io.BytesIO()
    head = ""
    invalid = 0
    with _open(path) as source:
        while True:
            chunk = source.read(_CHUNK)
            text = decoder.decode(chunk, final=not chunk)
            if len(head) < HEAD_SIZE:
                head += text[: HEAD_SIZE - len(head)]
            # A genuine U+F780..U+F7FF in the file would count (and be reported) as an
            # invalid byte: private-use characters have no place in a message to IO anyway.
            invalid += len(_INVALID_RE.findall(text))
            target.write(text.encode("utf-8"))
            if not chunk:
                return target, head, invalid


def _open(path: Path) -> io.BufferedReader:
    try:
        return path.open("rb")
    except OSError as exc:
        raise CampaignFileError(path, f"cannot read the file: {exc.strerror}") from None


def invalid_bytes_in(text: str) -> list[int]:
    """The invalid bytes kept in ``text``, in order of appearance, each once."""
    return list(dict.fromkeys(ord(ch) - _PRIVATE_BASE for ch in _INVALID_RE.findall(text)))


def show_invalid_bytes(text: str) -> str:
    """``text`` with each kept invalid byte written as ``\\x92``."""
    return _INVALID_RE.sub(lambda m: f"\\x{ord(m.group()) - _PRIVATE_BASE:02X}", text)


# -- reporting the cells that hold invalid bytes ---------------------------------------------


def clean_headers(headers: list[str | None], notes: list[str]) -> list[str | None]:
    """Header cells with invalid bytes: noted, and the bytes shown as U+FFFD."""
    cleaned: list[str | None] = []
    for position, header in enumerate(headers):
        if header is not None and invalid_bytes_in(header):
            shown = ", ".join(f"0x{b:02X}" for b in invalid_bytes_in(header))
            notes.append(f"the header of column {position + 1} has bytes that are not UTF-8 "
                         f"({shown})")
            header = re.sub(INVALID_BYTE_CHARS, "\ufffd", header)
        cleaned.append(header)
    return cleaned


def invalid_byte_cells(body: pl.DataFrame, names: tuple[str, ...]
                       ) -> tuple[pl.DataFrame, pl.DataFrame]:
    """One cell problem per cell holding invalid bytes; in the frame they become U+FFFD."""
    flags = body.select(pl.col(n).str.contains(INVALID_BYTE_CHARS).fill_null(False).any()
                        for n in names).row(0)
    affected = [name for name, flagged in zip(names, flags, strict=True) if flagged]
    found: list[dict[str, object]] = []
    for name in affected:
        cells = body.filter(pl.col(name).str.contains(INVALID_BYTE_CHARS)).select("__row", name)
        for row_number, text in cells.iter_rows():
            found.append({"__row": row_number, "column": name,
                          "code": ProblemCode.INVALID_BYTES.value,
                          "value": _describe_invalid(text, quote=name != "fiscal_code")})
    body = body.with_columns(pl.col(n).str.replace_all(INVALID_BYTE_CHARS, "\ufffd")
                             for n in affected)
    problems = (pl.DataFrame(found, schema=CELL_PROBLEM_SCHEMA) if found
                else no_cell_problems())
    return body, problems


def _describe_invalid(text: str, *, quote: bool) -> str:
    """``0x92 in "…la città Pu\\x92 non…"``: the bytes, and the whole words around them.

    Never a whole fiscal code: codes are masked, a word cut in half (maybe the tail of a
    code) is left out, and a code-like word holding the byte is not quoted at all.
    """
    shown = ", ".join(f"0x{b:02X}" for b in invalid_bytes_in(text))
    first = re.search(INVALID_BYTE_CHARS, text)
    if not quote or first is None:
        return shown
    low, high = first.start() - _EXCERPT, first.end() + _EXCERPT
    words = [w for w in re.finditer(r"\S+", text)
             if w.start() <= first.start() < w.end() or (low <= w.start() and w.end() <= high)]
    holder = next(w.group() for w in words if w.start() <= first.start() < w.end())
    if _CODE_LIKE.search(re.sub(INVALID_BYTE_CHARS, "", holder)):
        return shown
    start, end = words[0].start(), words[-1].end()
    excerpt = (("…" if text[:start].strip() else "") + show_invalid_bytes(text[start:end])
               + ("…" if text[end:].strip() else ""))
    return mask_fiscal_codes_in(f'{shown} in "{excerpt}"')
