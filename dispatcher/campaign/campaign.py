"""The ``Campaign``: one object that answers every question about a campaign file.

(Over 400 lines: the questions share one set of chunked frames and row statuses; the whole-file
pass, the statuses and the file problems already live in judgement.py, row_status.py and
file_problems.py.)

It is built once (read, resolve headers, evaluate every rule over the whole file in
chunks) and then answers questions: how many rows are valid, which problems come first,
what the first message looks like, and each row's payload, lazily, in file order.

Memory stays bounded for a million rows: the object keeps the input text, one small status
column per row (state, duplicate-of: judgement.py) and the counts. Rendered texts and
Python objects are made only for the slice being iterated, and again on the next
iteration: ``rows()`` can be called any number of times and always yields the same rows.

Problems are told where they belong: the reader's cell problems (bytes that are not UTF-8,
identifiers Excel stored as numbers) with the other problems of their row; a template
mistake that fails every row once, as a :class:`FileProblem` (file_problems.py); a
third-party id two citizens share on the later row. Messages name a column as the file
does, with the field it fills beside it (``importo (amount)``), and show a cell as typed
unless it could be a person's fiscal code (``'TOTALE'`` is shown, a code is masked).

Duplicates: one message per person. Among the *valid* rows that share a normalised fiscal
code, the first in file order is sent and the later ones are ``duplicate`` (pointing at it).
Invalid rows never claim a fiscal code: if the first occurrence is invalid, the first valid
one after it is the one that will be sent (once the invalid rows are fixed or skipped).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from dispatcher.campaign.file_problems import FileProblem
from dispatcher.campaign.guard import guarded
from dispatcher.campaign.headers import FIELD_ALIASES, Columns, header_key
from dispatcher.campaign.judgement import judge, uses_template
from dispatcher.campaign.problems import (
    CampaignFileError,
    Problem,
    ProblemCode,
    Severity,
    message_for,
    severity_of,
)
from dispatcher.campaign.reader import Table, read_table
from dispatcher.campaign.remote_content import (
    RemoteBuilder,
    attachment_files,
    conversion_notes,
)
from dispatcher.campaign.remote_template import REMOTE_TEXTS
from dispatcher.campaign.row_status import DUPLICATE, INVALID, VALID
from dispatcher.campaign.rules import Plan, Rule
from dispatcher.campaign.template import Template, load_template, normalise_defaults
from dispatcher.campaign.values import HTML_PATTERN, AmountUnit
from dispatcher.content.model import RemoteContent
from dispatcher.message import Field, MessageBuilder, OutgoingMessage
from dispatcher.privacy import mask_fiscal_codes_in, mask_if_fiscal_code
from dispatcher.vocabulary import InputVerdict, Language

ROWS_CHUNK = 10_000  # rows made into Python objects at a time: small, to bound memory
_CODE_RUN = re.compile(r"[A-Za-z0-9]{10,}")
_STATES = (InputVerdict.VALID, InputVerdict.INVALID, InputVerdict.DUPLICATE)


@dataclass(frozen=True)
class CampaignOptions:
    """How to read and judge a file. ``None`` means "detect" or "take it from the template"."""

    encoding: str | None = None
    delimiter: str | None = None
    max_rows: int = 1_000_000
    amount_unit: AmountUnit | None = None  # overrides the template's; default cents
    defaults: Mapping[str, str] = field(default_factory=dict)  # override template defaults
    sheet: str | int | None = None  # Excel: sheet name or 0-based index (default: first)
    language: Language = Language.EN  # language of Problem.message
    now: datetime | None = None  # "now" for the past-due-date warning (tests pin it)
    # attachments (attachments.py): size cap, --convert-pdfa and where its copies go
    # (default <campaign file>.dispatcher/pdfa), --pdfa-validator
    max_attachment_bytes: int | None = None  # default 10 MB
    convert_pdfa: bool = False
    pdfa_dir: Path | None = None
    pdfa_validator: str | None = None


@dataclass(frozen=True, slots=True)
class CampaignRow:
    """One data row as judged: its message only when valid, its problems in rule order."""

    row: int
    fiscal_code: str
    state: InputVerdict
    message: OutgoingMessage | None
    problems: tuple[Problem, ...]
    duplicate_of: int | None
    send_after: datetime | None = None  # a valid row's ``invia_dal``: not sent before (UTC)
    remote: RemoteContent | None = None  # what the content server serves (valid rows only)

    @property
    def content_hash(self) -> str | None:
        return self.message.content_hash if self.message is not None else None


def load_campaign(
    path: Path, *, template: Path | None = None, options: CampaignOptions = CampaignOptions()
) -> Campaign:
    """Read and validate a campaign file; file-level problems raise CampaignFileError.

    Every command loads campaigns through here, so this is where nothing in a file may end
    in a traceback: any unexpected failure (a polars panic included) becomes a
    CampaignFileError naming the file (guard.py).
    """
    path = Path(path)
    with guarded(path, options.language):
        loaded = load_template(Path(template)) if template is not None else None
        table = read_table(path, encoding=options.encoding, delimiter=options.delimiter,
                           max_rows=options.max_rows, sheet=options.sheet)
        return Campaign(path, table, loaded, options)


def _require_columns(path: Path, columns: Columns, template: Template | None) -> None:
    found = ", ".join(columns.labels.values())
    if "fiscal_code" not in columns.names:
        aliases = ", ".join(FIELD_ALIASES["fiscal_code"][:4])
        raise CampaignFileError(
            path, f"no fiscal code column (called {aliases}, ...); columns found: {found}"
        )
    for name, alias in (("subject", "oggetto"), ("markdown", "testo")):
        if name not in columns.names and (template is None or getattr(template, name) is None):
            raise CampaignFileError(
                path, f"no {name}: add a {name!r} (or {alias!r}) column, or a template with "
                f"a {name}; columns found: {found}"
            )


class Campaign:
    """A validated campaign file. Build it with :func:`load_campaign`.

    ``file_problems`` are problems said once for the whole file (the template's, see
    file_problems.py); their rows are invalid all the same, and counted under the code in
    :meth:`invalid_by_reason`, but the per-row listing (:meth:`iter_problems`) leaves them
    out. Each row's own :attr:`CampaignRow.problems` still has them: the ledger says why
    that row was not sent.
    """

    def __init__(
        self, path: Path, table: Table, template: Template | None, options: CampaignOptions
    ) -> None:
        _require_columns(path, table.columns, template)
        self.path = path
        self.source_sha256: str = table.sha256
        self.template = template
        self.template_sha256: str | None = template.sha256 if template else None
        self.kind = table.kind
        self.encoding = table.encoding
        self.delimiter = table.delimiter
        self.notes: tuple[str, ...] = table.notes + _template_notes(template)
        self.options = options
        self.amount_unit: AmountUnit = (
            options.amount_unit or (template.amount_unit if template else None) or "cents"
        )
        defaults = dict(template.defaults) if template else {}
        defaults.update(normalise_defaults(dict(options.defaults), "campaign options"))
        now = options.now or datetime.now(UTC)
        _check_defaults(template, defaults, self.amount_unit, now, options.language)
        self._columns = table.columns
        self._names = {label: name for name, label in table.columns.labels.items()}
        self._frame = table.frame
        self.attachment_files = attachment_files(path, table.columns.names, template, options)
        self._plan = Plan(table.columns.names, template, defaults=defaults,
                          amount_unit=self.amount_unit, now=now,
                          attachment_files=self.attachment_files, language=options.language)
        self._evaluate(table.cell_problems)
        self.notes += conversion_notes(self.attachment_files)  # known once files are judged

    def _evaluate(self, cell_problems: pl.DataFrame) -> None:
        judged = judge(self._plan, self._frame, self.template, self._columns, cell_problems,
                       self.options.language)
        self._judged = judged
        self._status = judged.status
        self.file_problems: tuple[FileProblem, ...] = judged.file_problems
        states = self._status.get_column("state").value_counts()
        per_state = dict(zip(states.get_column("state").to_list(),
                             states.get_column("count").to_list(), strict=True))
        self.row_count: int = self._frame.height
        self.valid_count: int = per_state.get(VALID, 0)
        self.invalid_count: int = per_state.get(INVALID, 0)
        self.duplicate_count: int = per_state.get(DUPLICATE, 0)
        self.warning_count: int = sum(judged.warnings_by_code.values())

    # -- answers --------------------------------------------------------------------------

    @property
    def has_errors(self) -> bool:
        """Any invalid row (or file-level error). Duplicates alone are not errors."""
        return self.invalid_count > 0 or any(p.is_error for p in self.file_problems)

    @property
    def has_remote_content(self) -> bool:
        """The file or template gives remote content (texts, precondition, attachments) that
        dispatcher's content server must serve: ``run`` registers it before each submit."""
        return bool(self._plan.remote_columns)

    def invalid_by_reason(self) -> dict[ProblemCode, int]:
        """Invalid rows per error code (a row with two problems counts under both)."""
        return dict(sorted(self._judged.invalid_by_reason.items(), key=lambda kv: -kv[1]))

    def warnings_by_code(self) -> dict[ProblemCode, int]:
        """Warnings per code (each warning counted once)."""
        return dict(sorted(self._judged.warnings_by_code.items(), key=lambda kv: -kv[1]))

    @property
    def problems(self) -> list[Problem]:
        """Every row problem, ordered by row (computed on each access; may be large)."""
        return list(self.iter_problems())

    def iter_problems(self, limit_rows: int | None = None) -> Iterator[Problem]:
        """Row problems in file order, a chunk at a time; :attr:`file_problems` not repeated."""
        positions = self._status.get_column("__listed").arg_true()
        if limit_rows is not None:
            positions = positions.head(limit_rows)
        with guarded(self.path, self.options.language):
            for start in range(0, len(positions), ROWS_CHUNK):
                picked = positions.slice(start, ROWS_CHUNK)
                for row in self._materialise(self._frame[picked], self._status[picked],
                                             listing=True):
                    yield from row.problems

    def first_problems(self, n: int = 20) -> list[Problem]:
        """The first ``n`` row problems (every listed row has at least one)."""
        return list(self.iter_problems(limit_rows=n))[:n]

    def rows(self, *, after: int = 0) -> Iterator[CampaignRow]:
        """Every data row in file order (numbered above ``after``), built a chunk at a time.

        Rows at or below ``after`` are skipped before anything is rendered: a run that was
        killed while recording continues without rendering again what it recorded.
        """
        frame, status = self._frame, self._status
        if after:
            later = frame.get_column("__row") > after
            frame, status = frame.filter(later), status.filter(later)
        with guarded(self.path, self.options.language):
            for offset in range(0, frame.height, ROWS_CHUNK):
                yield from self._materialise(frame.slice(offset, ROWS_CHUNK),
                                             status.slice(offset, ROWS_CHUNK))

    def configuration_ids(self) -> list[str]:
        """The distinct remote-content configurations the valid rows name, sorted.

        ``run`` checks each with IO before the first submit; one polars pass, no rendering.
        """
        column = self._plan.message_columns.get(Field.CONFIGURATION_ID)
        if column is None:
            return []
        valid = self._frame.filter(self._status.get_column("state") == VALID)
        values = self._plan.lazy(valid).select(pl.col(column)).collect().to_series()
        return sorted(v for v in values.drop_nulls().unique().to_list() if v)

    def preview(self) -> CampaignRow | None:
        """The first valid row, rendered; None when no row is valid."""
        positions = (self._status.get_column("state") == VALID).arg_true()
        if positions.is_empty():
            return None
        return self._pick(positions.head(1))[0]

    def preview_rows(self, numbers: Iterable[int]) -> list[CampaignRow]:
        """The rows with these spreadsheet numbers, in the order asked, each once.

        Valid rows come rendered; the others carry their problems. A number that is no data
        row (the header, a blank row, past the end) raises :class:`NoSuchRows`.
        """
        wanted = list(dict.fromkeys(numbers))
        positions = self._frame.get_column("__row").is_in(pl.Series(wanted, dtype=pl.Int64)
                                                          .implode()).arg_true()
        found = {row.row: row for row in self._pick(positions)}
        missing = [n for n in wanted if n not in found]
        if missing:
            rows = self._frame.get_column("__row")
            raise NoSuchRows(self.path, missing, int(rows.min() or 0), int(rows.max() or 0))
        return [found[n] for n in wanted]

    def _pick(self, positions: pl.Series) -> list[CampaignRow]:
        with guarded(self.path, self.options.language):
            return list(self._materialise(self._frame[positions], self._status[positions]))

    def input_frame(self) -> pl.DataFrame:
        """``row`` (Int64) and the original input columns, as text, for report exports."""
        labels = [self._columns.labels[name] for name in self._columns.names]
        return self._frame.select(
            pl.col("__row").alias("row"),
            *(pl.col(name).alias("row (input)" if label == "row" else label)
              for name, label in zip(self._columns.names, labels, strict=True)),
        )

    def label(self, column: str) -> str:
        """A column as the file calls it (``Codice Fiscale``), else the field name."""
        return self._columns.label(column)

    def column_title(self, column: str) -> str:
        """``importo (amount)``: the file's header and, when it differs, the field it fills.

        ``column`` is an internal name or a header as :attr:`Problem.column` holds it.
        """
        name = self._names.get(column, column)
        label = self._columns.labels.get(name, column)
        return label if header_key(label) == header_key(name) else f"{label} ({name})"

    # -- rows -----------------------------------------------------------------------------

    def _materialise(self, chunk: pl.DataFrame, status: pl.DataFrame, *,
                     listing: bool = False) -> Iterator[CampaignRow]:
        """Rows of a slice, made one by one; only valid rows are rendered."""
        states = status.get_column("state").to_list()
        duplicates = status.get_column("duplicate_of").to_list()
        row_numbers = chunk.get_column("__row").to_list()
        flagged = status.get_column("__listed" if listing else "__flagged")
        problems = (self._problems(chunk.filter(flagged),
                                   dict(zip(row_numbers, duplicates, strict=True)), listing)
                    if flagged.any() else {})
        valid = status.get_column("state") == VALID
        everyone = bool(valid.all())
        sendable = chunk if everyone else chunk.filter(valid)
        values = self._plan.message_values(sendable)
        send_after = iter(self._plan.send_after(sendable) or ())
        build = MessageBuilder(self._plan.message_fields)
        remote = RemoteBuilder(self._plan, self.attachment_files)
        columns = [values.get_column(name).to_list() for name in values.columns]
        codes_of_valid = iter(columns[0])
        records = zip(*columns[1:], strict=True)
        codes = [] if everyone else self._plan.fiscal_codes(chunk).to_list()
        for i, number in enumerate(row_numbers):
            state = states[i]
            if state == VALID:
                code = next(codes_of_valid)
                record = next(records)
                message = build(code, record)
                yield CampaignRow(number, code, InputVerdict.VALID, message,
                                  problems.get(number, ()), None, next(send_after, None),
                                  remote=remote(message, record))
            else:
                yield CampaignRow(number, codes[i] or "", _STATES[state], None,
                                  problems.get(number, ()), duplicates[i])

    def _problems(
        self, flagged: pl.DataFrame, duplicate_of: dict[int, int | None], listing: bool,
    ) -> dict[int, tuple[Problem, ...]]:
        """Problems of the flagged rows: the cells' as read, the rules', the whole file's."""
        details = self._plan.details(flagged)
        numbers = flagged.get_column("__row").to_list()
        language = self.options.language
        found: dict[int, list[Problem]] = {number: [] for number in numbers}
        misread: set[tuple[int, str | None]] = set()  # cells whose real cause is how they read
        for problem in self._cell_problems_of(numbers):
            found[problem.row].append(problem)
            misread.add((problem.row, problem.column))
        texts = ("subject", "markdown", *REMOTE_TEXTS)
        used = self._plan.lazy(flagged).select(  # __row keeps literal columns row-long
            pl.col("__row"), *(uses_template(self._plan, t).alias(t) for t in texts)).collect()
        uses = {t: used.get_column(t) for t in texts}
        for rule in self._plan.rules:
            hits = details.get_column(rule.flag)
            # the row's share of a file problem: left out of the listing, told to the row
            told_once = (pl.repeat(False, len(hits), eager=True)
                         if rule.flag not in self._judged.hidden
                         else hits if rule.code is ProblemCode.PLACEHOLDER_MISSING
                         or "once" in rule.context
                         else hits & uses[rule.column])  # a cell of its own is judged alone
            if listing:
                hits = hits & ~told_once
            positions = hits.arg_true()
            if positions.is_empty():
                continue
            values = (details.get_column(f"__d{rule.flag}").gather(positions).to_list()
                      if rule.detail is not None else [None] * len(positions))
            of_file = told_once.gather(positions).to_list()
            for position, detail, whole in zip(positions.to_list(), values, of_file,
                                               strict=True):
                number = numbers[position]
                if (number, self.label(rule.column)) in misread:
                    continue  # e.g. a notice number Excel stored as a number: said once
                found[number].append(
                    Problem(number, self.label(rule.column), rule.code, severity_of(rule.code),
                            self._judged.file_messages[rule.flag]) if whole
                    else self._problem(rule, number, detail, language))
        self._row_wide_problems(found, duplicate_of, language)
        return {number: tuple(problems) for number, problems in found.items()}

    def _row_wide_problems(self, found: dict[int, list[Problem]],
                           duplicate_of: dict[int, int | None], language: Language) -> None:
        """Shared third-party ids and duplicates: found across the file, told per row."""
        if not self._judged.shared.is_empty():
            here = self._judged.shared.filter(pl.col("__row").is_in(list(found)))
            for number, other, third_party_id in here.iter_rows():
                found[number].append(Problem(
                    number, self.label("third_party_id"), ProblemCode.THIRD_PARTY_ID_SHARED,
                    Severity.ERROR, mask_fiscal_codes_in(message_for(
                        ProblemCode.THIRD_PARTY_ID_SHARED, language, value=third_party_id,
                        other_row=other)),
                ))
        for number in found:
            other = duplicate_of.get(number)
            if other is not None:
                found[number].append(Problem(
                    number, self.label("fiscal_code"), ProblemCode.DUPLICATE, Severity.NOTICE,
                    message_for(ProblemCode.DUPLICATE, language, other_row=other),
                ))

    def _cell_problems_of(self, numbers: list[int]) -> Iterator[Problem]:
        """The reader's problems in these rows, in file order (row, then column)."""
        if self._judged.cells.is_empty():
            return
        order = {name: i for i, name in enumerate(self._columns.names)}
        here = self._judged.cells.filter(pl.col("__row").is_in(numbers)).rows()
        for number, column, code, value in sorted(
                here, key=lambda cell: (cell[0], order.get(cell[1], len(order)))):
            problem = ProblemCode(code)
            if column == "fiscal_code":  # a code broken by a stray byte is still personal
                value = _CODE_RUN.sub(lambda m: mask_if_fiscal_code(m.group()), value or "")
            text = message_for(problem, self.options.language, value=value,
                               column=self.column_title(column))
            yield Problem(number, self.label(column), problem, severity_of(problem),
                          mask_fiscal_codes_in(text))

    def _problem(self, rule: Rule, number: int, detail: str | None, language: Language,
                 ) -> Problem:
        column = self.label(rule.column)
        context: dict[str, object] = {"value": detail, "length": detail,
                                      "column": self.column_title(rule.column), **rule.context}
        if rule.column == "fiscal_code" and rule.code.value.startswith("fiscal_code"):
            # Shown as typed unless it could be a person's code: "TOTALE" helps find the row.
            context.update(value=mask_if_fiscal_code(detail or ""), length=len(detail or ""))
        # A fiscal code can sit in any column by mistake: messages never show one whole.
        message = mask_fiscal_codes_in(message_for(rule.code, language, **context))
        return Problem(number, column, rule.code, severity_of(rule.code), message)


class NoSuchRows(LookupError):
    """Row numbers asked for (``--preview``) that are no data row of the file."""

    def __init__(self, path: Path, rows: list[int], first: int, last: int) -> None:
        listed = ", ".join(map(str, rows[:10])) + (", ..." if len(rows) > 10 else "")
        super().__init__(f"{path}: no data row {listed} (data rows are numbered {first} to "
                         f"{last}; row 1 is the header)")
        self.rows = rows


def _template_notes(template: Template | None) -> tuple[str, ...]:
    """Things true of every row, said once: raw HTML written in the template text."""
    if template is None or template.markdown is None:
        return ()
    literal = "".join(p for p in template.markdown.parts if isinstance(p, str))
    found = re.search(HTML_PATTERN, literal)
    if found is None:
        return ()
    return (f"{template.path}: the text contains raw HTML ({found.group(0)}); the IO app "
            "does not render it",)


def _check_defaults(
    template: Template | None, defaults: dict[str, str], unit: AmountUnit, now: datetime,
    language: Language,
) -> None:
    """A bad campaign default would fail every row: say so once, naming the template."""
    if not defaults:
        return
    plan = Plan(("fiscal_code",), None, defaults=defaults, amount_unit=unit, now=now)
    probe = pl.DataFrame({"fiscal_code": [None], "__row": [0]},
                         schema={"fiscal_code": pl.String, "__row": pl.Int64})
    record = plan.details(probe).row(0, named=True)
    for rule in plan.rules:
        if rule.column in defaults and record[rule.flag] and \
                severity_of(rule.code) is Severity.ERROR:
            detail = record.get(f"__d{rule.flag}")
            text = message_for(rule.code, language, value=detail, length=detail,
                               column=rule.column, **rule.context)
            where = template.path if template and rule.column in template.defaults \
                else "campaign options"
            raise CampaignFileError(where, f"default {rule.column}: {text}")
