"""The results ledger: one SQLite database (WAL) that remembers every input row.

See :mod:`dispatcher.ledger.store` for why it is shaped this way. The public face::

    with Ledger.open(path) as ledger:
        campaign_id = ledger.campaigns.start(input_path=..., input_sha256=...,
                                             template_sha256=..., rows=new_rows)
        run_id = ledger.runs.begin(campaign_id, rate="120/5s")
        ledger.rows.mark_sending(campaign_id, run_id, [2, 3])

    with open_for_reading(path) as ledger:   # reports: nothing is written
        ledger.rows.counts(campaign_id)
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
    PendingRow,
    RowEvent,
    RunRecord,
    ScheduledRows,
    TimelineSample,
)
from dispatcher.ledger.schema import SCHEMA_VERSION
from dispatcher.ledger.statuses import (
    NOT_CHECKED,
    LatestStatus,
    StatusCheck,
    StatusObservation,
    StatusPassTotals,
    StatusPlan,
    StatusQuestion,
)
from dispatcher.ledger.store import Ledger
from dispatcher.ledger.testsends import TestSend

__all__ = [
    "NOT_CHECKED",
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
    "PendingRow",
    "RowEvent",
    "RunLock",
    "RunRecord",
    "ScheduledRows",
    "StatusCheck",
    "StatusObservation",
    "StatusPassTotals",
    "StatusPlan",
    "StatusQuestion",
    "TestSend",
    "TimelineSample",
    "open_for_reading",
]
