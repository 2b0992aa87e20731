"""Attachments IO will show: PDF pre-flight, PDF/A conversion and an external validator.

The public face of the PDF side of remote content. IO's backend only checks that the bytes
start with ``%PDF``; the IO guide asks for PDF/A. Validation calls :class:`PdfChecker` (one
per campaign, so each distinct file is judged once) and turns each :class:`PdfProblem` into a
row error; ``--convert-pdfa`` calls :func:`convert_to_pdfa`; ``--pdfa-validator`` hands
:func:`external_validator` to the checker, or calls :func:`run_external_validator` directly.

The pieces: ``pdf_problems`` (codes and sentences), ``pdf_inspect`` (what a document
declares and contains), ``pdf_check`` (files, sizes, names, the cache), ``pdf_tools``
(Ghostscript and the validator as child processes).
"""

from __future__ import annotations

from dispatcher.campaign.pdf_check import DEFAULT_MAX_BYTES, PdfCheck, PdfChecker, check_pdf
from dispatcher.campaign.pdf_problems import PdfProblem, PdfProblemCode, human_size
from dispatcher.campaign.pdf_tools import (
    PdfaConversionFailed,
    PdfaError,
    PdfaToolMissing,
    convert_to_pdfa,
    external_validator,
    run_external_validator,
)

__all__ = [
    "DEFAULT_MAX_BYTES",
    "PdfCheck",
    "PdfChecker",
    "PdfProblem",
    "PdfProblemCode",
    "PdfaConversionFailed",
    "PdfaError",
    "PdfaToolMissing",
    "check_pdf",
    "convert_to_pdfa",
    "external_validator",
    "human_size",
    "run_external_validator",
]
