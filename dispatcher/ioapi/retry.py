"""When to try a request again, how long to wait, and when the whole run should give up.

Three layers, because they answer different questions:

* :func:`retry_decision` — may *this* error be retried at all? A pure table: a submit that may
  have reached IO is never resent (IO has no idempotency key); reads may always be retried.
* :class:`RetryPolicy` — how often and how long, per call (stamina's names: ``attempts``,
  ``wait_initial``, ``wait_max``, ``wait_jitter``, ``wait_exp_base``). Waits use full jitter
  (AWS, "Exponential Backoff And Jitter"). A 429 is not counted against ``attempts``: the server
  is telling us when to come back, and the Pacer's gate waits for it; ``max_throttled`` caps it.
* :class:`RetryBudget` and :class:`ErrorRateBreaker` — per run. Retries may add at most 10 % to
  the first attempts (plus a floor), as in Google SRE's client retry budget; beyond it a
  retry-safe failure becomes a ``failed`` answer (safe to retry in a later run), not an
  exception. When most recent answers are errors, the breaker raises ``ErrorRateExceeded`` so
  the pipeline stops the run resumably instead of spending the budget on an outage.
"""

from __future__ import annotations

import random
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from dispatcher.ioapi.outcomes import (
    ErrorRateExceeded,
    IOApiError,
    MaybeSent,
    NotSent,
    ServerError,
    Throttled,
)

__all__ = [
    "Decision",
    "ErrorRateBreaker",
    "RetryBudget",
    "RetryPolicy",
    "retry_decision",
]


class Decision(StrEnum):
    RETRY = "retry"  # after a jittered backoff, if attempts and the run's budget allow
    RETRY_WHEN_OPEN = "retry_when_open"  # 429: after the Pacer's gate reopens
    GIVE_UP = "give_up"  # the error is the answer


def retry_decision(exc: IOApiError, *, idempotent: bool) -> Decision:
    """Whether ``exc`` may be retried; ``idempotent`` is False only for a submit."""
    if isinstance(exc, Throttled):
        return Decision.RETRY_WHEN_OPEN
    if isinstance(exc, NotSent | ServerError):
        return Decision.RETRY
    if isinstance(exc, MaybeSent):
        return Decision.RETRY if idempotent else Decision.GIVE_UP
    return Decision.GIVE_UP


@dataclass(frozen=True)
class RetryPolicy:
    """Per-call retry settings; the defaults wait about 7.5 s in all over four retries.

    ``wait_jitter`` is the share of each backoff that is random: 1.0 (the default) is full
    jitter, ``uniform(0, cap)``; 0.0 waits exactly ``cap`` (useful in tests).
    """

    attempts: int = 5  # per call, the first one included; 429s not counted
    wait_initial: float = 1.0
    wait_max: float = 20.0
    wait_jitter: float = 1.0
    wait_exp_base: float = 2.0
    max_throttled: int = 20  # 429 answers one call accepts before it ends as failed
    uniform: Callable[[float, float], float] = field(
        default=random.uniform, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.max_throttled < 0:
            raise ValueError("attempts must be at least 1 and max_throttled not negative")
        if not 0.0 <= self.wait_jitter <= 1.0:
            raise ValueError("wait_jitter is a share between 0 and 1")

    def backoff(self, retry_num: int) -> float:
        """Seconds to wait before retry number ``retry_num`` (1 for the first retry)."""
        cap = min(self.wait_max, self.wait_initial * self.wait_exp_base ** (retry_num - 1))
        return cap - self.uniform(0.0, cap * self.wait_jitter)


class RetryBudget:
    """Retries of one run may be at most ``ratio`` × first attempts + ``floor``.

    The floor lets the first minutes of a run survive a blip that hits every in-flight call
    (two stages × 16 workers by default).
    """

    def __init__(self, *, ratio: float = 0.1, floor: int = 20) -> None:
        self.ratio = ratio
        self.floor = floor
        self.first_attempts = 0
        self.retries = 0

    @property
    def left(self) -> int:
        return max(0, self.floor + int(self.ratio * self.first_attempts) - self.retries)

    def note_first_attempt(self) -> None:
        self.first_attempts += 1

    def try_spend(self) -> bool:
        """Take one retry from the budget; False when it is used up."""
        if self.left <= 0:
            return False
        self.retries += 1
        return True


class ErrorRateBreaker:
    """A sliding window of the last ``window`` attempt outcomes (429s are not counted).

    It opens when more than ``threshold`` of at least ``min_samples`` outcomes were transport
    or 5xx errors, and stays open: the run is to stop, not to probe an outage.
    """

    def __init__(self, *, window: int = 200, threshold: float = 0.5, min_samples: int = 50) -> None:
        self.window = window
        self.threshold = threshold
        self.min_samples = min(min_samples, window)
        self._outcomes: deque[str | None] = deque(maxlen=window)  # error kind, None = fine
        self._tripped: ErrorRateExceeded | None = None

    @property
    def error_rate(self) -> float:
        if not self._outcomes:
            return 0.0
        return sum(kind is not None for kind in self._outcomes) / len(self._outcomes)

    def record(self, error: IOApiError | None) -> None:
        """Record one attempt's outcome: None or a non-error for a usable answer."""
        if isinstance(error, Throttled):
            return
        is_error = isinstance(error, NotSent | MaybeSent | ServerError)
        kind = type(error).__name__ if is_error else None
        self._outcomes.append(kind)
        if self._tripped is None and len(self._outcomes) >= self.min_samples:
            errors = [k for k in self._outcomes if k is not None]
            if len(errors) > self.threshold * len(self._outcomes):
                commonest = Counter(errors).most_common(1)[0][0]
                self._tripped = ErrorRateExceeded(
                    len(errors), len(self._outcomes), self.threshold, commonest
                )

    @property
    def is_open(self) -> bool:
        return self._tripped is not None

    def check(self) -> None:
        """Raise ``ErrorRateExceeded`` once the breaker has opened."""
        if self._tripped is not None:
            raise ErrorRateExceeded(
                self._tripped.errors,
                self._tripped.samples,
                self._tripped.threshold,
                self._tripped.commonest,
            )
