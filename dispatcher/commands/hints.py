"""Suggested commands that work: each repeats the flags the current invocation needed.

"then run: dispatcher run tari.csv --require-test" is no help when the campaign needs
``-t tari.toml`` and lives in a ``--ledger`` of its own: the operator copies it and gets
exit 2. So a hint is never typed out by hand: :func:`suggest` builds it from the target
command, its own arguments, and the *context* options of an :class:`Invocation` (the one
running now, or one recorded in the ledger's audit trail) that the target command accepts.

Only the options in :data:`CARRIED` travel: where the campaign, its template, ledger, journal,
content store and settings are, how the file and its attachments are read, the send window,
and ``--require-test`` (a safeguard the operator chose keeps guarding the suggested run).
Choices the operator makes per run (``--skip-invalid``, ``--resend-ambiguous``, ``--yes``,
``--json``) never do: a hint adds the one it is about. No option carries a secret (keys come
from the environment or a file, never argv), and every word is quoted with :func:`shlex.quote`.

The current invocation is read from ``sys.argv`` (as the audit trail records it), with the
target commands' own option declarations (their ``typer.Option`` defaults) telling which
options take a value: the same reading serves a command line recorded months ago.
"""

from __future__ import annotations

import importlib
import inspect
import shlex
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from typer.models import ArgumentInfo, OptionInfo

if TYPE_CHECKING:
    from dispatcher.operations.errors import Suggestion

__all__ = ["CARRIED", "Invocation", "suggest", "suggestion_text"]

PROGRAM = "dispatcher"
CARRIED: tuple[str, ...] = (
    "template", "ledger", "config", "journal", "sheet", "encoding", "delimiter",
    "amount_unit", "rate", "concurrency", "profile_cache", "profile_cache_file", "export_dir",
    "campaign", "content_store", "convert_pdfa", "pdfa_validator", "max_attachment_size",
    "send_window", "require_test",
)
"""Parameter names (as the commands' functions spell them) a suggested command repeats."""

_NEVER = ("key", "secret", "token", "password")


@dataclass(frozen=True)
class _Option:
    name: str
    flags: tuple[str, ...]
    takes_value: bool

    @property
    def long(self) -> str:
        return next((f for f in self.flags if f.startswith("--")), self.flags[0])


@dataclass(frozen=True)
class _Spec:
    """One command's options, and the name of its first positional argument."""

    options: tuple[_Option, ...]
    first_argument: str | None

    def by_flag(self) -> dict[str, _Option]:
        return {flag: option for option in self.options for flag in option.flags}


@cache
def _spec(command: str) -> _Spec | None:
    """The options of ``command`` (``""``: the root's, ``dispatcher --lang it ...``)."""
    from dispatcher import cli

    module_name = dict(cli.COMMAND_MODULES).get(command)
    module = importlib.import_module(module_name) if module_name else None
    if command == "":
        function = cli.root
    elif module is None or hasattr(module, "app"):  # unknown, or a group of sub-commands
        return None
    else:
        function = module.command
    options: list[_Option] = []
    first: str | None = None
    for name, parameter in inspect.signature(function).parameters.items():
        info = parameter.default
        if isinstance(info, OptionInfo) and info.param_decls:
            flags = tuple(d for d in info.param_decls if d.startswith("-"))
            options.append(_Option(name, flags, not isinstance(info.default, bool)))
        elif isinstance(info, ArgumentInfo) and first is None:
            first = name
    return _Spec(tuple(options), first)


@dataclass(frozen=True)
class Invocation:
    """The context options one command line was given (``values``) and its campaign ``file``.

    Values are kept as typed (relative paths stay relative: the hint is for the same shell).
    """

    values: Mapping[str, str] = field(default_factory=dict)
    file: str | Path | None = None

    @classmethod
    def current(cls) -> Invocation:
        """The command running now, as the operator typed it (defaults are not repeated)."""
        return cls.parse([PROGRAM, *sys.argv[1:]]) or cls()

    @classmethod
    def recorded(cls, command_line: str) -> Invocation | None:
        """A command line kept in the audit trail (``dispatcher run f.csv -t t.toml``)."""
        try:
            return cls.parse(shlex.split(command_line))
        except ValueError:  # unbalanced quotes: not a command line we wrote
            return None

    @classmethod
    def parse(cls, words: Sequence[str]) -> Invocation | None:
        """``["dispatcher", "run", "f.csv", "-t", "t.toml"]``; None when it is not ours."""
        if not words or Path(words[0]).name not in (PROGRAM, "__main__.py"):
            return None
        rest = list(words[1:])
        root = _spec("")
        with_value = {f for o in root.options if o.takes_value for f in o.flags} if root else ()
        while rest and rest[0].startswith("-"):  # the root's options, before the command
            rest = rest[2:] if rest[0] in with_value else rest[1:]
        spec = _spec(rest[0]) if rest else None
        if spec is None:
            return None
        values, positional = _read(spec, rest[1:])
        file = positional[0] if positional and spec.first_argument == "file" else None
        return cls(values, file)


def _read(spec: _Spec, words: list[str]) -> tuple[dict[str, str], list[str]]:
    """The carried options' values and the positional words of one command's arguments."""
    by_flag = spec.by_flag()
    values: dict[str, str] = {}
    positional: list[str] = []
    index = 0
    while index < len(words):
        word = words[index]
        index += 1
        if word == "--":
            positional += words[index:]
            break
        flag, attached = word, None
        if word.startswith("--") and "=" in word:
            flag, attached = word.split("=", 1)
        elif word[:2] in by_flag and len(word) > 2 and not word.startswith("--"):
            flag, attached = word[:2], word[2:]  # -tTEMPLATE
        option = by_flag.get(flag)
        if option is None:
            if not word.startswith("-") or word == "-":
                positional.append(word)
            continue
        if not option.takes_value:
            if option.name in CARRIED:
                values[option.name] = ""  # a switch: present, no value
            continue
        if attached is None:
            if index >= len(words):
                break
            attached, index = words[index], index + 1
        if option.name in CARRIED:
            values[option.name] = attached
    return values, positional


def suggest(command: str, *arguments: str | Path, flags: Sequence[str] = (),
            invocation: Invocation | None = None) -> str:
    """``dispatcher COMMAND ARGUMENTS [carried options] FLAGS``, quoted for a POSIX shell.

    The carried options are those of ``invocation`` (default: the current one) that
    ``command`` accepts, in the order ``command`` declares them.
    """
    invocation = invocation if invocation is not None else Invocation.current()
    words = [PROGRAM, command, *map(str, arguments)]
    spec = _spec(command)
    for option in spec.options if spec is not None else ():
        if option.name not in invocation.values:
            continue
        if any(part in option.name for part in _NEVER):
            continue  # never: keys are not flags, and a hint must not grow one
        if not option.takes_value:
            if option.long not in flags:
                words.append(option.long)  # a switch the invocation was given
            continue
        words += [option.long, invocation.values[option.name]]
    words += flags
    return " ".join(shlex.quote(word) for word in words)


def suggestion_text(suggestion: Suggestion, invocation: Invocation | None = None) -> str:
    """An operation's :class:`~dispatcher.operations.errors.Suggestion` as a command line."""
    return suggest(suggestion.command, *suggestion.arguments, flags=suggestion.flags,
                   invocation=invocation)
