"""Named process exit codes, in one place, so cron wrappers can rely on them.

They are documented in the README and in ``dispatcher --help``.
"""

from enum import IntEnum


class ExitCode(IntEnum):
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
