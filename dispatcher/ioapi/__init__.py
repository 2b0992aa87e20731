"""The IO client room: the only place that talks HTTP to IO.

Other rooms import from here only. ``Client`` makes the typed calls; answers are frozen values
whose ``kind`` says what happened; the exceptions form one tree rooted at ``IOApiError`` (see
:mod:`dispatcher.ioapi.outcomes`), of which callers normally meet only ``ErrorRateExceeded``.
"""

from dispatcher.ioapi.client import DEFAULT_USER_AGENT, Client, ClientStatistics, WireState
from dispatcher.ioapi.models import (
    Answer,
    FeedAnswer,
    FeedKind,
    MessageAnswer,
    MessageKind,
    ProfileAnswer,
    SubmitAnswer,
)
from dispatcher.ioapi.outcomes import (
    ErrorRateExceeded,
    IOApiError,
    MaybeSent,
    NotSent,
    OutcomeClass,
    Refused,
    Rejected,
    RunHalted,
    ServerError,
    Throttled,
    classify_response,
    map_transport_errors,
)
from dispatcher.ioapi.retry import (
    Decision,
    ErrorRateBreaker,
    RetryBudget,
    RetryPolicy,
    retry_decision,
)

__all__ = [
    "DEFAULT_USER_AGENT",
    "Answer",
    "Client",
    "ClientStatistics",
    "Decision",
    "ErrorRateBreaker",
    "ErrorRateExceeded",
    "FeedAnswer",
    "FeedKind",
    "IOApiError",
    "MaybeSent",
    "MessageAnswer",
    "MessageKind",
    "NotSent",
    "OutcomeClass",
    "ProfileAnswer",
    "Refused",
    "Rejected",
    "RetryBudget",
    "RetryPolicy",
    "RunHalted",
    "ServerError",
    "SubmitAnswer",
    "Throttled",
    "WireState",
    "classify_response",
    "map_transport_errors",
    "retry_decision",
]
