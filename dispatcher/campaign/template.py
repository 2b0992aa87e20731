"""The campaign template: a subject and a text with placeholders, plus campaign defaults.

Two spellings of the same content, pick whichever an office finds easier:

* ``campaign.toml``::

    subject = "TARI 2027: avviso di pagamento"
    markdown = '''
    Gentile {nome} {cognome}, l'importo di **{importo|euro}** scade il {scadenza|data_lunga}.
    '''
    amount_unit = "cents"            # or "euro": then 12,50 in the file means € 12,50
    [defaults]                       # used where a row leaves the cell empty
    payee_fiscal_code = "01199250158"
    invalid_after_due_date = false

* ``campaign.md``: the message text, with the other keys in TOML front matter between
  ``+++`` lines. (``---`` is left alone: IO itself reads a ``---`` front matter at the start
  of a message for call-to-action buttons, so the body may begin with one.)

A text that begins with a ``---`` block is checked the way the IO app reads it (io-app
``MessageCTA.ts``: YAML with ``it`` and/or ``en`` blocks, each with ``cta_1`` and optionally
``cta_2``, each ``{text, action}``); the app silently drops buttons it cannot read, so a
mistake here would reach every citizen as a message without its button. The block stays part
of the text IO receives and counts toward its length, as it does in IO.

Placeholders are ``{column}`` or ``{column|helper}``. Column names match like headers do
(case, accents, spaces and ``_`` ignored; Italian aliases work, so ``{importo}`` is the
``amount`` field). Helpers: ``euro`` (``€ 1.234,56``), ``data``/``date`` (``31/01/2027``),
``data_lunga``/``long_date`` (``31 gennaio 2027``), ``ora``/``time`` (``10:30``),
``maiuscolo``/``upper``, ``minuscolo``/``lower``. Write ``{{`` and ``}}`` for literal braces;
``{{nome}}`` is refused, because it would otherwise reach citizens as the text ``{nome}``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from dispatcher.campaign.headers import FIELDS, column_name, header_key
from dispatcher.campaign.problems import CampaignFileError
from dispatcher.campaign.remote_template import RemoteTemplate, parse_remote_section
from dispatcher.campaign.values import AmountUnit

HELPERS: dict[str, str] = {
    "euro": "euro",
    "data": "date", "date": "date",
    "datalunga": "long_date", "longdate": "long_date",
    "ora": "time", "time": "time",
    "maiuscolo": "upper", "upper": "upper",
    "minuscolo": "lower", "lower": "lower",
}
_TOP_KEYS = {"subject", "markdown", "amount_unit", "defaults", "remote"}

CTA_LOCALES = ("it", "en")
CTA_KEYS = ("cta_1", "cta_2")
FRONT_MATTER_START = r"^\x{FEFF}?---(?:\n|$)"
"""A text opening with a ``---`` line (polars regex): only those can carry CTA buttons."""

_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|\{|\}")
_JINJA = re.compile(r"\{\{\s*[^{}\s|]+(?:\s*\|\s*[^{}\s]+)?\s*\}\}")


@dataclass(frozen=True)
class Placeholder:
    """``{Scadenza|data}`` → name ``due_date``, helper ``date``, label ``Scadenza``."""

    name: str
    label: str
    helper: str | None
    text: str = ""  # as written between the braces, for messages

    @property
    def helper_text(self) -> str:
        return self.text.partition("|")[2].strip()


@dataclass(frozen=True)
class Text:
    """A compiled subject or body: literal strings and placeholders, in order."""

    parts: tuple[str | Placeholder, ...]

    @property
    def placeholders(self) -> tuple[Placeholder, ...]:
        return tuple(p for p in self.parts if isinstance(p, Placeholder))


@dataclass(frozen=True)
class Template:
    path: Path | None
    sha256: str | None
    subject: Text | None = None
    markdown: Text | None = None
    amount_unit: AmountUnit | None = None
    defaults: dict[str, str] = field(default_factory=dict)
    remote: RemoteTemplate | None = None  # the [remote] section (remote_template.py)

    @property
    def placeholders(self) -> tuple[Placeholder, ...]:
        texts = [t for t in (self.subject, self.markdown) if t is not None]
        texts += list(self.remote.texts) if self.remote else []
        return tuple(p for t in texts for p in t.placeholders)

    def text(self, name: str) -> Text | None:
        """A text by its column name: ``subject``, ``markdown`` or a remote one."""
        if name in ("subject", "markdown"):
            return getattr(self, name)  # type: ignore[no-any-return]
        return self.remote.text(name) if self.remote else None


def compile_text(text: str, where: str, path: object) -> Text:
    """Split ``text`` into literals and placeholders; syntax errors name the line."""
    jinja = _JINJA.search(text)
    if jinja:
        inner = jinja.group(0)[2:-2].strip()
        raise CampaignFileError(
            path, f"{where}: write {{{inner}}}, not {jinja.group(0)} (single braces)"
        )
    parts: list[str | Placeholder] = []
    literal: list[str] = []
    position = 0
    for match in _TOKEN.finditer(text):
        literal.append(text[position:match.start()])
        position = match.end()
        token = match.group(0)
        if token in ("{{", "}}"):
            literal.append(token[0])
            continue
        line = text.count("\n", 0, match.start()) + 1
        if match.group(1) is None:
            raise CampaignFileError(
                path, f"{where}, line {line}: unmatched {token!r} (write {token * 2} for a brace)"
            )
        if literal:
            parts.append("".join(literal))
            literal = []
        parts.append(_placeholder(match.group(1), f"{where}, line {line}", path))
    literal.append(text[position:])
    if "".join(literal):
        parts.append("".join(literal))
    return Text(tuple(parts))


def _placeholder(inner: str, where: str, path: object) -> Placeholder:
    label, _, helper_text = inner.partition("|")
    label = label.strip()
    if not header_key(label):
        raise CampaignFileError(path, f"{where}: empty placeholder {{{inner}}}")
    helper = None
    if helper_text.strip():
        helper = HELPERS.get(header_key(helper_text))
        if helper is None:
            known = ", ".join(sorted({"euro", "data", "data_lunga", "ora", "maiuscolo",
                                      "minuscolo"}))
            raise CampaignFileError(
                path, f"{where}: unknown helper {helper_text.strip()!r} in {{{inner}}} "
                f"(known: {known})"
            )
    return Placeholder(column_name(label), label, helper, inner.strip())


def _as_text(value: Any, key: str, path: object) -> str:
    """TOML values become the text a cell would hold, so one set of rules checks both."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return value
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    raise CampaignFileError(path, f"defaults.{key}: {value!r} is not a text, number or date")


class _Yaml12Loader(yaml.SafeLoader):
    """Safe YAML with YAML 1.2 booleans, like the js-yaml the app uses: ``yes`` stays text."""


_Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


def cta_problem(markdown: str) -> str | None:
    """What is wrong with the CTA front matter at the top of ``markdown``; None if nothing.

    No front matter is fine. The block opens with a ``---`` first line and closes with
    ``---`` or ``...`` (the app's ``front-matter`` parser), and must be YAML shaped as
    ``{it|en: {cta_1: {text, action}, cta_2?: {text, action}}}``.
    """
    lines = markdown.removeprefix("\ufeff").split("\n")
    if lines[0].rstrip("\r") != "---":
        return None
    end = next((i for i in range(1, len(lines)) if lines[i].rstrip("\r") in ("---", "...")),
               None)
    if end is None:
        return "the block opened with --- at the top of the text is never closed with ---"
    try:
        data = yaml.load("\n".join(lines[1:end]), Loader=_Yaml12Loader)  # a SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 2} of the text" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "cannot be read"
        return f"not valid YAML{where}: {problem}"
    if not isinstance(data, dict) or not data:
        return "the block must hold an it: and/or an en: section"
    unknown = [str(key) for key in data if key not in CTA_LOCALES]
    if unknown:
        return f"unknown block {', '.join(unknown)} (IO reads only it and en)"
    for locale, block in data.items():
        problem = _cta_block_problem(str(locale), block)
        if problem:
            return problem
    return None


def _cta_block_problem(locale: str, block: object) -> str | None:
    if not isinstance(block, dict):
        return f"{locale} must hold cta_1 (and optionally cta_2)"
    unknown = [str(key) for key in block if key not in CTA_KEYS]
    if unknown:
        return f"{locale}.{unknown[0]} is not cta_1 or cta_2"
    if "cta_1" not in block:
        return f"{locale} has no cta_1"
    for key, cta in block.items():
        name = f"{locale}.{key}"
        if not isinstance(cta, dict):
            return f"{name} must hold text and action"
        for part in ("text", "action"):
            value = cta.get(part)
            if value is None:
                return f"{name} has no {part}"
            if not isinstance(value, str):
                return f"{name} {part} is not text (put it in quotes)"
            if not value.strip():
                return f"{name} {part} is empty"
        action = str(cta["action"]).strip()
        if not action.lower().startswith(CTA_SCHEMES):
            return (f"{name} action {action[:40]!r} is not an IO link: the app shows no button "
                    "for it (use ioit://..., iohandledlink://https://... or iosso://...)")
    return None


CTA_SCHEMES = ("ioit://", "iohandledlink://", "iosso://")
"""The actions the IO app turns into a button (io-app ``isCtaActionValid``): an internal
route, a link the app opens for the citizen, a FIMS sign-in. Anything else shows nothing."""


def _check_cta(markdown: Text, path: object) -> None:
    """The template's CTA block, once at load; a placeholder stands for some text."""
    # a placeholder stands for some text, maybe a whole IO link: only the rest is judged here
    text = "".join(part if isinstance(part, str) else "iohandledlink://x"
                   for part in markdown.parts)
    problem = cta_problem(text)
    if problem:
        raise CampaignFileError(
            path, f"markdown: the call-to-action front matter is not as IO reads it: {problem}"
        )


def _split_front_matter(text: str, path: object) -> tuple[str, str]:
    lines = text.split("\n")
    if not lines or lines[0].strip() != "+++":
        return "", text
    for index in range(1, len(lines)):
        if lines[index].strip() == "+++":
            return "\n".join(lines[1:index]), "\n".join(lines[index + 1:])
    raise CampaignFileError(path, "front matter opened with +++ is never closed")


def load_template(path: Path) -> Template:
    """Read a ``.toml`` or ``.md`` template; every mistake is a :class:`CampaignFileError`."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CampaignFileError(path, f"cannot read the template: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8-sig").replace("\r\n", "\n")
    except UnicodeDecodeError:
        raise CampaignFileError(path, "the template is not UTF-8 text") from None
    body: str | None = None
    if path.suffix.lower() in (".md", ".markdown"):
        front, body = _split_front_matter(text, path)
        text = front
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CampaignFileError(path, f"not valid TOML: {exc}") from None
    unknown = set(data) - _TOP_KEYS
    if unknown:
        raise CampaignFileError(
            path, f"unknown key(s) {', '.join(sorted(unknown))}; allowed: "
            f"{', '.join(sorted(_TOP_KEYS))}"
        )
    if body is not None:
        if "markdown" in data:
            raise CampaignFileError(path, "the text is the body after +++; remove 'markdown'")
        data["markdown"] = body.strip("\n") or None
    texts: dict[str, Text | None] = {}
    for key in ("subject", "markdown"):
        value = data.get(key)
        if value is not None and not isinstance(value, str):
            raise CampaignFileError(path, f"{key} must be text")
        # Outer white space is trimmed here, so a rendered text never needs trimming.
        texts[key] = compile_text(value.strip(), key, path) if value and value.strip() else None
    if texts["markdown"] is not None:
        _check_cta(texts["markdown"], path)
    remote = parse_remote_section(data["remote"], path, compile_text) \
        if "remote" in data else None
    if remote is not None and remote.markdown is not None:
        _check_cta(remote.markdown, path)  # a broken --- block is a mistake there too
    unit = data.get("amount_unit")
    if unit is not None and unit not in ("cents", "euro"):
        raise CampaignFileError(path, f'amount_unit must be "cents" or "euro", not {unit!r}')
    defaults = data.get("defaults", {})
    if not isinstance(defaults, dict):
        raise CampaignFileError(path, "defaults must be a table: [defaults]")
    template = Template(
        path=path,
        sha256=hashlib.sha256(raw).hexdigest(),
        subject=texts["subject"],
        markdown=texts["markdown"],
        amount_unit=unit,
        defaults=normalise_defaults(defaults, path),
        remote=remote,
    )
    used = {p.name for p in template.placeholders}
    stray = [name for name in template.defaults if name not in FIELDS and name not in used]
    if stray:
        raise CampaignFileError(
            path, f"defaults {', '.join(stray)}: neither an IO field nor used by a placeholder "
            "(a typo?)"
        )
    return template


def normalise_defaults(defaults: dict[str, Any], path: object) -> dict[str, str]:
    """Default keys go through the header aliases; values become text."""
    out: dict[str, str] = {}
    for key, value in defaults.items():
        name = column_name(key)
        if name in ("fiscal_code", "subject", "markdown"):
            raise CampaignFileError(path, f"defaults.{key}: {name} cannot have a default")
        if name in out:
            raise CampaignFileError(path, f"defaults.{key}: {name} is given twice")
        out[name] = _as_text(value, key, path)
    return out
