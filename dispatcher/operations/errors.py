"""How an operation says "no": one exception with the message and the exit code.

An operation that cannot start, or must not (a key missing, a ledger locked, a file that is
not a campaign, an input that changed under an unfinished campaign), raises
:class:`OperationRefused`; nothing was sent. Commands catch this one type and print it. The
room-level errors it replaces are translated in one place, :func:`refusals`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

from dispatcher.vocabulary import ExitCode

if TYPE_CHECKING:
    from dispatcher.campaign import Campaign

__all__ = ["CampaignInvalid", "OperationRefused", "refusals"]


class OperationRefused(Exception):
    """The operation did not run (or stopped before sending anything); ``message`` says why."""

    def __init__(self, message: str, exit_code: ExitCode) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


class CampaignInvalid(OperationRefused):
    """Invalid rows and no ``--skip-invalid``: the campaign is attached to show its problems."""

    def __init__(self, campaign: Campaign) -> None:
        super().__init__(
            f"{campaign.path}: {campaign.invalid_count} invalid row(s); nothing was sent. Fix "
            "them, or pass --skip-invalid to send the valid rows only",
            ExitCode.INVALID_INPUT,
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
    except JournalError as exc:
        raise OperationRefused(f"{exc}. Nothing was sent", ExitCode.CONFIG_ERROR) from None
    except ProfileCacheError as exc:
        raise OperationRefused(f"{exc}. Nothing was sent", ExitCode.CONFIG_ERROR) from None
    except ConfigError as exc:
        raise OperationRefused(str(exc), ExitCode.CONFIG_ERROR) from None
