"""The whole-file pass: every rule over every row, in chunks, into counts and a status.

``Campaign`` calls :func:`judge` once. It evaluates the rule flags a chunk at a time (polars
does the work), keeps one small status row per input row, counts problems per code, and
decides what is said once for the file instead of per row (file_problems.py). It then folds
in what is known only across rows or from the reader: the reader's cell problems (bytes that
are not UTF-8, identifiers Excel stored as numbers) and third-party ids shared between
citizens make their rows invalid; duplicates are found last, among the rows still valid.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import polars as pl

from dispatcher.campaign.file_problems import (
    LENGTH_CODES,
    FileProblem,
    length_problem,
    placeholder_problem,
)
from dispatcher.campaign.headers import Columns
from dispatcher.campaign.problems import CELL_PROBLEM_SCHEMA, ProblemCode, Severity, severity_of
from dispatcher.campaign.row_status import row_status, shared_third_party_ids
from dispatcher.campaign.rules import Plan, Rule
from dispatcher.campaign.template import Template
from dispatcher.message import Field
from dispatcher.vocabulary import Language

CHUNK_ROWS = 100_000  # rows per validation query: big enough for polars to shine


@dataclass(frozen=True)
class Judgement:
    """What the whole-file pass found; ``status`` has one row per input row (row_status.py)."""

    status: pl.DataFrame
    invalid_by_reason: dict[ProblemCode, int]
    warnings_by_code: dict[ProblemCode, int]
    file_problems: tuple[FileProblem, ...]
    file_messages: dict[str, str]  # rule flag -> message of its file problem
    cells: pl.DataFrame  # the reader's cell problems of data rows (CELL_PROBLEM_SCHEMA)
    shared: pl.DataFrame  # rows sharing another citizen's third-party id (row_status.py)

    @property
    def hidden(self) -> frozenset[str]:
        """Rule flags told once for the file: the per-row listing leaves them out."""
        return frozenset(self.file_messages)


def uses_template(plan: Plan, text: str) -> pl.Expr:
    """Rows whose subject (or text) comes from the template: their own cell is empty."""
    return plan.value(text).is_null()


@dataclass(frozen=True)
class _Rules:
    errors: list[str]
    warnings: list[Rule]
    placeholders: list[Rule]  # unknown placeholders: the template's fault wherever they hit
    lengths: list[Rule]  # lengths of a text the template provides: maybe the template's
    once: list[Rule]  # the campaign's own choice (a template attachment): said once

    @classmethod
    def of(cls, plan: Plan, template: Template | None) -> _Rules:
        rules = plan.rules
        return cls(
            [r.flag for r in rules if severity_of(r.code) is Severity.ERROR],
            [r for r in rules if severity_of(r.code) is Severity.WARNING],
            [r for r in rules if r.code is ProblemCode.PLACEHOLDER_MISSING],
            [r for r in rules if r.code in LENGTH_CODES and template is not None
             and template.text(r.column) is not None],
            [r for r in rules if "once" in r.context],
        )

    @property
    def texts(self) -> list[str]:
        return sorted({r.column for r in self.lengths})


def judge(plan: Plan, frame: pl.DataFrame, template: Template | None, columns: Columns,
          cell_problems: pl.DataFrame, language: Language) -> Judgement:
    """Evaluate every rule over ``frame``; see the module docstring."""
    rules = _Rules.of(plan, template)
    by_code: dict[ProblemCode, list[str]] = {}
    for rule in plan.rules:
        if rule.flag in rules.errors:
            by_code.setdefault(rule.code, []).append(rule.flag)
    tally: Counter[str] = Counter()
    lengths: dict[str, tuple[int, int]] = {}
    parts = [_chunk(plan, frame.slice(offset, CHUNK_ROWS), rules, by_code, tally, lengths)
             for offset in range(0, frame.height, CHUNK_ROWS)]
    file_problems, messages = _file_problems(rules, tally, lengths, columns, language)
    flags = pl.concat(parts)
    rows = frame.get_column("__row")
    cells = _cell_problems(cell_problems, rows)
    shared = shared_third_party_ids(flags.with_columns(rows))
    extra = (rows.is_in(cells.get_column("__row").implode())
             | rows.is_in(shared.get_column("__row").implode()))
    shown = [pl.col(f"__from{r.flag}") for r in rules.lengths if r.flag not in messages]
    flags = flags.with_columns(
        pl.col("__error") | extra, pl.col("__flagged") | extra,
        pl.any_horizontal([pl.col("__rest"), *shown]).or_(extra).alias("__listed"),
    )
    invalid = Counter({code: tally[code] for code in by_code})
    for code, n in cells.group_by("code").agg(pl.col("__row").n_unique()).iter_rows():
        invalid[ProblemCode(code)] += n
    invalid[ProblemCode.THIRD_PARTY_ID_SHARED] += shared.height
    warned: Counter[ProblemCode] = Counter()
    for rule in rules.warnings:
        warned[rule.code] += tally[rule.flag]
    return Judgement(
        status=row_status(flags, rows),
        invalid_by_reason={c: n for c, n in invalid.items() if n},
        warnings_by_code={c: n for c, n in warned.items() if n},
        file_problems=file_problems, file_messages=messages, cells=cells, shared=shared,
    )


def _chunk(plan: Plan, chunk: pl.DataFrame, rules: _Rules, by_code: dict[ProblemCode, list[str]],
           tally: Counter[str], lengths: dict[str, tuple[int, int]]) -> pl.DataFrame:
    """One chunk's flags: counted into ``tally``/``lengths``, reduced to its status columns."""
    third_party = plan.message_columns.get(Field.THIRD_PARTY_ID)
    flags = plan.lazy(chunk).select(
        pl.col("__cf"),
        (pl.col(third_party) if third_party else pl.lit(None, pl.String)).alias("__tp"),
        *(rule.expr.alias(rule.flag) for rule in plan.rules),
        *(uses_template(plan, t).alias(f"__tpl_{t}") for t in rules.texts),
        *(rule.detail.cast(pl.Int64).alias(f"__tpl_len{rule.flag}")
          for rule in rules.lengths if rule.detail is not None),
    ).collect()
    # Rows that take the text from the template and could render it (no empty placeholder):
    # the length is null exactly where the text is, and costs no rendering.
    measured = {r.column: pl.col(f"__tpl_{r.column}") & pl.col(f"__tpl_len{r.flag}")
                .is_not_null() for r in rules.lengths}
    # a length problem in a row that takes the text from the template
    from_template = {r.flag: pl.col(r.flag) & pl.col(f"__tpl_{r.column}") for r in rules.lengths}
    counts = flags.select(
        *(pl.any_horizontal(fs).sum().alias(code) for code, fs in by_code.items()),
        *(pl.col(r.flag).sum().alias(r.flag)
          for r in {r.flag: r for r in (*rules.warnings, *rules.placeholders, *rules.once)}
          .values()),
        *(hit.sum().alias(f"hit{flag}") for flag, hit in from_template.items()),
        *(rendered.sum().alias(f"rendered_{t}") for t, rendered in measured.items()),
        *(pl.col(f"__tpl_len{r.flag}").filter(from_template[r.flag]).min()
          .alias(f"min{r.flag}") for r in rules.lengths),
        *(pl.col(f"__tpl_len{r.flag}").filter(from_template[r.flag]).max()
          .alias(f"max{r.flag}") for r in rules.lengths),
    ).row(0, named=True)
    tally.update({key: n for key, n in counts.items()
                  if not key.startswith(("min", "max")) and n})
    for rule in rules.lengths:
        low, high = counts[f"min{rule.flag}"], counts[f"max{rule.flag}"]
        if low is not None:
            seen = lengths.get(rule.flag, (low, high))
            lengths[rule.flag] = (min(low, seen[0]), max(high, seen[1]))
    quiet = {r.flag for r in (*rules.placeholders, *rules.lengths, *rules.once)}
    return flags.select(
        pl.col("__cf"), pl.col("__tp"),
        pl.any_horizontal(rules.errors).alias("__error"),
        pl.any_horizontal(r.flag for r in plan.rules).alias("__flagged"),
        # what the per-row listing shows whatever the file-level verdict
        pl.any_horizontal(
            [pl.col(r.flag) for r in plan.rules if r.flag not in quiet]
            + [pl.col(r.flag) & ~pl.col(f"__tpl_{r.column}") for r in rules.lengths]
        ).alias("__rest"),
        *(hit.alias(f"__from{flag}") for flag, hit in from_template.items()),
    )


def _file_problems(rules: _Rules, tally: Counter[str], lengths: dict[str, tuple[int, int]],
                   columns: Columns, language: Language,
                   ) -> tuple[tuple[FileProblem, ...], dict[str, str]]:
    """Unknown placeholders that hit any row; lengths that fail every templated row; the
    campaign's own choices ("once" rules) that hit any row."""
    found: list[FileProblem] = []
    messages: dict[str, str] = {}
    for rule in rules.once:
        if tally[rule.flag]:
            found.append(FileProblem(rule.code, rule.context["once_column"],
                                     rule.context["once"], tally[rule.flag]))
            messages[rule.flag] = rule.context["once"]
    for rule in rules.placeholders:
        if tally[rule.flag]:
            problem = placeholder_problem(rule.context["placeholder"], columns,
                                          tally[rule.flag], language)
            found.append(problem)
            messages[rule.flag] = problem.message
    for rule in rules.lengths:
        hits = tally[f"hit{rule.flag}"]
        if hits and hits == tally[f"rendered_{rule.column}"]:
            shortest, longest = lengths[rule.flag]
            problem = length_problem(rule.code, columns.label(rule.column), shortest, longest,
                                     hits, language)
            found.append(problem)
            messages[rule.flag] = problem.message
    return tuple(found), messages


def _cell_problems(cells: pl.DataFrame, rows: pl.Series) -> pl.DataFrame:
    """The reader's cell problems of data rows, their codes checked once."""
    cells = cells.select(pl.col(c).cast(t) for c, t in CELL_PROBLEM_SCHEMA.items()).filter(
        pl.col("__row").is_in(rows.implode()))
    for code in cells.get_column("code").unique().to_list():
        ProblemCode(code)  # an unknown code is a bug: the guard reports it
    return cells
