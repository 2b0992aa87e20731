"""Remote content as polars rules: the flags the message carries, the texts, every problem.

A row asks for remote content with its ``third_party_id``; what IO will fetch comes from the
template's ``[remote]`` section (remote_template.py) or the row's own cells
(``oggetto_remoto``, ``testo_remoto``, ``titolo_precondizione``, ``testo_precondizione``,
``allegati_file``). :class:`~dispatcher.campaign.rules.Plan` calls two functions here:

* :func:`declared_flags`, with the other third-party fields: ``has_remote_content``,
  ``has_attachments`` and ``has_precondition`` as the message will carry them. What the row
  supplies sets them (remote text → ``has_remote_content: true``, files →
  ``has_attachments: true``, a precondition → ``has_precondition`` ``ALWAYS`` unless the row
  says ``ONCE``), so an office need not fill them in; a flag that says the opposite of what
  the row supplies is an error, because IO would drop or fail to show the content.
* :func:`add_remote_rules`, with the texts: renders and measures the remote texts (UTF-16
  units, as IO counts), checks what must come in pairs, the files, and the warnings.

Whether "flag true, nothing supplied" is a mistake depends on who serves the content. A
campaign that supplies remote content anywhere (template section or columns) is served by
dispatcher's content server, which will have nothing to answer: an error. A campaign that
supplies none is served by the ente's own server, which the tool cannot see: only
``has_attachments`` gets a warning, once for the file, naming the server that must serve them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import polars as pl

from dispatcher.campaign import values as v
from dispatcher.campaign.attachments import FILE_CODES, PROBLEM_STRUCT
from dispatcher.campaign.problems import ProblemCode as P
from dispatcher.campaign.problems import file_message, message_for
from dispatcher.campaign.remote_template import REMOTE_TEXTS, RemoteTemplate
from dispatcher.message import Field
from dispatcher.privacy import mask_fiscal_codes_in

if TYPE_CHECKING:
    from dispatcher.campaign.rules import Plan

__all__ = ["COURTESY_LIMIT", "REMOTE_COLUMNS", "add_remote_rules", "declared_flags",
           "supplies_content"]

REMOTE_COLUMNS = (*REMOTE_TEXTS, "attachments")
"""Cells that give a row remote content (each also asks for a ``third_party_id``)."""
COURTESY_LIMIT = 134
"""Characters of the courtesy text the e-mail forward of a remote-content message shows."""
_LIMITS = (("remote_subject", 10, 120, P.REMOTE_SUBJECT_TOO_SHORT, P.REMOTE_SUBJECT_TOO_LONG),
           ("remote_markdown", 80, 10000, P.REMOTE_MARKDOWN_TOO_SHORT,
            P.REMOTE_MARKDOWN_TOO_LONG))
_PAIRS = (("remote_subject", "remote_markdown", P.REMOTE_DETAILS_INCOMPLETE),
          ("precondition_title", "precondition_markdown", P.PRECONDITION_INCOMPLETE))


def _section(plan: Plan) -> RemoteTemplate | None:
    return plan.template.remote if plan.template is not None else None


def supplies_content(plan: Plan) -> bool:
    """Whether this campaign gives remote content itself (so dispatcher will serve it)."""
    return _section(plan) is not None or any(plan.has(name) for name in REMOTE_COLUMNS)


def _given(plan: Plan, name: str) -> pl.Expr:
    """Rows that supply this text: the template has it, or the row's cell (or default) does.

    Judged on the source, not the rendered text: an empty placeholder is its own problem.
    """
    section = _section(plan)
    if section is not None and section.text(name) is not None:
        return pl.lit(True)
    return plan.value(name).is_not_null() if plan.has(name) else pl.lit(False)


def _files_given(plan: Plan) -> pl.Expr:
    section = _section(plan)
    if section is not None and section.attachments:
        return pl.lit(True)
    if plan.has("attachments"):
        return plan.value("attachments").str.contains(r"[^\s;|]").fill_null(False)
    return pl.lit(False)


def _flag(plan: Plan, name: str, column: str) -> pl.Expr | None:
    return pl.col(column) if plan.has(name) else None


def declared_flags(plan: Plan, tp_id: pl.Expr) -> pl.Expr | None:
    """Derive the three flags the message carries; return ``has_attachments`` (or None).

    A flag is derived only when the file, a default or what the campaign supplies can set
    it: a campaign without remote content keeps the payload it always had.
    """
    sent = tp_id.is_not_null()
    details = _given(plan, "remote_subject") | _given(plan, "remote_markdown")
    precondition = _given(plan, "precondition_title") | _given(plan, "precondition_markdown")
    files = _files_given(plan)
    remote_flag = _flag(plan, "has_remote_content", "__b_has_remote_content")
    attach_flag = _flag(plan, "has_attachments", "__b_has_attachments")
    pre_flag = _flag(plan, "has_precondition", "__c_has_precondition")
    supplied = supplies_content(plan)
    if remote_flag is not None or supplied:
        plan._derive(2, "__tp_remote", pl.when(sent & details).then(True)
                     .otherwise(remote_flag if remote_flag is not None
                                else pl.lit(None, pl.Boolean)), Field.HAS_REMOTE_CONTENT)
    attach: pl.Expr | None = None
    if attach_flag is not None or supplied:
        attach = plan._derive(2, "__tp_attach", pl.when(sent & files).then(True)
                              .otherwise(attach_flag if attach_flag is not None
                                         else pl.lit(None, pl.Boolean)), Field.HAS_ATTACHMENTS)
    if pre_flag is not None or supplied:
        declared = pre_flag if pre_flag is not None else pl.lit(None, pl.String)
        plan._derive(2, "__tp_pre", pl.when(sent & precondition & declared.is_null())
                     .then(pl.lit("ALWAYS")).otherwise(declared), Field.HAS_PRECONDITION)
    _contradictions(plan, sent, supplied, details, files, precondition,
                    remote_flag, attach_flag, pre_flag)
    return attach


def _contradictions(plan: Plan, sent: pl.Expr, supplied: bool, details: pl.Expr,
                    files: pl.Expr, precondition: pl.Expr, remote_flag: pl.Expr | None,
                    attach_flag: pl.Expr | None, pre_flag: pl.Expr | None) -> None:
    """A flag that says the opposite of what the row supplies: IO would not show it right."""
    if remote_flag is not None:
        plan._rule(P.REMOTE_CONTENT_NOT_DECLARED, "has_remote_content",
                   sent & details & ~remote_flag)
        if supplied:
            plan._rule(P.REMOTE_CONTENT_MISSING, "has_remote_content",
                       sent & ~details & remote_flag)
    if attach_flag is not None:
        plan._rule(P.ATTACHMENTS_NOT_DECLARED, "has_attachments",
                   sent & files & ~attach_flag)
        without = sent & ~files & attach_flag
        if supplied:
            plan._rule(P.ATTACHMENTS_MISSING, "has_attachments", without)
        else:  # the ente's own server may serve them: say it once, as a warning
            plan._rule(P.ATTACHMENTS_WITHOUT_FILES, "has_attachments", without,
                       **_once(plan, P.ATTACHMENTS_WITHOUT_FILES, "has_attachments"))
    if pre_flag is not None:
        plan._rule(P.PRECONDITION_NOT_DECLARED, "has_precondition",
                   sent & precondition & (pre_flag == "NEVER"))
        if supplied:
            plan._rule(P.PRECONDITION_MISSING, "has_precondition",
                       sent & ~precondition & pre_flag.is_in(["ALWAYS", "ONCE"]), pre_flag)


def _once(plan: Plan, code: P, column: str, **context: Any) -> dict[str, str]:
    """Context that makes a rule one problem of the whole file (judgement.py)."""
    text = mask_fiscal_codes_in(message_for(code, plan.language, **context))
    return {"once": text, "once_column": column}


def add_remote_rules(plan: Plan, uses: dict[str, pl.Expr]) -> None:
    """Remote texts (rendered, measured), pairs, files and warnings; ``uses`` gains the
    template's remote texts, so their placeholders are derived and checked with the others.
    """
    if not plan.has("third_party_id"):
        return  # THIRD_PARTY_ID_MISSING already refuses rows that supply remote content
    sent = plan.value("third_party_id").is_not_null()
    _texts(plan, sent, uses)
    for first, second, code in _PAIRS:
        if first in plan.remote_columns or second in plan.remote_columns:
            one, other = _given(plan, first), _given(plan, second)
            plan._rule(code, second, sent & one & ~other)
            plan._rule(code, first, sent & other & ~one)
    _files(plan, sent)
    _warnings(plan, sent)


def _texts(plan: Plan, sent: pl.Expr, uses: dict[str, pl.Expr]) -> None:
    section = _section(plan)
    for name in REMOTE_TEXTS:
        compiled = section.text(name) if section is not None else None
        if compiled is None and not plan.has(name):
            continue
        cell = plan.value(name) if plan.has(name) else pl.lit(None, pl.String)
        if name.endswith("markdown"):
            cell = cell.str.replace_all("\r\n", "\n", literal=True)
        if compiled is None:
            text, length = cell, v.utf16_length(cell)
        else:
            uses[name] = plan._derive(1, f"__uses_{name}", sent & cell.is_null())
            rendered, length = plan._render(compiled)
            text = pl.coalesce(cell, rendered)
            length = pl.when(cell.is_not_null()).then(v.utf16_length(cell)).otherwise(length)
        plan._derive(3, f"__rc_{name}", pl.when(sent).then(text))
        plan._derive(3, f"__rclen_{name}", pl.when(sent).then(length))
        plan.remote_columns[name] = f"__rc_{name}"
    for name, low, high, short, long_ in _LIMITS:
        if name in plan.remote_columns:
            length = pl.col(f"__rclen_{name}")
            plan._rule(short, name, length < low, length)
            plan._rule(long_, name, length > high, length)


def _files(plan: Plan, sent: pl.Expr) -> None:
    files = plan.attachment_files
    if files is None:
        return
    if plan.has("attachments"):
        cells = plan.value("attachments")
        found = plan._derive(1, "__att_p", cells.map_batches(files.problem_columns,
                                                             return_dtype=PROBLEM_STRUCT))
        for code in FILE_CODES:
            detail = found.struct.field(code.value)
            plan._rule(code, "attachments", detail.is_not_null(), detail)
        plan._derive(3, "__rc_attachments", pl.when(sent).then(cells))
        plan.remote_columns["attachments"] = "__rc_attachments"
    elif files.template:
        plan._derive(3, "__rc_attachments", pl.when(sent).then(pl.lit(None, pl.String)))
        plan.remote_columns["attachments"] = "__rc_attachments"
    language = plan.language
    for file, code, detail in files.template_problems():
        text = mask_fiscal_codes_in(message_for(code, language, value=detail) + "; "
                                    + file_message("from_template", language))
        plan._rule(code, "attachments", sent, once=text, once_column=file.written)


def _warnings(plan: Plan, sent: pl.Expr) -> None:
    """Remote content that e-mail would leak or cut: worth a look, still sent."""
    columns = plan.message_columns
    remote = pl.col(columns[Field.HAS_REMOTE_CONTENT]).fill_null(False) \
        if Field.HAS_REMOTE_CONTENT in columns else pl.lit(False)
    attach = pl.col(columns[Field.HAS_ATTACHMENTS]).fill_null(False) \
        if Field.HAS_ATTACHMENTS in columns else pl.lit(False)
    secure = pl.col("__b_require_secure_channels").fill_null(False) \
        if plan.has("require_secure_channels") else pl.lit(False)
    if Field.HAS_REMOTE_CONTENT not in columns and Field.HAS_ATTACHMENTS not in columns:
        return
    exposed = sent & (remote | attach) & ~secure
    if "require_secure_channels" in plan.file_columns:
        plan._rule(P.REMOTE_NOT_SECURE, "require_secure_channels", exposed)
    else:  # the whole campaign's choice: said once
        plan._rule(P.REMOTE_NOT_SECURE, "require_secure_channels", exposed,
                   **_once(plan, P.REMOTE_NOT_SECURE, "require_secure_channels"))
    length = pl.col("__len_markdown")
    plan._rule(P.COURTESY_TEXT_LONG, "markdown",
               sent & remote & ~secure & (length > COURTESY_LIMIT), length)
