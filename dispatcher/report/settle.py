"""Is the campaign complete, and if not, which command settles what is still open?

"Complete" means every row has a final outcome and none is ambiguous: no row pending or in
flight, no ambiguous row, and every sent message has a final IO status (PROCESSED, REJECTED,
FAILED). Until then the report says how many rows still need a decision and the command that
moves each kind on: the same ``run`` again for rows not processed yet, that ``run`` with
``--resend-ambiguous`` once the office decided to resend the ambiguous rows, ``status`` for
messages whose IO status is not known or not final.

A suggested command must work when pasted, so it repeats what the campaign's own ``run``
needed. The ledger keeps that command line (the audit trail, secrets removed); from it the
flags that belong to the campaign (``-t``, ``--ledger``, ``--config``, ``--journal``...) are
kept and the one-off choices (``--resend-ambiguous``, ``--retry-failed``, ``--yes``, ``--json``,
``--dry-run``...) dropped. The campaign file is the one the report found by its SHA-256 and the
ledger the one the report read, so the command works from where the report was made. Every
word is shell-quoted.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from pathlib import Path

from dispatcher.ledger import NOT_CHECKED, RunRecord
from dispatcher.paths import default_ledger_path
from dispatcher.vocabulary import MessageStatus, RowState

__all__ = ["Completeness", "SettleCommands", "completeness", "settle_commands"]

OPEN_IO_STATUSES = (NOT_CHECKED, MessageStatus.ACCEPTED, MessageStatus.THROTTLED)
"""A sent message with one of these may still change: ``status`` decides it."""

_SWITCHES = frozenset({
    "--skip-invalid", "--resend-ambiguous", "--retry-failed", "--allow-resend",
    "--new-campaign", "--dry-run", "--check-profiles", "--yes", "-y", "--json",
    "--require-test", "--quiet", "-q", "--convert-pdfa",
})
"""Flags of ``run`` that take no value (any other flag takes the word after it)."""
_ONE_OFF = frozenset({
    "--resend-ambiguous", "--retry-failed", "--allow-resend", "--new-campaign", "--dry-run",
    "--check-profiles", "--yes", "-y", "--json", "--deadline", "--stop-file", "--grace",
    "--metrics-file", "--operator",
})
"""Choices of one invocation, not of the campaign: never repeated in a suggestion."""
_LEDGER_FLAGS = ("--ledger",)
_PATH_FLAGS = frozenset({"-t", "--template", "--config", "--journal", "--content-store",
                         "--profile-cache-file", "--export-dir"})
"""Flags whose value is a path: made absolute, so a pasted command works from any folder."""
_STATUS_KEEPS = frozenset({"--config"})
"""Of the run's flags, what ``status`` needs too: where IO is (the key comes from the env)."""


@dataclass(frozen=True)
class Completeness:
    """What keeps a campaign from being complete, by the command that settles it."""

    unfinished: int  # pending or in flight: the same run again
    ambiguous: int  # may have reached IO: the office decides, then --resend-ambiguous
    unchecked: int  # sent, IO status unknown or not final: dispatcher status
    unrecorded: bool = False  # the rows' recording was cut short: the same run again
    scheduled: int = 0  # pending on purpose: their send-after time is still ahead
    next_due: float | None = None  # the earliest of those times (Unix time)

    @property
    def open_rows(self) -> int:
        """Rows that still need a decision (or, when scheduled, their time)."""
        return self.unfinished + self.ambiguous + self.unchecked + self.scheduled

    @property
    def complete(self) -> bool:
        return self.open_rows == 0 and not self.unrecorded


def completeness(outcomes: dict[RowState, int], io_statuses: dict[str, int],
                 campaign_completed: bool, *, scheduled: int = 0,
                 next_due: float | None = None) -> Completeness:
    """From the counts a summary holds (so the page, the JSON and the metrics agree).

    ``scheduled`` pending rows wait for their send-after time: not unfinished work for the
    same run again, but not complete either.
    """
    pending = outcomes.get(RowState.PENDING, 0) + outcomes.get(RowState.SENDING, 0)
    unfinished = max(0, pending - scheduled)
    return Completeness(
        unfinished=unfinished,
        ambiguous=outcomes.get(RowState.AMBIGUOUS, 0),
        unchecked=sum(io_statuses.get(s, 0) for s in OPEN_IO_STATUSES),
        unrecorded=not campaign_completed and pending == 0,
        scheduled=min(scheduled, pending),
        next_due=next_due,
    )


@dataclass(frozen=True)
class SettleCommands:
    """Ready-to-paste command lines (``None`` when the campaign's run is not known)."""

    resume: str | None  # the campaign's run again: rows not processed yet
    resend_ambiguous: str | None  # the same with --resend-ambiguous
    status: str  # ask IO about the messages still open
    template_unknown: bool = False  # the run used a template the ledger does not name


def _run_words(runs: tuple[RunRecord, ...]) -> tuple[list[str], Path | None] | None:
    """The latest recorded ``dispatcher run ...`` of the campaign, split into words, and
    the folder it was run from (when the audit trail recorded it)."""
    for run in reversed(runs):
        if not run.command:
            continue
        try:
            words = shlex.split(run.command)
        except ValueError:  # a command line the audit could not quote back: not usable
            continue
        if "run" in words[1:]:  # global options (--log-level...) may come before it
            return words[words.index("run", 1) + 1:], _working_directory(run)
    return None


def _working_directory(run: RunRecord) -> Path | None:
    try:
        found = json.loads(run.settings or "{}").get("working_directory")
    except (ValueError, AttributeError):
        return None
    return Path(found) if isinstance(found, str) and found else None


def _absolute(flags: list[str], folder: Path | None) -> list[str]:
    """Path values of ``flags`` joined to the folder the run was typed in."""
    if folder is None:
        return flags
    out: list[str] = []
    i = 0
    while i < len(flags):
        word = flags[i]
        name, eq, value = word.partition("=")
        if name in _PATH_FLAGS and eq:
            out.append(f"{name}={folder / value}")
        elif name in _PATH_FLAGS and i + 1 < len(flags):
            out += [word, str(folder / flags[i + 1])]
            i += 1
        else:
            out.append(word)
        i += 1
    return out


def _campaign_flags(words: list[str], recorded_input: str) -> tuple[str | None, list[str]]:
    """(the campaign file as typed, the flags to repeat) of a recorded run's arguments.

    The file is the word equal to the recorded input path (the ledger keeps it as typed);
    any other word after a flag that is not a known switch is that flag's value.
    """
    file: str | None = None
    kept: list[str] = []
    i = 0
    while i < len(words):
        word = words[i]
        if not word.startswith("-") or word == "-":
            if file is None:
                file = word
            i += 1
            continue
        name = word.split("=", 1)[0]
        following = words[i + 1] if i + 1 < len(words) else None
        takes_value = ("=" not in word and name not in _SWITCHES and following is not None
                       and following != recorded_input and not following.startswith("--"))
        width = 2 if takes_value else 1
        if name not in _ONE_OFF:
            kept.extend(words[i:i + width])
        i += width
    return file, kept


def _without(flags: list[str], names: tuple[str, ...]) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(flags):
        name = flags[i].split("=", 1)[0]
        if name in names:
            i += 1 if "=" in flags[i] else 2
            continue
        out.append(flags[i])
        i += 1
    return out


def _kept_for_status(flags: list[str]) -> list[str]:
    out: list[str] = []
    for i, word in enumerate(flags):
        name = word.split("=", 1)[0]
        if name in _STATUS_KEEPS:
            out.extend([word] if "=" in word else flags[i:i + 2])
    return out


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


def settle_commands(
    runs: tuple[RunRecord, ...],
    *,
    ledger_path: Path,
    input_path: Path | None,
    recorded_input: str,
    template_recorded: bool,
    campaign_id: int | None = None,
) -> SettleCommands:
    """The commands for a campaign of the ledger at ``ledger_path`` (as the report got it).

    ``input_path`` is the campaign file the report found (by SHA-256), else the recorded
    path is used; ``campaign_id`` is given only when it is not the ledger's latest campaign
    (``status`` then needs ``--campaign``; ``run`` always continues the latest).
    """
    ledger_word = str(Path(ledger_path).absolute())  # pasted from any folder, it works
    recorded = _run_words(runs)
    words, folder = recorded if recorded is not None else (None, None)
    file, flags = _campaign_flags(words, recorded_input) if words is not None else (None, [])
    flags = _absolute(flags, folder)
    target = (str(Path(input_path).absolute()) if input_path is not None
              else str(folder / (file or recorded_input)) if folder is not None
              else (file or recorded_input))
    flags = _without(flags, _LEDGER_FLAGS)
    if not _same_file(default_ledger_path(Path(target)), ledger_path):
        flags = [*flags, "--ledger", ledger_word]
    has_template = any(w.split("=", 1)[0] in ("-t", "--template") for w in flags)
    template_unknown = template_recorded and not has_template
    status = ["dispatcher", "status", ledger_word, *_kept_for_status(flags)]
    if campaign_id is not None:
        status += ["--campaign", str(campaign_id)]
    if campaign_id is not None or template_unknown:
        # a run continues the latest campaign only, and without its template it would refuse
        return SettleCommands(None, None, shlex.join(status), template_unknown)
    run = ["dispatcher", "run", target, *flags]
    return SettleCommands(resume=shlex.join(run),
                          resend_ambiguous=shlex.join([*run, "--resend-ambiguous"]),
                          status=shlex.join(status))
