"""The subscriptions feed, stored and read the way IO does it.

IO writes four kinds of rows per UTC day (io-functions-app ``UpdateSubscriptionsFeedActivity``):
profile subscriptions (``P-S``), profile unsubscriptions (``P-U``), and per service
subscriptions/unsubscriptions (``S-<service>-S``/``-U``). A new event deletes its opposite of
the same day; for a *service* event, finding and deleting the opposite also means the new row
is not written (subscribe + unsubscribe on one day cancel out). The reader
(io-functions-services ``GetSubscriptionsFeed``) then merges profile and service rows for the
calling service. Both halves are reproduced here so a sender's feed logic meets the real rules.
"""

from __future__ import annotations

import hashlib
from datetime import date

from dispatcher.simulator.population import FeedEvent


def fiscal_code_hash(fiscal_code: str) -> str:
    """``lower(hex(sha256(upper(CF))))``, IO's published recipe."""
    return hashlib.sha256(fiscal_code.upper().encode()).hexdigest()


class SubscriptionsFeed:
    """Partitions keyed like IO's table; each holds hashes in insertion order."""

    def __init__(self) -> None:
        self._rows: dict[str, dict[str, None]] = {}

    def record(self, event: FeedEvent, day: date) -> None:
        prefix = (f"P-{day.isoformat()}" if event.service_id is None
                  else f"S-{day.isoformat()}-{event.service_id}")
        insert, opposite = ("S", "U") if event.subscribed else ("U", "S")
        digest = fiscal_code_hash(event.fiscal_code)
        opposite_rows = self._rows.get(f"{prefix}-{opposite}", {})
        if digest in opposite_rows:
            del opposite_rows[digest]
            if event.service_id is not None:
                return
        self._rows.setdefault(f"{prefix}-{insert}", {})[digest] = None

    def read(self, day: date, service_id: str) -> dict[str, object]:
        """The ``SubscriptionsFeed`` body for ``service_id`` on ``day``."""
        d = day.isoformat()
        profile_s = self._rows.get(f"P-{d}-S", {})
        profile_u = self._rows.get(f"P-{d}-U", {})
        service_s = self._rows.get(f"S-{d}-{service_id}-S", {})
        service_u = self._rows.get(f"S-{d}-{service_id}-U", {})
        subscriptions = [h for h in profile_s if h not in service_u]
        subscriptions += [h for h in service_s if h not in profile_s and h not in profile_u]
        unsubscriptions = [h for h in profile_u if h not in service_s]
        unsubscriptions += [h for h in service_u if h not in profile_s and h not in profile_u]
        return {"dateUTC": d, "subscriptions": subscriptions, "unsubscriptions": unsubscriptions}

    def clear(self) -> None:
        self._rows.clear()
