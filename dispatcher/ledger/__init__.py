"""The results ledger: one SQLite database (WAL) that remembers every input row.

See :mod:`dispatcher.ledger.store` for why it is shaped this way.
"""

from dispatcher.ledger.lock import RunLock
from dispatcher.ledger.records import (
    TERMINAL_STATES,
    CampaignRecord,
    InputChanged,
    LedgerError,
    LedgerLocked,
    LedgerRow,
    NewRow,
    Outcome,
    RowState,
)
from dispatcher.ledger.store import SCHEMA_VERSION, Ledger

__all__ = [
    "SCHEMA_VERSION",
    "TERMINAL_STATES",
    "CampaignRecord",
    "InputChanged",
    "Ledger",
    "LedgerError",
    "LedgerLocked",
    "LedgerRow",
    "NewRow",
    "Outcome",
    "RowState",
    "RunLock",
]
