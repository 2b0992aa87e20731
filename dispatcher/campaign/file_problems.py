"""Problems said once for the whole file, because the template, not a row, causes them.

A typo ``{cognomen}`` in the template fails every row the same way: 200 identical row errors
hide the one fix. Such problems become one :class:`FileProblem` with the number of rows they
affect (and, for an unknown placeholder, the closest column of the file); the rows stay
invalid -- nothing of them may be sent -- but the per-row listing does not repeat it.

Three kinds are template-wide:

* an unknown placeholder (known without looking at the rows: the file has no such column);
* a subject or text (remote ones included) out of IO's limits in *every* row that takes it
  from the template (rows whose own cell overrides the template are judged on their own);
* a rule made "once" (its context carries the sentence, ``once``, and the column, file or
  setting it names, ``once_column``): a campaign-wide attachment that is not a good PDF/A,
  remote content without ``require_secure_channels`` set for the whole campaign.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from dispatcher.campaign.headers import Columns, header_key
from dispatcher.campaign.problems import (
    ProblemCode,
    Severity,
    file_message,
    message_for,
    severity_of,
)
from dispatcher.vocabulary import Language

LENGTH_CODES = frozenset({
    ProblemCode.SUBJECT_TOO_SHORT, ProblemCode.SUBJECT_TOO_LONG,
    ProblemCode.MARKDOWN_TOO_SHORT, ProblemCode.MARKDOWN_TOO_LONG,
    ProblemCode.REMOTE_SUBJECT_TOO_SHORT, ProblemCode.REMOTE_SUBJECT_TOO_LONG,
    ProblemCode.REMOTE_MARKDOWN_TOO_SHORT, ProblemCode.REMOTE_MARKDOWN_TOO_LONG,
})


@dataclass(frozen=True, slots=True)
class FileProblem:
    """One problem of the whole file: an error here refuses the file like an invalid row.

    ``column`` is the placeholder or the column as the template and file call it.
    """

    code: ProblemCode
    column: str | None
    message: str
    rows_affected: int

    @property
    def severity(self) -> Severity:
        return severity_of(self.code)

    @property
    def is_error(self) -> bool:
        return self.severity is Severity.ERROR


def closest_column(wanted: str, columns: Columns) -> str | None:
    """The file's header closest to ``wanted`` (``cognomen`` → ``cognome``), if any is close.

    Headers are compared as keys (case, accents and punctuation ignored), both as written
    and by their internal name (``amount`` finds the column ``importo``).
    """
    keys: dict[str, str] = {}
    for name, label in columns.labels.items():
        keys.setdefault(header_key(label), label)
        keys.setdefault(header_key(name), label)
    found = difflib.get_close_matches(header_key(wanted), list(keys), n=1, cutoff=0.6)
    return keys[found[0]] if found else None


def placeholder_problem(placeholder: str, columns: Columns, rows: int,
                        language: Language) -> FileProblem:
    """``{placeholder}`` names no column: say so once, with the closest header."""
    text = message_for(ProblemCode.PLACEHOLDER_MISSING, language, placeholder=placeholder)
    suggestion = closest_column(placeholder, columns)
    if suggestion is not None:
        text += "; " + file_message("suggestion", language, suggestion=suggestion)
    else:
        found = ", ".join(columns.labels.values())
        text += "; " + file_message("columns_found", language, columns=found)
    return FileProblem(ProblemCode.PLACEHOLDER_MISSING, placeholder, text, rows)


def length_problem(code: ProblemCode, column: str, shortest: int, longest: int, rows: int,
                   language: Language) -> FileProblem:
    """The template's subject or text is out of IO's limits in every row that uses it."""
    length = str(shortest) if shortest == longest else f"{shortest}-{longest}"
    text = (message_for(code, language, length=length) + "; "
            + file_message("from_template", language))
    return FileProblem(code, column, text, rows)
