"""The APIM gateway in front of IO: who is calling (401) and whether they may, now (429).

IO's product policy is ``rate-limit-by-key calls=150 renewal-period=5`` keyed on the APIM
*user* (FACTS.md §6), which in practice is the ente: every key and service of one ente spends
one budget, across profile checks, sends and status reads alike.

Modelling choices, each a reading of Azure's documented behaviour:

* The subscription is resolved first, so an unknown key gets 401 and costs nothing: there is
  no user to charge.
* Every request that passes the window counts, whatever the backend answers later (400, 403,
  404, 500, even a dropped connection): the policy runs before the backend is called.
* A request refused with 429 is *not* counted (our choice; Azure does not say). Counting it
  would keep a client that retries too early locked out for ever, which would make the
  simulator harsher than any behaviour a sender could plan for.
* ``x-rate-limit-retry-after`` is the whole number of seconds until the oldest counted request
  leaves the window (rounded up, at least 1): after that wait one request will pass.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from dispatcher.simulator.config import KeyConfig, RatePolicy


@dataclass(frozen=True, slots=True)
class Admission:
    """The window's verdict: admitted with ``remaining`` calls left, or told to wait."""

    admitted: bool
    remaining: int | None = None
    """Calls left in the window after this one; None when the ente has no limit."""
    retry_after_s: int = 0


UNLIMITED = Admission(admitted=True)


class SlidingWindow:
    """At most ``limit`` admitted requests in any ``period_s`` interval."""

    __slots__ = ("_hits", "limit", "period_s")

    def __init__(self, policy: RatePolicy) -> None:
        self.limit = policy.limit
        self.period_s = policy.period_s
        self._hits: deque[float] = deque()

    def admit(self, now: float) -> Admission:
        hits = self._hits
        self._expire(now)
        if len(hits) >= self.limit:
            wait = math.ceil(hits[0] + self.period_s - now - 1e-9)
            return Admission(admitted=False, retry_after_s=max(1, wait))
        hits.append(now)
        return Admission(admitted=True, remaining=self.limit - len(hits))

    def used(self, now: float) -> int:
        self._expire(now)
        return len(self._hits)

    def _expire(self, now: float) -> None:
        hits, horizon = self._hits, now - self.period_s
        while hits and hits[0] <= horizon:
            hits.popleft()


class Gateway:
    """Key lookup and one sliding window per ente."""

    def __init__(self, keys: Iterable[KeyConfig], default: RatePolicy,
                 overrides: dict[str, RatePolicy]) -> None:
        self._keys = {k.key: k for k in keys}
        self._default = default
        self._overrides = dict(overrides)
        self._windows: dict[str, SlidingWindow] = {}

    def resolve(self, key: str | None) -> KeyConfig | None:
        return self._keys.get(key) if key else None

    def admit(self, ente: str, now: float) -> Admission:
        window = self._windows.get(ente)
        if window is None:
            policy = self._overrides.get(ente, self._default)
            if policy.unlimited:
                return UNLIMITED
            window = self._windows[ente] = SlidingWindow(policy)
        return window.admit(now)

    def reconfigure(self, keys: Iterable[KeyConfig], default: RatePolicy,
                    overrides: dict[str, RatePolicy]) -> None:
        """New keys and policies; a window keeps its history only if its policy is unchanged.

        Keeping the history across an unrelated change (say, a fault share) means a test
        cannot dodge the window by poking the config; a new policy starts a fresh window.
        """
        self._keys = {k.key: k for k in keys}
        self._default, self._overrides = default, dict(overrides)
        for ente, window in list(self._windows.items()):
            policy = self._overrides.get(ente, default)
            if (policy.limit, policy.period_s) != (window.limit, window.period_s):
                del self._windows[ente]

    def clear(self) -> None:
        self._windows.clear()

    def usage(self, now: float) -> dict[str, dict[str, float | int]]:
        """Per ente with a window: requests counted now, and the policy."""
        return {
            ente: {"used": w.used(now), "limit": w.limit, "period_s": w.period_s}
            for ente, w in sorted(self._windows.items())
        }
