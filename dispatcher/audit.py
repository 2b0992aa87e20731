"""Who ran a campaign, from where, with what: the audit trail kept with every run.

Months later an office is asked "who sent this, and how?". The ledger keeps, per run: the
operator (``--operator``, else ``DISPATCHER_OPERATOR``, else the OS user), the host, the tool's
version, the command line with every secret removed and fiscal codes masked, and the
effective settings (base URL, rate, concurrency, timeouts, journal, where the key came from;
never the key). The input and template SHA-256 are the campaign's, kept with it.
"""

from __future__ import annotations

import getpass
import os
import shlex
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

import orjson

from dispatcher import __version__
from dispatcher.logs import scrub_text
from dispatcher.privacy import mask_fiscal_codes_in
from dispatcher.settings import Settings

__all__ = ["RunAudit", "run_audit"]


@dataclass(frozen=True)
class RunAudit:
    """One run's who, where and how; ``settings`` is a JSON object in text."""

    operator: str
    host: str
    version: str
    command: str
    settings: str


def run_audit(settings: Settings, operator: str | None = None,
              argv: list[str] | None = None) -> RunAudit:
    """The audit record of the run about to start in this process."""
    words = sys.argv[1:] if argv is None else argv
    return RunAudit(
        # a name, not a fiscal code: one typed in by habit is masked like any other
        operator=mask_fiscal_codes_in(
            operator or os.environ.get("DISPATCHER_OPERATOR") or _os_user()),
        host=socket.gethostname(),
        version=__version__,
        command=scrub_text(shlex.join(["dispatcher", *words])),
        settings=orjson.dumps(_effective(settings)).decode(),
    )


def _os_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (a container): the uid says who
        return f"uid {os.getuid()}"


def _working_directory() -> str | None:
    try:
        return str(Path.cwd())
    except OSError:  # the folder was removed under the process
        return None


def _effective(settings: Settings) -> dict[str, object]:
    return {
        "working_directory": _working_directory(),  # what the command's relative paths mean
        "base_url": settings.base_url,
        "rate": str(settings.rate),
        "concurrency": settings.concurrency,
        "connect_timeout_s": settings.connect_timeout,
        "read_timeout_s": settings.read_timeout,
        "journal": str(settings.journal) if settings.journal else None,
        "content_store": str(settings.content_store) if settings.content_store else None,
        "send_window": str(settings.send_window) if settings.send_window else None,
        "api_key_from": settings.api_key.source if settings.api_key else None,
    }
