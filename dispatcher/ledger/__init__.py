"""The results ledger: one SQLite database (WAL) that remembers every input row.

See :mod:`dispatcher.ledger.store` for why it is shaped this way.
"""

from dispatcher.ledger.lock import RunLock
from dispatcher.ledger.reading import open_for_reading
from dispatcher.ledger.records import (
    CampaignRecord,
    InputChanged,
    LedgerError,
    LedgerLocked,
    LedgerRow,
    NewRow,
    Outcome,
)
from dispatcher.ledger.statuses import (
    LatestStatus,
    StatusObservation,
    StatusPlan,
    StatusQuestion,
)
from dispatcher.ledger.store import SCHEMA_VERSION, Ledger
from dispatcher.ledger.testsends import TestSend

__all__ = [
    "SCHEMA_VERSION",
    "CampaignRecord",
    "InputChanged",
    "LatestStatus",
    "Ledger",
    "LedgerError",
    "LedgerLocked",
    "LedgerRow",
    "NewRow",
    "Outcome",
    "RunLock",
    "StatusObservation",
    "StatusPlan",
    "StatusQuestion",
    "TestSend",
    "open_for_reading",
]
