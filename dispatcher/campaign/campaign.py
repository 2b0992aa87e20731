"""The ``Campaign``: one object that answers every question about a campaign file.

It is built once (read, resolve headers, evaluate every rule over the whole file in
chunks) and then answers questions: how many rows are valid, which problems come first,
what the first message looks like, and each row's payload, lazily, in file order.

Memory stays bounded for a million rows: the object keeps the input text, one small status
column per row (state, duplicate-of) and the counts. Rendered texts and Python objects are
made only for the slice being iterated, and again on the next iteration: ``rows()`` can be
called any number of times and always yields the same rows.

Duplicates: one message per person. Among the *valid* rows that share a normalised fiscal
code, the first in file order is sent and the later ones are ``duplicate`` (pointing at it).
Invalid rows never claim a fiscal code: if the first occurrence is invalid, the first valid
one after it is the one that will be sent (once the invalid rows are fixed or skipped).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from dispatcher.campaign.headers import FIELD_ALIASES, Columns
from dispatcher.campaign.problems import (
    CampaignFileError,
    Problem,
    ProblemCode,
    Severity,
    message_for,
    severity_of,
)
from dispatcher.campaign.reader import Table, read_table
from dispatcher.campaign.rules import Plan, Rule
from dispatcher.campaign.template import Template, load_template, normalise_defaults
from dispatcher.campaign.values import HTML_PATTERN, AmountUnit
from dispatcher.message import MessageBuilder, OutgoingMessage
from dispatcher.privacy import mask_fiscal_code, mask_fiscal_codes_in
from dispatcher.vocabulary import InputVerdict, Language

CHUNK_ROWS = 100_000  # rows per validation query: big enough for polars to shine
ROWS_CHUNK = 10_000  # rows made into Python objects at a time: small, to bound memory
_VALID, _INVALID, _DUPLICATE = 0, 1, 2


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


@dataclass(frozen=True, slots=True)
class CampaignRow:
    """One data row as judged: its message only when valid, its problems in rule order."""

    row: int
    fiscal_code: str
    state: InputVerdict
    message: OutgoingMessage | None
    problems: tuple[Problem, ...]
    duplicate_of: int | None

    @property
    def content_hash(self) -> str | None:
        return self.message.content_hash if self.message is not None else None


def load_campaign(
    path: Path, *, template: Path | None = None, options: CampaignOptions = CampaignOptions()
) -> Campaign:
    """Read and validate a campaign file; file-level problems raise CampaignFileError."""
    path = Path(path)
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
    """A validated campaign file. Build it with :func:`load_campaign`."""

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
        self._frame = table.frame
        self._plan = Plan(table.columns.names, template, defaults=defaults,
                          amount_unit=self.amount_unit, now=now)
        self._evaluate()

    # -- evaluation -----------------------------------------------------------------------

    def _evaluate(self) -> None:
        rules = self._plan.rules
        errors = [r.flag for r in rules if severity_of(r.code) is Severity.ERROR]
        warnings = [r for r in rules if severity_of(r.code) is Severity.WARNING]
        by_code: dict[ProblemCode, list[str]] = {}
        for flag in errors:
            by_code.setdefault(next(r.code for r in rules if r.flag == flag), []).append(flag)
        invalid: Counter[ProblemCode] = Counter()
        warned: Counter[ProblemCode] = Counter()
        parts: list[pl.DataFrame] = []
        for offset in range(0, self._frame.height, CHUNK_ROWS):
            flags = self._plan.flags(self._frame.slice(offset, CHUNK_ROWS))
            counts = flags.select(
                *(pl.any_horizontal(fs).sum().alias(code) for code, fs in by_code.items()),
                *(pl.col(r.flag).sum().alias(r.flag) for r in warnings),
            ).row(0, named=True)
            for code in by_code:
                invalid[code] += counts[code]
            for rule in warnings:
                warned[rule.code] += counts[rule.flag]
            parts.append(flags.select(
                pl.col("__cf"),
                pl.any_horizontal(errors).alias("__error"),
                pl.any_horizontal(r.flag for r in rules).alias("__flagged"),
            ))
        self._status = _row_status(pl.concat(parts), self._frame.get_column("__row"))
        states = self._status.get_column("state").value_counts()
        per_state = dict(zip(states.get_column("state").to_list(),
                             states.get_column("count").to_list(), strict=True))
        self.row_count: int = self._frame.height
        self.valid_count: int = per_state.get(_VALID, 0)
        self.invalid_count: int = per_state.get(_INVALID, 0)
        self.duplicate_count: int = per_state.get(_DUPLICATE, 0)
        self._invalid_by_reason = {c: n for c, n in invalid.items() if n}
        self._warnings_by_code = {c: n for c, n in warned.items() if n}
        self.warning_count: int = sum(self._warnings_by_code.values())

    # -- answers --------------------------------------------------------------------------

    @property
    def has_errors(self) -> bool:
        """Any invalid row. Duplicates alone are not errors: they are simply not sent."""
        return self.invalid_count > 0

    def invalid_by_reason(self) -> dict[ProblemCode, int]:
        """Invalid rows per error code (a row with two problems counts under both)."""
        return dict(sorted(self._invalid_by_reason.items(), key=lambda kv: -kv[1]))

    def warnings_by_code(self) -> dict[ProblemCode, int]:
        """Warnings per code (each warning counted once)."""
        return dict(sorted(self._warnings_by_code.items(), key=lambda kv: -kv[1]))

    @property
    def problems(self) -> list[Problem]:
        """Every problem, ordered by row (computed on each access; may be large)."""
        return list(self.iter_problems())

    def iter_problems(self, limit_rows: int | None = None) -> Iterator[Problem]:
        """Problems of the flagged rows in file order, made a chunk at a time."""
        positions = self._status.get_column("__flagged").arg_true()
        if limit_rows is not None:
            positions = positions.head(limit_rows)
        for start in range(0, len(positions), ROWS_CHUNK):
            picked = positions.slice(start, ROWS_CHUNK)
            for row in self._materialise(self._frame[picked], self._status[picked]):
                yield from row.problems

    def first_problems(self, n: int = 20) -> list[Problem]:
        """The first ``n`` problems (every flagged row has at least one)."""
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
        for offset in range(0, frame.height, ROWS_CHUNK):
            yield from self._materialise(frame.slice(offset, ROWS_CHUNK),
                                         status.slice(offset, ROWS_CHUNK))

    def preview(self) -> CampaignRow | None:
        """The first valid row, rendered; None when no row is valid."""
        positions = (self._status.get_column("state") == _VALID).arg_true()
        if positions.is_empty():
            return None
        picked = positions.head(1)
        return next(self._materialise(self._frame[picked], self._status[picked]))

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

    # -- rows -----------------------------------------------------------------------------

    def _materialise(self, chunk: pl.DataFrame, status: pl.DataFrame) -> Iterator[CampaignRow]:
        """Rows of a slice, made one by one; only valid rows are rendered."""
        states = status.get_column("state").to_list()
        duplicates = status.get_column("duplicate_of").to_list()
        row_numbers = chunk.get_column("__row").to_list()
        flagged = status.get_column("__flagged")
        problems = (self._problems(chunk.filter(flagged),
                                   dict(zip(row_numbers, duplicates, strict=True)))
                    if flagged.any() else {})
        valid = status.get_column("state") == _VALID
        everyone = bool(valid.all())
        sendable = chunk if everyone else chunk.filter(valid)
        values = self._plan.message_values(sendable)
        build = MessageBuilder(self._plan.message_fields)
        columns = [values.get_column(name).to_list() for name in values.columns]
        codes_of_valid = iter(columns[0])
        records = zip(*columns[1:], strict=True)
        codes = [] if everyone else self._plan.fiscal_codes(chunk).to_list()
        for i, number in enumerate(row_numbers):
            state = states[i]
            if state == _VALID:
                code = next(codes_of_valid)
                yield CampaignRow(number, code, InputVerdict.VALID, build(code, next(records)),
                                  problems.get(number, ()), None)
            else:
                yield CampaignRow(number, codes[i] or "", _STATES[state], None,
                                  problems.get(number, ()), duplicates[i])

    def _problems(
        self, flagged: pl.DataFrame, duplicate_of: dict[int, int | None]
    ) -> dict[int, tuple[Problem, ...]]:
        """Problems of the flagged rows, rule by rule (polars finds the hits)."""
        details = self._plan.details(flagged)
        numbers = flagged.get_column("__row").to_list()
        language = self.options.language
        found: dict[int, list[Problem]] = {number: [] for number in numbers}
        for rule in self._plan.rules:
            hits = details.get_column(rule.flag).arg_true()
            if hits.is_empty():
                continue
            values = (details.get_column(f"__d{rule.flag}").gather(hits).to_list()
                      if rule.detail is not None else [None] * len(hits))
            for position, detail in zip(hits.to_list(), values, strict=True):
                number = numbers[position]
                found[number].append(self._problem(rule, number, detail, language))
        for number in numbers:
            other = duplicate_of.get(number)
            if other is not None:
                found[number].append(Problem(
                    number, self.label("fiscal_code"), ProblemCode.DUPLICATE, Severity.NOTICE,
                    message_for(ProblemCode.DUPLICATE, language, other_row=other),
                ))
        return {number: tuple(problems) for number, problems in found.items()}

    def _problem(self, rule: Rule, number: int, detail: str | None, language: Language,
                 ) -> Problem:
        context: dict[str, object] = {"value": detail, "length": detail,
                                      "column": self.label(rule.column), **rule.context}
        if rule.column == "fiscal_code" and rule.code.value.startswith("fiscal_code"):
            context.update(value=mask_fiscal_code(detail or ""), length=len(detail or ""))
        # A fiscal code can sit in any column by mistake: messages never show one whole.
        message = mask_fiscal_codes_in(message_for(rule.code, language, **context))
        return Problem(number, self.label(rule.column), rule.code, severity_of(rule.code),
                       message)


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


def _row_status(flags: pl.DataFrame, rows: pl.Series) -> pl.DataFrame:
    """state (valid/invalid/duplicate), duplicate_of, flagged: one small row per input row.

    Duplicates are found with ``is_first_distinct`` over the valid rows' codes (a hash set)
    and only the few repeated codes are joined back to their first row: grouping a million
    distinct codes with ``over()`` would cost hundreds of megabytes.
    """
    key = pl.when(~pl.col("__error")).then(pl.col("__cf"))
    frame = flags.with_columns(rows.alias("__row")).with_columns(key.alias("__key"))
    repeated = frame.select(
        (pl.col("__key").is_not_null() & ~pl.col("__key").is_first_distinct()).alias("dup")
    ).to_series()
    duplicate_of = pl.Series("duplicate_of", [], dtype=pl.Int64).extend_constant(None,
                                                                              frame.height)
    if repeated.any():
        later = frame.filter(repeated).select("__key", "__row")
        first = (frame.filter(pl.col("__key").is_in(later.get_column("__key").implode()))
                 .group_by("__key").agg(pl.col("__row").min().alias("first")))
        pairs = later.join(first, on="__key", how="left", maintain_order="left")
        duplicate_of = frame.select("__row").join(
            pairs.select("__row", pl.col("first").alias("duplicate_of")), on="__row",
            how="left", maintain_order="left",
        ).get_column("duplicate_of")
    return frame.select(
        pl.when(pl.col("__error")).then(_INVALID)
        .when(repeated).then(_DUPLICATE)
        .otherwise(_VALID).cast(pl.UInt8).alias("state"),
        duplicate_of,
        (pl.col("__flagged") | repeated).alias("__flagged"),
    )


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
