"""IO's ``NewMessage`` constraints as polars expressions: one Boolean column per rule.

(Over 400 lines: one Plan holds every rule, so its derived column names share one namespace.)

A :class:`Plan` is built once per campaign from the resolved header, the template and the
defaults. It knows, for any slice of the input frame, how to derive the typed values (the
normalised fiscal code, cents, UTC due date, the rendered subject and text) and which rule
flags are up. Rules exist only for fields the campaign actually has, so a plain file with
three columns pays for three columns.

Nothing here creates Python objects per row: ``campaign.py`` asks for flags over the whole
file in chunks, and for values and details only for the rows someone looks at.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

import polars as pl
from stdnum.exceptions import ValidationError
from stdnum.it import iva

from dispatcher.campaign import remote_rules
from dispatcher.campaign import values as v
from dispatcher.campaign.fiscal_code import normalise_expr, verdict_expr
from dispatcher.campaign.headers import PERSONAL_KEYS
from dispatcher.campaign.problems import ProblemCode as P
from dispatcher.campaign.template import (
    FRONT_MATTER_START,
    Placeholder,
    Template,
    Text,
    cta_problem,
)
from dispatcher.message import Field
from dispatcher.vocabulary import Language

if TYPE_CHECKING:
    from dispatcher.campaign.attachments import AttachmentFiles

TEXT_FIELDS = ("subject", "markdown")
BOOLEAN_FIELDS = ("invalid_after_due_date", "has_remote_content", "has_attachments",
                  "require_secure_channels")
CHOICES = {"feature_level_type": ("STANDARD", "ADVANCED"),
           "has_precondition": ("ALWAYS", "ONCE", "NEVER")}
THIRD_PARTY_EXTRAS = ("configuration_id", "has_remote_content", "has_attachments",
                      "has_precondition", "summary", "original_sender", "original_receipt_date",
                      *remote_rules.REMOTE_COLUMNS)
_BOOLEAN_MESSAGE_FIELDS = {"invalid_after_due_date": Field.INVALID_AFTER_DUE_DATE,
                           "require_secure_channels": Field.REQUIRE_SECURE_CHANNELS}
# Fields whose own rule already reports a bad value, so a placeholder need not repeat it.
_TYPED = ("amount", "due_date", "original_receipt_date")
SEND_AFTER = "__send_after"
_DATE_ONLY = r"^(?:\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[/.-]\d{1,2}[/.-]\d{4})$"
_FISCAL_VERDICTS = {"missing": P.FISCAL_CODE_MISSING, "temporary": P.FISCAL_CODE_TEMPORARY,
                    "format": P.FISCAL_CODE_FORMAT, "checksum": P.FISCAL_CODE_CHECKSUM,
                    "birth_date": P.FISCAL_CODE_BIRTH_DATE}


@dataclass(frozen=True, eq=False)
class Rule:
    """``expr`` is true where the problem is; ``detail`` quotes the value in the message."""

    flag: str
    code: P
    column: str
    expr: pl.Expr
    detail: pl.Expr | None = None
    context: Mapping[str, str] = field(default_factory=dict)


def _cta_problems(texts: pl.Series) -> pl.Series:
    """What is wrong with each distinct markdown's CTA front matter (null where nothing is).

    Only values that open with ``---`` reach Python: a campaign's texts without front matter
    (nearly all) are skipped by one vectorised test.
    """
    candidates = texts.filter(texts.str.contains(FRONT_MATTER_START)).unique()
    found = {text: problem for text in candidates.to_list()
             if (problem := cta_problem(text)) is not None}
    return texts.replace_strict(found, default=None, return_dtype=pl.String)


def _payee_verdicts(codes: pl.Series) -> pl.Series:
    """python-stdnum ``it.iva`` on each distinct payee (a campaign has one or a few)."""
    verdicts: dict[str, str] = {}
    for code in codes.drop_nulls().unique().to_list():
        if not (len(code) == 11 and code.isdigit()):
            verdicts[code] = "format"
            continue
        try:
            iva.validate(code)
        except ValidationError:
            verdicts[code] = "checksum"
    return codes.replace_strict(verdicts, default=None, return_dtype=pl.String)


def _day_start_if_date_only(text: pl.Expr, instant: pl.Expr) -> pl.Expr:
    """A send-after date alone means from the start of that day in Italy (00:00 Rome).

    ``parse_instant`` reads a date alone as the end of the day (right for a due date); a
    send-after date is the day sending may begin. Midnight always exists in Rome (the clocks
    change at 02:00 and 03:00), so the local date is taken back to 00:00 there.
    """
    midnight = (instant.dt.convert_time_zone(v.ROME).dt.date().cast(pl.Datetime("us"))
                .dt.replace_time_zone(v.ROME).dt.convert_time_zone("UTC"))
    return pl.when(text.str.contains(_DATE_ONLY)).then(midnight).otherwise(instant)


class Plan:
    """How to derive payload values and rule flags from any slice of the input frame."""

    def __init__(
        self,
        file_columns: tuple[str, ...],
        template: Template | None,
        *,
        defaults: Mapping[str, str],
        amount_unit: v.AmountUnit,
        now: datetime,
        attachment_files: AttachmentFiles | None = None,
        language: Language = Language.EN,
    ) -> None:
        self.file_columns = frozenset(file_columns)
        self.attachment_files = attachment_files  # judges attachment paths (attachments.py)
        self.language = language  # of messages made while building (file-wide problems)
        self.defaults = dict(defaults)
        self.template = template
        self.amount_unit = amount_unit
        self.now = now
        self.stages: list[dict[str, pl.Expr]] = [{}, {}, {}, {}, {}]
        self.rules: list[Rule] = []
        self.message_columns: dict[Field, str] = {}
        """Which derived column holds each field of the outgoing message."""
        self.remote_columns: dict[str, str] = {}
        """Which derived column holds each remote text and the attachment cell
        (remote_rules.py); empty when the campaign supplies no remote content."""
        self._build()

    # -- helpers --------------------------------------------------------------------------

    def has(self, name: str) -> bool:
        return name in self.file_columns or name in self.defaults

    def _derive(self, stage: int, name: str, expr: pl.Expr, field: Field | None = None,
                ) -> pl.Expr:
        self.stages[stage][name] = expr.alias(name)
        if field is not None:
            self.message_columns[field] = name
        return pl.col(name)

    def _rule(self, code: P, column: str, expr: pl.Expr, detail: pl.Expr | None = None,
              **context: str) -> None:
        flag = f"__f{len(self.rules)}"
        self.rules.append(Rule(flag, code, column, expr.fill_null(False), detail, context))

    def value(self, name: str) -> pl.Expr:
        """The cleaned cell, or the campaign default where the cell is empty (else null).

        Subject and text have no default and no ``__v_`` column: a placeholder naming them
        (``{oggetto}`` in the template's text) reads the cell itself.
        """
        if name in TEXT_FIELDS:
            return self._cell(name)
        return pl.col(f"__v_{name}") if self.has(name) else pl.lit(None, pl.String)

    def _cell(self, name: str) -> pl.Expr:
        return v.clean(pl.col(name)) if name in self.file_columns else pl.lit(None, pl.String)

    # -- building -------------------------------------------------------------------------

    def _build(self) -> None:
        names = (self.file_columns | set(self.defaults)) - {"fiscal_code", *TEXT_FIELDS}
        for name in sorted(names):
            cell = self._cell(name)
            if name in self.defaults:
                cell = pl.coalesce(cell, pl.lit(self.defaults[name]))
            self._derive(0, f"__v_{name}", cell)
        self._fiscal_code()
        self._payment()
        self._dates()
        self._scalars()
        self._third_party()
        self._texts()

    def _fiscal_code(self) -> None:
        code = self._derive(0, "__cf", normalise_expr(pl.col("fiscal_code")))
        verdict = self._derive(1, "__cfv", verdict_expr(code))
        for name, code_ in _FISCAL_VERDICTS.items():
            self._rule(code_, "fiscal_code", verdict == name, detail=code)

    def _payment(self) -> None:
        if not (self.has("amount") or self.has("notice_number")):
            return
        amount_text = self.value("amount")
        cents = self._derive(1, "__amount_raw", v.amount_cents(amount_text, self.amount_unit))
        problem = self._derive(2, "__amount_p", v.amount_problem(amount_text, cents,
                                                                 self.amount_unit))
        unit = "euro cents" if self.amount_unit == "cents" else "euro"
        self._rule(P.AMOUNT_NOT_CENTS, "amount", problem == "not_cents", amount_text)
        self._rule(P.AMOUNT_FORMAT, "amount", problem == "format", amount_text, unit=unit)
        self._rule(P.AMOUNT_RANGE, "amount", problem == "range", amount_text)
        notice_text = self.value("notice_number")
        notice = notice_text.str.replace_all(r"\s", "")
        well_formed = self._derive(1, "__notice_ok", notice.str.contains(v.NOTICE_NUMBER_PATTERN))
        bad_notice = notice.is_not_null() & ~well_formed
        self._rule(P.NOTICE_NUMBER_FORMAT, "notice_number", bad_notice, notice_text)
        bad_check = ~v.notice_check_digits_match(notice, well_formed)
        self._rule(P.NOTICE_NUMBER_CHECK_DIGITS, "notice_number", bad_check, notice_text)
        self._rule(P.PAYMENT_INCOMPLETE, "amount",
                   amount_text.is_null() & notice_text.is_not_null())
        self._rule(P.PAYMENT_INCOMPLETE, "notice_number",
                   notice_text.is_null() & amount_text.is_not_null())
        complete = (cents.is_not_null() & problem.is_null() & ~bad_notice & ~bad_check
                    & notice.is_not_null())
        self._derive(3, "__amount", pl.when(complete).then(cents), Field.AMOUNT)
        self._derive(1, "__notice", notice, Field.NOTICE_NUMBER)
        if self.has("payee_fiscal_code"):
            payee = self.value("payee_fiscal_code").str.replace_all(r"\s", "")
            verdict = self._derive(1, "__payee_p", payee.map_batches(
                _payee_verdicts, return_dtype=pl.String))
            self._rule(P.PAYEE_FORMAT, "payee_fiscal_code", verdict == "format", payee)
            self._rule(P.PAYEE_CHECKSUM, "payee_fiscal_code", verdict == "checksum", payee)
            self._derive(1, "__payee", payee, Field.PAYEE_FISCAL_CODE)

    def _instant(self, name: str) -> pl.Expr | None:
        """Parsed UTC instant of a date field, with its format rule; None if absent."""
        if not self.has(name):
            return None
        column = f"__t_{name}"
        if column not in self.stages[1]:
            text = self.value(name)
            instant = self._derive(1, column, v.parse_instant(text))
            self._rule(P.DATE_FORMAT, name, text.is_not_null() & instant.is_null(), text)
        return pl.col(column)

    def _dates(self) -> None:
        due = self._instant("due_date")
        if due is not None:
            self._derive(2, "__due", v.iso_utc(due), Field.DUE_DATE)
            self._rule(P.DUE_DATE_PAST, "due_date", due < pl.lit(self.now),
                       self.value("due_date"))
        after = self._instant("send_after")  # a bad value is a DATE_FORMAT error
        if after is not None:
            text = self.value("send_after")
            after = self._derive(2, SEND_AFTER, _day_start_if_date_only(text, after))
            if due is not None:
                self._rule(P.SEND_AFTER_DUE_DATE, "send_after", after > due, text)

    def _scalars(self) -> None:
        for name in BOOLEAN_FIELDS:
            if self.has(name):
                text = self.value(name)
                parsed = self._derive(1, f"__b_{name}", v.parse_bool(text),
                                      _BOOLEAN_MESSAGE_FIELDS.get(name))
                self._rule(P.BOOLEAN_FORMAT, name, text.is_not_null() & parsed.is_null(), text)
        for name, choices in CHOICES.items():
            if self.has(name):
                text = self.value(name)
                upper = text.str.to_uppercase()
                ok = upper.is_in(choices)
                self._derive(1, f"__c_{name}", pl.when(ok).then(upper),
                             Field.FEATURE_LEVEL_TYPE if name == "feature_level_type" else None)
                self._rule(P.CHOICE_INVALID, name, text.is_not_null() & ~ok, text,
                           choices=", ".join(choices))
        if self.has("time_to_live"):
            text = self.value("time_to_live")
            seconds = v.parse_whole(text)
            ok = (seconds >= 3600) & (seconds <= 604800)
            self._derive(1, "__ttl", pl.when(ok).then(seconds), Field.TIME_TO_LIVE)
            self._rule(P.TIME_TO_LIVE_RANGE, "time_to_live",
                       text.is_not_null() & ~ok.fill_null(False), text)

    def _third_party(self) -> None:
        tp_id = self.value("third_party_id")
        # Only cells count here: a campaign default alone does not ask for remote content.
        extras = [self._cell(n).is_not_null() for n in THIRD_PARTY_EXTRAS
                  if n in self.file_columns]
        if self.template is not None and self.template.remote is not None:
            extras.append(pl.lit(True))  # the template gives every row remote content
        if extras:
            self._rule(P.THIRD_PARTY_ID_MISSING, "third_party_id",
                       tp_id.is_null() & pl.any_horizontal(extras))
        if not self.has("third_party_id"):
            return
        self._derive(1, "__tp_id", tp_id, Field.THIRD_PARTY_ID)
        # IO fetches /messages/{id}: only what a URL path segment carries as it is
        self._rule(P.THIRD_PARTY_ID_FORMAT, "third_party_id",
                   tp_id.is_not_null() & (~tp_id.str.contains(r"^[A-Za-z0-9._~-]{1,128}$")
                                          | tp_id.is_in([".", ".."])), tp_id)
        config = self.value("configuration_id")
        self._rule(P.CONFIGURATION_ID_MISSING, "configuration_id",
                   tp_id.is_not_null() & config.is_null())
        self._rule(P.CONFIGURATION_ID_FORMAT, "configuration_id",
                   config.is_not_null() & ~config.str.contains(v.ULID_PATTERN), config)
        if self.has("configuration_id"):
            self._derive(1, "__tp_cfg", config, Field.CONFIGURATION_ID)
        # the flags as the message carries them: what the row supplies sets them
        attach = remote_rules.declared_flags(self, tp_id)
        if attach is not None:
            level = (pl.col("__c_feature_level_type") if self.has("feature_level_type")
                     else pl.lit("STANDARD"))
            self._rule(P.ATTACHMENTS_NEED_ADVANCED,
                       "has_attachments" if self.has("has_attachments") else "attachments",
                       tp_id.is_not_null() & attach & (level.fill_null("STANDARD") != "ADVANCED"))
        for name, column, target in (("summary", "__tp_summary", Field.SUMMARY),
                                     ("original_sender", "__tp_sender", Field.ORIGINAL_SENDER)):
            if self.has(name):
                self._derive(1, column, self.value(name), target)
        receipt = self._instant("original_receipt_date")
        if receipt is not None:
            self._derive(2, "__tp_receipt", v.iso_utc(receipt), Field.ORIGINAL_RECEIPT_DATE)

    # -- subject and text -----------------------------------------------------------------

    def _placeholder_value(self, placeholder: Placeholder) -> tuple[pl.Expr, pl.Expr]:
        """(shown text, raw value) for one placeholder; shown is null when it cannot show."""
        name, helper = placeholder.name, placeholder.helper
        raw = pl.col("__cf") if name == "fiscal_code" else self.value(name)
        if helper == "euro":
            cents = v.amount_cents(raw, self.amount_unit)
            ok = v.amount_problem(raw, cents, self.amount_unit).is_null()
            return pl.when(ok).then(v.format_euro(cents)), raw
        if helper in ("date", "long_date", "time"):
            formatter = {"date": v.format_date, "long_date": v.format_long_date,
                         "time": v.format_time}[helper]
            shown = v.by_distinct(raw, lambda text: formatter(v.parse_instant_text(text)),
                                  pl.String())
            return shown, raw
        if helper == "upper":
            return raw.str.to_uppercase(), raw
        if helper == "lower":
            return raw.str.to_lowercase(), raw
        return raw, raw

    def _render(self, text: Text) -> tuple[pl.Expr, pl.Expr]:
        """The rendered text and its UTF-16 length, null when a placeholder has no value.

        The length is summed from the parts (literals counted once, in Python), so the
        validation pass never builds a million message bodies just to measure them.
        """
        parts = [pl.lit(part) if isinstance(part, str)
                 else pl.col(f"__ph_{part.name}_{part.helper}") for part in text.parts]
        literal = sum(v.utf16_units(part) for part in text.parts if isinstance(part, str))
        length: pl.Expr = pl.lit(literal, pl.Int64)
        for part in text.placeholders:
            shown = pl.col(f"__ph_{part.name}_{part.helper}")
            # helpers other than upper/lower produce BMP text: characters are UTF-16 units
            typed = part.helper not in (None, "upper", "lower")
            length = length + (shown.str.len_chars().cast(pl.Int64) if typed
                               else v.utf16_length(shown))
        return pl.concat_str(parts, ignore_nulls=False), length

    def _texts(self) -> None:
        template = self.template
        uses: dict[str, pl.Expr] = {}
        for name in TEXT_FIELDS:
            cell = self._cell(name)
            if name == "markdown":
                cell = cell.str.replace_all("\r\n", "\n", literal=True)
            compiled: Text | None = getattr(template, name) if template else None
            target = Field.SUBJECT if name == "subject" else Field.MARKDOWN
            if compiled is None:
                self._derive(3, f"__{name}", cell, target)
                self._derive(3, f"__len_{name}", v.utf16_length(cell))
                self._rule(P.SUBJECT_MISSING if name == "subject" else P.MARKDOWN_MISSING,
                           name, cell.is_null())
                continue
            uses[name] = self._derive(0, f"__uses_{name}", cell.is_null())
            rendered, length = self._render(compiled)
            self._derive(3, f"__{name}", pl.coalesce(cell, rendered), target)
            if name in self.file_columns:
                length = pl.when(cell.is_not_null()).then(v.utf16_length(cell)).otherwise(length)
            self._derive(3, f"__len_{name}", length)
        remote_rules.add_remote_rules(self, uses)  # before placeholders: it adds to uses
        self._placeholders(uses)
        if "markdown" in self.file_columns:
            # A text from the file: its CTA front matter is checked per distinct value (the
            # template's own text was checked once, when the template was loaded).
            cell = self._cell("markdown").str.replace_all("\r\n", "\n", literal=True)
            problem = self._derive(1, "__cta_p", cell.map_batches(
                _cta_problems, return_dtype=pl.String))
            self._rule(P.CTA_FORMAT, "markdown", problem.is_not_null(), problem)
        for name, low, high in (("subject", 10, 120), ("markdown", 80, 10000)):
            length = pl.col(f"__len_{name}")
            short = P.SUBJECT_TOO_SHORT if name == "subject" else P.MARKDOWN_TOO_SHORT
            long_ = P.SUBJECT_TOO_LONG if name == "subject" else P.MARKDOWN_TOO_LONG
            self._rule(short, name, length < low, length)
            self._rule(long_, name, length > high, length)
        subject = pl.col("__subject").str.to_lowercase()
        personal = ["fiscal_code", *sorted(n for n in self.file_columns if n in PERSONAL_KEYS)]
        for name in personal:
            needle = (pl.col("__cf") if name == "fiscal_code" else self.value(name))
            needle = needle.str.to_lowercase()
            self._rule(P.SUBJECT_PERSONAL_DATA, name,
                       (needle.str.len_chars() >= 3) & subject.str.contains(needle, literal=True))
        self._html(uses)

    def _html(self, uses: dict[str, pl.Expr]) -> None:
        """Raw HTML in the text, looked for in the cell and in placeholder values only.

        HTML written in the template itself is the same on every row: ``Campaign`` reports
        it once, as a note, instead of once per row.
        """
        sources = [self._cell("markdown")] if "markdown" in self.file_columns else []
        if "markdown" in uses and self.template and self.template.markdown:
            sources += [pl.col(f"__ph_{p.name}_{p.helper}")
                        for p in self.template.markdown.placeholders]
        if not sources:
            return
        found = pl.coalesce([s.str.extract(v.HTML_PATTERN, 0) for s in sources])
        self._rule(P.MARKDOWN_HTML, "markdown",
                   pl.any_horizontal(s.str.contains(v.HTML_PATTERN) for s in sources), found)

    def _placeholders(self, uses: dict[str, pl.Expr]) -> None:
        template = self.template
        if template is None:
            return
        used_by: dict[str, list[str]] = {}
        seen: dict[tuple[str, str | None], Placeholder] = {}
        for text_name in uses:
            compiled = template.text(text_name)
            if compiled is None:
                continue
            for placeholder in compiled.placeholders:
                used_by.setdefault(placeholder.name, [])
                if text_name not in used_by[placeholder.name]:
                    used_by[placeholder.name].append(text_name)
                seen.setdefault((placeholder.name, placeholder.helper), placeholder)
        for (name, helper), placeholder in seen.items():
            shown, raw = self._placeholder_value(placeholder)
            self._derive(2, f"__ph_{name}_{helper}", shown)
            used = pl.any_horizontal([uses[t] for t in used_by[name]])
            if helper and name not in _TYPED and (self.has(name) or name == "fiscal_code"):
                self._rule(P.PLACEHOLDER_BAD_VALUE, name,
                           used & raw.is_not_null() & shown.is_null(), raw,
                           placeholder=placeholder.text, helper=placeholder.helper_text)
        for name in used_by:
            first = next(p for (n, _), p in seen.items() if n == name)
            used = pl.any_horizontal([uses[t] for t in used_by[name]])
            if name == "fiscal_code":
                continue  # the fiscal code rules already speak for an empty cell
            if not self.has(name):
                self._rule(P.PLACEHOLDER_MISSING, name, used, placeholder=first.label)
            else:
                self._rule(P.PLACEHOLDER_EMPTY, name, used & self.value(name).is_null(),
                           placeholder=first.label)

    # -- evaluation -----------------------------------------------------------------------

    def lazy(self, chunk: pl.DataFrame) -> pl.LazyFrame:
        """``chunk`` with every derived column added (polars prunes the unused ones)."""
        frame = chunk.lazy()
        for stage in self.stages:
            if stage:
                frame = frame.with_columns(stage.values())
        return frame

    def flags(self, chunk: pl.DataFrame) -> pl.DataFrame:
        """The normalised fiscal code and one Boolean column per rule."""
        return self.lazy(chunk).select(
            pl.col("__cf"), *(rule.expr.alias(rule.flag) for rule in self.rules)
        ).collect()

    def details(self, chunk: pl.DataFrame) -> pl.DataFrame:
        """Flags and the values quoted by messages: for the rows someone will read about."""
        return self.lazy(chunk).select(
            *(rule.expr.alias(rule.flag) for rule in self.rules),
            *(rule.detail.cast(pl.String).alias(f"__d{rule.flag}") for rule in self.rules
              if rule.detail is not None),
        ).collect()

    def message_values(self, chunk: pl.DataFrame) -> pl.DataFrame:
        """``__cf``, one column per :attr:`message_fields`, then the :attr:`remote_columns`:
        the fast path for valid rows."""
        columns = ["__cf", *self.message_columns.values(), *self.remote_columns.values()]
        return self.lazy(chunk).select(pl.col(c) for c in columns).collect()

    @property
    def message_fields(self) -> tuple[Field, ...]:
        """The message fields :meth:`message_values` yields, in its column order after ``__cf``."""
        return tuple(self.message_columns)

    def send_after(self, chunk: pl.DataFrame) -> list[datetime | None] | None:
        """Each row's send-after instant (UTC), or None when the campaign has no such column."""
        if not self.has("send_after"):
            return None
        return self.lazy(chunk).select(pl.col(SEND_AFTER)).collect().to_series().to_list()

    def fiscal_codes(self, chunk: pl.DataFrame) -> pl.Series:
        """Normalised fiscal codes (null for an empty cell)."""
        return chunk.select(normalise_expr(pl.col("fiscal_code"))).to_series()
