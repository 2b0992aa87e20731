"""How an operation says "no": one exception with the message and the exit code.

An operation that cannot start, or must not (a key missing, a ledger locked, a file that is
not a campaign, an input that changed under an unfinished campaign), raises
:class:`OperationRefused`; nothing was sent. Commands catch this one type and print it. The
room-level errors it replaces are translated in one place, :func:`refusals`.

A refusal the operation words itself keeps its English ``text`` with named ``params`` apart, so
the command prints it in the operator's language; and when it advises a command, it says which
(:class:`Suggestion`) instead of spelling it out: only the command line knows the flags the
current invocation needed (``-t``, ``--ledger``, ``--config``...) and must repeat.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from dispatcher.i18n import N_
from dispatcher.vocabulary import ExitCode

if TYPE_CHECKING:
    from dispatcher.campaign import Campaign

__all__ = ["CampaignInvalid", "OperationRefused", "Suggestion", "refusals"]


@dataclass(frozen=True)
class Suggestion:
    """A command the refusal advises: ``dispatcher test FILE --to AAAAAA00A00A000A``.

    ``command`` is the sub-command, ``arguments`` its positional words, ``flags`` the words
    this advice adds; the flags of the current invocation are added by the command line.
    """

    command: str
    arguments: tuple[str | Path, ...] = ()
    flags: tuple[str, ...] = ()

    def plain(self) -> str:
        """The advice without the invocation's flags (when no command line is around)."""
        import shlex

        return shlex.join(["dispatcher", self.command, *map(str, self.arguments),
                           *self.flags])


class OperationRefused(Exception):
    """The operation did not run (or stopped before sending anything); ``message`` says why.

    ``text`` is the English message with ``{name}`` fields filled from ``params`` (and
    ``{command}`` from ``suggestion``); a room's own error text is passed whole as ``message``.
    """

    def __init__(self, message: str | None, exit_code: ExitCode, *, text: str | None = None,
                 params: Mapping[str, object] | None = None,
                 suggestion: Suggestion | None = None) -> None:
        self.text = text if text is not None else "{message}"
        self.params: dict[str, object] = dict(params or {})
        if message is not None:
            self.params.setdefault("message", message)
        self.suggestion = suggestion
        self.message = self.render(lambda english: english,
                                   suggestion.plain() if suggestion else "")
        super().__init__(self.message)
        self.exit_code = exit_code

    def render(self, translate: Callable[[str], str], command: str,
               number: Callable[[int], str] = str) -> str:
        """The message in a language (``translate``, ``number``), with the ``command``."""
        params = {name: number(value) if type(value) is int else value
                  for name, value in self.params.items()}
        return translate(self.text).format(**params, command=command)


NOTHING_SENT = N_("{message}. Nothing was sent")
CAMPAIGN_INVALID = N_("{path}: {count} invalid row(s); nothing was sent. Fix them, or send "
                      "the valid rows only: {command}")


class CampaignInvalid(OperationRefused):
    """Invalid rows and no ``--skip-invalid``: the campaign is attached to show its problems."""

    def __init__(self, campaign: Campaign) -> None:
        super().__init__(
            None, ExitCode.INVALID_INPUT, text=CAMPAIGN_INVALID,
            params={"path": campaign.path, "count": campaign.invalid_count},
            suggestion=Suggestion("run", (campaign.path,), ("--skip-invalid",)),
        )
        self.campaign = campaign


@contextlib.contextmanager
def refusals() -> Iterator[None]:
    """Turn the rooms' "cannot do that" errors into :class:`OperationRefused`."""
    from dispatcher.campaign import CampaignFileError
    from dispatcher.journal import JournalError
    from dispatcher.ledger import LedgerError, LedgerLocked
    from dispatcher.profilecache import ProfileCacheError
    from dispatcher.settings import ConfigError

    try:
        yield
    except LedgerLocked as exc:
        raise OperationRefused(str(exc), ExitCode.LOCKED) from None
    except (LedgerError, CampaignFileError) as exc:
        raise OperationRefused(str(exc), ExitCode.INVALID_INPUT) from None
    except (JournalError, ProfileCacheError) as exc:
        raise OperationRefused(str(exc), ExitCode.CONFIG_ERROR,
                               text=NOTHING_SENT) from None
    except ConfigError as exc:
        raise OperationRefused(str(exc), ExitCode.CONFIG_ERROR) from None
