"""Nothing in a campaign file may end in a traceback: the one guard every reading goes through.

The reader and the rules turn every problem they know into a :class:`CampaignFileError` or
a row problem. A file can still find a bug -- in our code, in polars (a Rust panic arrives as
``PanicException``, a ``BaseException``), in fastexcel. :func:`guarded` turns any such
failure into a ``CampaignFileError`` naming the file and saying it could not be validated,
so every command refuses it with exit 2 instead of crashing.

The reason keeps the exception's type, the place in dispatcher where it happened (for the
bug report) and its first line with quoted text removed: a library's message may quote the
cell that broke it, and cells hold personal data. Fiscal codes are masked in every reason,
including the reader's own (a CSV parser error may echo a whole line).
"""

from __future__ import annotations

import re
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import polars as pl

from dispatcher.campaign.problems import CampaignFileError, file_message
from dispatcher.privacy import mask_fiscal_codes_in
from dispatcher.vocabulary import Language

# Exception covers our bugs and the libraries'; a Rust panic is a BaseException of its own.
# KeyboardInterrupt and SystemExit are deliberately not here.
UNEXPECTED: tuple[type[BaseException], ...] = (Exception, pl.exceptions.PanicException)
_QUOTED = re.compile(r"\"[^\"]*\"|'[^']*'|`[^`]*`|\[[^\]]*\]")
_MAX_DETAIL = 120


@contextmanager
def guarded(path: Path | str, language: Language = Language.EN) -> Iterator[None]:
    """Run the body; any failure leaves it as a masked :class:`CampaignFileError`."""
    try:
        yield
    except CampaignFileError as exc:
        masked = mask_fiscal_codes_in(exc.reason)
        if masked == exc.reason:
            raise
        raise CampaignFileError(exc.path, masked) from None
    except UNEXPECTED as exc:
        reason = file_message("unreadable", language, cause=describe(exc))
        raise CampaignFileError(path, reason) from None
    except BaseException as exc:
        if type(exc).__name__ != "PanicException":  # fastexcel's panic is its own class
            raise
        reason = file_message("unreadable", language, cause=describe(exc))
        raise CampaignFileError(path, reason) from None


def describe(exc: BaseException) -> str:
    """``PanicException in rules.py:312: conversion failed for …``, without cell text."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if "dispatcher" in Path(f.filename).parts]
    where = ours[-1] if ours else (frames[-1] if frames else None)
    text = f"{type(exc).__name__}"
    if where is not None:
        text += f" in {Path(where.filename).name}:{where.lineno}"
    first = str(exc).strip().split("\n", 1)[0]
    detail = mask_fiscal_codes_in(_QUOTED.sub("…", first))
    if detail:
        cut = detail[:_MAX_DETAIL] + ("…" if len(detail) > _MAX_DETAIL else "")
        text += f": {cut}"
    return text
