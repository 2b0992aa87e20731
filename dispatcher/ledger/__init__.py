"""The results ledger: one SQLite database (WAL) that remembers every input row.

See :mod:`dispatcher.ledger.store` for why it is shaped this way.
"""

from dispatcher.ledger.lock import RunLock
from dispatcher.ledger.reading import open_for_reading
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
from dispatcher.ledger.statuses import (
    FINAL_STATUSES,
    MessageStatus,
    StatusObservation,
    StatusPlan,
    StatusQuestion,
)
from dispatcher.ledger.store import SCHEMA_VERSION, Ledger
from dispatcher.ledger.testsends import TestSend

__all__ = [
    "FINAL_STATUSES",
    "SCHEMA_VERSION",
    "TERMINAL_STATES",
    "CampaignRecord",
    "InputChanged",
    "Ledger",
    "LedgerError",
    "LedgerLocked",
    "LedgerRow",
    "MessageStatus",
    "NewRow",
    "Outcome",
    "RowState",
    "RunLock",
    "StatusObservation",
    "StatusPlan",
    "StatusQuestion",
    "TestSend",
    "open_for_reading",
]
