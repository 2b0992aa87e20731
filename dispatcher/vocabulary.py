"""The words every room shares, defined once: verdicts, states, IO's answers, language, exits.

Every other module imports these names from here (or from a room that re-exports them); no
module defines its own copy. Why one place: a state spelt two ways (an enum in one room, a
string in another) is how a row ends up counted in no column of a report.

* :class:`InputVerdict`: what validation made of an input row (valid, invalid, duplicate).
* :class:`RowState`: where a row of the ledger is; all but ``pending``/``sending`` are terminal.
* :class:`ProfileKind`, :class:`SubmitKind`: what IO answered a profile check or a submit,
  and :data:`PROFILE_OUTCOMES` / :data:`SUBMIT_OUTCOMES`, the one mapping from those answers
  to row states.
* :class:`MessageStatus`: IO's processing status of a stored message; :data:`FINAL_STATUSES`.
* :class:`Language`: the language of human output.
* :class:`ExitCode`: the process exit codes cron wrappers rely on.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum

__all__ = [
    "FINAL_STATUSES",
    "PROFILE_OUTCOMES",
    "SUBMIT_OUTCOMES",
    "TERMINAL_STATES",
    "ExitCode",
    "InputVerdict",
    "Language",
    "MessageStatus",
    "ProfileKind",
    "RowState",
    "SubmitKind",
]


class InputVerdict(StrEnum):
    """What validation made of one input row."""

    VALID = "valid"
    INVALID = "invalid"
    DUPLICATE = "duplicate"  # a later valid row of a fiscal code already in the file


class RowState(StrEnum):
    """Where a ledger row is. All but the first two are terminal: a finished run leaves those."""

    PENDING = "pending"
    SENDING = "sending"
    INVALID = "invalid"
    DUPLICATE = "duplicate"
    NO_PROFILE = "no_profile"
    SENDER_NOT_ALLOWED = "sender_not_allowed"
    SENT = "sent"
    REJECTED = "rejected"
    FAILED = "failed"
    AMBIGUOUS = "ambiguous"
    ALREADY_SENT = "already_sent"  # the service's send journal: sent before, not sent again

    @property
    def is_terminal(self) -> bool:
        return self not in (RowState.PENDING, RowState.SENDING)

    @property
    def is_retryable(self) -> bool:
        """Failed or rejected: IO provably stored nothing, so ``--retry-failed`` may retry."""
        return self in (RowState.FAILED, RowState.REJECTED)

    @property
    def is_problem(self) -> bool:
        """A terminal state that makes a run finish with exit 3."""
        return self in (RowState.FAILED, RowState.REJECTED, RowState.AMBIGUOUS)


TERMINAL_STATES: tuple[RowState, ...] = tuple(s for s in RowState if s.is_terminal)


class ProfileKind(StrEnum):
    """What ``POST /profiles`` said about one citizen."""

    ALLOWED = "allowed"
    NOT_ALLOWED = "not_allowed"  # 200 with sender_allowed=false
    NO_PROFILE = "no_profile"  # 404 ProblemJson: no profile, or its inbox is disabled
    REJECTED = "rejected"  # other permanent 4xx (403 Recipient forbidden, 400, 401)
    FAILED = "failed"  # retries or the run's retry budget exhausted


class SubmitKind(StrEnum):
    """What ``POST /messages`` came to."""

    SENT = "sent"  # 201: accepted and queued
    REJECTED = "rejected"  # permanent 4xx, detail kept
    FAILED = "failed"  # provably not stored; safe to retry in a later run
    AMBIGUOUS = "ambiguous"  # may have reached IO: never resent automatically


PROFILE_OUTCOMES: dict[ProfileKind, RowState] = {
    ProfileKind.NOT_ALLOWED: RowState.SENDER_NOT_ALLOWED,
    ProfileKind.NO_PROFILE: RowState.NO_PROFILE,
    ProfileKind.REJECTED: RowState.REJECTED,
    ProfileKind.FAILED: RowState.FAILED,
}
"""How a profile answer decides a row; an ``allowed`` profile goes on to the submit."""

SUBMIT_OUTCOMES: dict[SubmitKind, RowState] = {
    SubmitKind.SENT: RowState.SENT,
    SubmitKind.REJECTED: RowState.REJECTED,
    SubmitKind.FAILED: RowState.FAILED,
    SubmitKind.AMBIGUOUS: RowState.AMBIGUOUS,
}
"""How a submit answer decides a row (a campaign row or a test send alike)."""


class MessageStatus(StrEnum):
    """IO's processing status (FACTS §3.4); THROTTLED is documented but never written."""

    ACCEPTED = "ACCEPTED"
    THROTTLED = "THROTTLED"
    FAILED = "FAILED"
    PROCESSED = "PROCESSED"
    REJECTED = "REJECTED"


FINAL_STATUSES: frozenset[str] = frozenset(
    {MessageStatus.PROCESSED, MessageStatus.REJECTED, MessageStatus.FAILED}
)
"""IO will not change these; asking again is a wasted request."""


class Language(StrEnum):
    """The language of what a person reads: problems, labels, reports."""

    IT = "it"
    EN = "en"


class ExitCode(IntEnum):
    """Named process exit codes, documented in the README and in ``dispatcher --help``."""

    OK = 0
    """Every row has a terminal outcome; none failed, was rejected or is ambiguous."""
    INTERNAL_ERROR = 1
    """An unexpected fault; the ledger is still consistent and the run resumable."""
    INVALID_INPUT = 2
    """The campaign file (or the command line) is invalid: nothing was sent."""
    INCOMPLETE = 3
    """The run finished but some rows are failed, rejected or ambiguous: look at the report."""
    CONFIG_ERROR = 4
    """Configuration is missing or wrong (API key, base URL, rate, ledger path)."""
    LOCKED = 5
    """Another process holds the ledger's run lock."""
    STOPPED = 75
    """Stopped by a signal, a stop file or the deadline: rerun the same command to resume."""
